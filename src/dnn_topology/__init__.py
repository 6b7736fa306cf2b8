"""dnn-topology: the topology of deep-network activations as a reproducible workflow.

One module per stage of the workflow:

* :mod:`dnn_topology.datasets`         -- datasets (offline ``mnist5k`` default, torchvision loaders)
* :mod:`dnn_topology.models`           -- networks and the layers that feed the functional graph
* :mod:`dnn_topology.training`         -- resumable, deterministic training with per-epoch checkpoints
* :mod:`dnn_topology.activations`      -- node activations of a checkpoint on a fixed sample set
* :mod:`dnn_topology.functional_graph` -- |Pearson correlation| graph and its distance matrix
* :mod:`dnn_topology.dipha_io`         -- DIPHA file formats (read/write)
* :mod:`dnn_topology.persistence`      -- Vietoris-Rips persistence with DIPHA's conventions
* :mod:`dnn_topology.betti_curves`     -- Betti curves and their summaries
* :mod:`dnn_topology.aggregate`        -- per-run tables
* :mod:`dnn_topology.plots`            -- figures
"""

__version__ = "0.1.0"
