"""Topology of a functional graph: the graph, DIPHA's files, persistence and Betti curves.

The lowest layer of the package: it knows nothing of networks, training or studies, and works on
arrays and DIPHA files alone.

* :mod:`~dnn_topology.topology.graph`       -- |Pearson correlation| graph and its (sparse) distance matrix
* :mod:`~dnn_topology.topology.dipha_files` -- DIPHA file formats (read/write, ``full_to_sparse``)
* :mod:`~dnn_topology.topology.persistence` -- Vietoris-Rips persistence with DIPHA's conventions, and DIPHA itself
* :mod:`~dnn_topology.topology.betti`       -- Betti curves and their summaries
* :mod:`~dnn_topology.topology.features`    -- features of a diagram (life, midlife, births, deaths, entropy)
* :mod:`~dnn_topology.topology.interop`     -- a diagram in ripser.py/persim's, GUDHI's and giotto-tda's layouts

Units: distances are 1 - |corr|; diagrams are in DIPHA's filtration units epsilon = distance / 2.
"""

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "abs_correlation": "graph",
        "distance_matrix": "graph",
        "edge_density": "graph",
        "min_samples": "graph",
        "Diagram": "dipha_files",
        "DiphaFormatError": "dipha_files",
        "SparseDistanceMatrix": "dipha_files",
        "full_to_sparse": "dipha_files",
        "read_distance_matrix": "dipha_files",
        "read_persistence_diagram": "dipha_files",
        "read_sparse_distance_matrix": "dipha_files",
        "write_distance_matrix": "dipha_files",
        "write_persistence_diagram": "dipha_files",
        "write_sparse_distance_matrix": "dipha_files",
        "compute_persistence": "persistence",
        "compute_persistence_file": "persistence",
        "betti_curves": "betti",
        "epsilon_grid": "betti",
        "summarize": "betti",
        "UnitsError": "betti",
        "to_ripser": "interop",
        "to_gudhi": "interop",
        "to_giotto_tda": "interop",
        "life_midlife": "features",
        "diagram_features": "features",
        "diagram_file_features": "features",
        "pair_statistics": "features",
        "persistent_entropy": "features",
    },
)
