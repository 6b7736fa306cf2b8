"""dnn-topology: the topology of deep-network activations as a reproducible workflow.

The public API (``from dnn_topology import ...``):

* DIPHA files -- :func:`read_distance_matrix`, :func:`write_distance_matrix`,
  :func:`read_sparse_distance_matrix`, :func:`write_sparse_distance_matrix`, :func:`full_to_sparse`,
  :func:`read_persistence_diagram`, :func:`write_persistence_diagram`, :class:`Diagram`,
  :class:`SparseDistanceMatrix`, :class:`DiphaFormatError`;
* a persistence diagram -- :func:`compute_persistence` (an array or a sparse matrix),
  :func:`compute_persistence_file` (a DIPHA file, as ``dipha --upper_dim D IN OUT``);
* Betti curves and their summaries -- :func:`epsilon_grid`, :func:`betti_curves`, :func:`summarize`
  (:class:`UnitsError` when filtration values are given where distances are expected, or the reverse);
* the functional graph -- :func:`abs_correlation`, :func:`distance_matrix`, :func:`edge_density`;
* other libraries' layouts of a diagram -- :func:`to_ripser` (ripser.py, persim), :func:`to_gudhi`,
  :func:`to_giotto_tda`;
* any network in a notebook -- :func:`network_topology` (a model and samples to its diagram and Betti curves,
  the same code as the workflow's rules).

From activations to Betti curves (see :func:`betti_curves` for the output):

>>> import numpy as np
>>> import dnn_topology as dt
>>> rng = np.random.default_rng(0)
>>> activations = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 30)) + rng.normal(size=(200, 30))
>>> graph = dt.full_to_sparse(dt.distance_matrix(activations), 0.3)  # 1 - |corr| <= 0.6
>>> diagram = dt.compute_persistence(graph, upper_dim=2)            # H0..H1, epsilon = distance / 2
>>> curves = dt.betti_curves(diagram, graph)                         # dim, epsilon, corr_threshold, density_pct, betti
>>> int(curves[curves["dim"] == 1]["betti"].max()), len(dt.to_ripser(diagram))
(2, 2)

Units: distances are 1 - |corr|; diagrams are in DIPHA's filtration units epsilon = distance / 2.
``import dnn_topology`` imports numpy only (not torch, pandas or scipy: the persistence functions
are loaded on first use, pandas when a table is built), so every workflow job starts light.

Subpackages by subject, each a layer that imports only from the layers below it (checked by
import-linter, ``make lint``):

* :mod:`dnn_topology.topology` -- the functional graph, DIPHA files, persistence, Betti curves, diagram features
* :mod:`dnn_topology.networks` -- datasets, models, checkpoints, training, node selection, activations
* :mod:`dnn_topology.plots`    -- figures of a run and of a comparison, and the house style
* :mod:`dnn_topology.studies`  -- per-run tables, the papers' claims, adversarial inputs, test error without a test set
* :mod:`dnn_topology.workflow` -- what Snakemake needs while it parses: configuration checks, resource requests
* :mod:`dnn_topology.cli`      -- the ``dnn-topology`` command
* :mod:`dnn_topology.layout`   -- where every result is written (results paths, built and parsed)
* :mod:`dnn_topology.io_utils` -- atomic writes and logging, below everything

Each workflow stage is one keyword-only function, ``<stage>_stage(...)``, that reads its input
files and writes its outputs; rule ``<stage>`` calls it from ``scripts/<stage>.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .topology.betti import UnitsError, betti_curves, epsilon_grid, summarize
from .topology.dipha_files import (
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
from .topology.graph import abs_correlation, distance_matrix, edge_density
from .topology.interop import to_giotto_tda, to_gudhi, to_ripser

if TYPE_CHECKING:
    from .networks.network_topology import network_topology
    from .topology.persistence import compute_persistence, compute_persistence_file

# the one place the version is written: pyproject.toml reads it from here (setuptools' dynamic version), and
# CITATION.cff and CHANGELOG.md repeat it (tests/test_version.py)
__version__ = "0.1.0"

# loaded on first use: persistence imports scipy, and network_topology torch, which the workflow's start-up and most
# jobs never need
_LAZY = {
    "compute_persistence": "topology.persistence",
    "compute_persistence_file": "topology.persistence",
    "network_topology": "networks.network_topology",
}

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
    "network_topology",
    "read_distance_matrix",
    "read_persistence_diagram",
    "read_sparse_distance_matrix",
    "summarize",
    "to_giotto_tda",
    "to_gudhi",
    "to_ripser",
    "UnitsError",
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
