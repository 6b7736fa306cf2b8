"""Networks and what they compute: datasets, models, checkpoints, training, node selection, activations.

* :mod:`~dnn_topology.networks.datasets`    -- datasets (offline ``mnist5k`` default, torchvision loaders, ImageFolders)
* :mod:`~dnn_topology.networks.labels`      -- memorization controls (training subsets, permuted and binarized labels)
* :mod:`~dnn_topology.networks.refs`        -- references to networks and data (built-in, torchvision:, <module>:<callable>)
* :mod:`~dnn_topology.networks.models`      -- the built-in networks and the layers that feed the functional graph
* :mod:`~dnn_topology.networks.architectures` -- any network built from its reference (built-in, torchvision, a user's)
* :mod:`~dnn_topology.networks.recording`   -- recording the selected nodes of named layers (hooks, torch.fx), layer lists
* :mod:`~dnn_topology.networks.checkpoints` -- reading and writing checkpoints (``weights_only``), device choice
* :mod:`~dnn_topology.networks.training`    -- resumable, deterministic training with per-epoch checkpoints
* :mod:`~dnn_topology.networks.nodes`       -- which nodes of a network become graph vertices
* :mod:`~dnn_topology.networks.samples`     -- the fixed sample set shown to a network, as one value (parse-time)
* :mod:`~dnn_topology.networks.activations` -- node activations of a checkpoint on a fixed sample set
* :mod:`~dnn_topology.networks.evaluation`  -- train/test loss and accuracy of checkpoints trained elsewhere
* :mod:`~dnn_topology.networks.network_topology` -- a model and samples to its diagram and Betti curves (notebooks)
* :mod:`~dnn_topology.networks.original`    -- the original code's checkpoints and DIPHA files in our layout

Above :mod:`dnn_topology.topology`, below the studies.
"""

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "DatasetSpec": "datasets",
        "get_spec": "datasets",
        "dataset_registry": "datasets",
        "NetworkRef": "refs",
        "build": "architectures",
        "candidate_layers": "recording",
        "network_topology": "network_topology",
        "NETWORKS": "models",
        "build_network": "models",
        "feature_shapes": "models",
        "read_checkpoint": "checkpoints",
        "load_checkpoint": "checkpoints",
        "save_checkpoint": "checkpoints",
        "TrainConfig": "training",
        "train": "training",
        "select_nodes": "nodes",
        "SampleSet": "samples",
        "run_sample_set": "samples",
        "compute_activations": "activations",
        "import_original": "original",
    },
)
