"""dnn-topology: the topology of deep-network activations as a reproducible workflow.

The public API (``from dnn_topology import ...``):

* DIPHA files -- :func:`read_distance_matrix`, :func:`write_distance_matrix`,
  :func:`read_sparse_distance_matrix`, :func:`write_sparse_distance_matrix`, :func:`full_to_sparse`,
  :func:`read_persistence_diagram`, :func:`write_persistence_diagram`, :class:`Diagram`,
  :class:`SparseDistanceMatrix`, :class:`DiphaFormatError`;
* a persistence diagram -- :func:`compute_persistence` (an array or a sparse matrix),
  :func:`compute_persistence_file` (a DIPHA file, as ``dipha --upper_dim D IN OUT``);
* Betti curves and their summaries -- :func:`epsilon_grid`, :func:`betti_curves`, :func:`summarize`;
* the functional graph -- :func:`abs_correlation`, :func:`distance_matrix`, :func:`edge_density`.

Units: distances are 1 - |corr|; diagrams are in DIPHA's filtration units epsilon = distance / 2.
``import dnn_topology`` imports numpy only (not torch, pandas or scipy: the persistence functions
are loaded on first use, pandas when a table is built), so every workflow job starts light.

One module per subject:

* :mod:`dnn_topology.datasets`         -- datasets (offline ``mnist5k`` default, torchvision loaders, ImageFolders)
* :mod:`dnn_topology.memorization`     -- memorization controls (training subsets, permuted and binarized labels)
* :mod:`dnn_topology.models`           -- networks and the layers that feed the functional graph
* :mod:`dnn_topology.checkpoints`      -- reading and writing checkpoints, device choice
* :mod:`dnn_topology.training`         -- resumable, deterministic training with per-epoch checkpoints
* :mod:`dnn_topology.node_selection`   -- which nodes of a network become graph vertices
* :mod:`dnn_topology.activations`      -- node activations of a checkpoint on a fixed sample set
* :mod:`dnn_topology.functional_graph` -- |Pearson correlation| graph and its (sparse) distance matrix
* :mod:`dnn_topology.dipha_io`         -- DIPHA file formats (read/write)
* :mod:`dnn_topology.persistence`      -- Vietoris-Rips persistence with DIPHA's conventions
* :mod:`dnn_topology.betti_curves`     -- Betti curves and their summaries
* :mod:`dnn_topology.aggregate`        -- per-run tables
* :mod:`dnn_topology.plots`            -- figures
* :mod:`dnn_topology.claims`           -- the paper's claims checked on a run or a comparison
* :mod:`dnn_topology.attack_config`    -- adversarial attacks as the config names them
* :mod:`dnn_topology.attacks`          -- FGSM/PGD attacks against a checkpoint
* :mod:`dnn_topology.detection`        -- the batch-level adversarial detector
* :mod:`dnn_topology.adversarial_plots` -- figures of the adversarial study
* :mod:`dnn_topology.diagram_features` -- life and midlife features of a diagram
* :mod:`dnn_topology.generalization`   -- test accuracy without a test set (CVPR 2020), and its figures
  (:mod:`dnn_topology.generalization_plots`)
* :mod:`dnn_topology.estimate`         -- one network's test accuracy from a fitted generalization model
* :mod:`dnn_topology.original_import`  -- the original code's results in our layout
* :mod:`dnn_topology.attack_config`    -- attack ids and the adversarial config section
* :mod:`dnn_topology.attacks`          -- FGSM/PGD attacks in pixel units and the attack record
* :mod:`dnn_topology.detection`        -- batch-level detection of adversarial inputs and its cross-validation
* :mod:`dnn_topology.adversarial_plots` -- figures of the adversarial study
* :mod:`dnn_topology.workflow_config`  -- configuration checks and the per-run option table
* :mod:`dnn_topology.resources`        -- resource requests of the workflow's jobs
* :mod:`dnn_topology.cli`              -- the ``dnn-topology`` command

Each workflow stage is one keyword-only function, ``<stage>_stage(...)``, that reads its input
files and writes its outputs; rule ``<stage>`` calls it from ``scripts/<stage>.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .betti_curves import betti_curves, epsilon_grid, summarize
from .dipha_io import (
    Diagram,
    DiphaFormatError,
    SparseDistanceMatrix,
    full_to_sparse,
    read_distance_matrix,
    read_persistence_diagram,
    read_sparse_distance_matrix,
    write_distance_matrix,
    write_persistence_diagram,
    write_sparse_distance_matrix,
)
from .functional_graph import abs_correlation, distance_matrix, edge_density

if TYPE_CHECKING:
    from .persistence import compute_persistence, compute_persistence_file

__version__ = "0.1.0"

# loaded on first use: persistence imports scipy, which the workflow's start-up and most jobs never need
_LAZY = {"compute_persistence": "persistence", "compute_persistence_file": "persistence"}

__all__ = [
    "Diagram",
    "DiphaFormatError",
    "SparseDistanceMatrix",
    "abs_correlation",
    "betti_curves",
    "compute_persistence",
    "compute_persistence_file",
    "distance_matrix",
    "edge_density",
    "epsilon_grid",
    "full_to_sparse",
    "read_distance_matrix",
    "read_persistence_diagram",
    "read_sparse_distance_matrix",
    "summarize",
    "write_distance_matrix",
    "write_persistence_diagram",
    "write_sparse_distance_matrix",
]


def __getattr__(name: str) -> Any:
    """Load :data:`_LAZY` names from their module on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
