"""The per-epoch topology stages start light: no torch, and no pandas or scikit-learn unless they use them.

Each stage runs in a fresh Python process on real files, as the workflow's job does, and reports
which heavy packages it imported.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

HEAVY = ("torch", "torchvision", "pandas", "sklearn", "matplotlib", "snakemake")

STAGES = {
    "functional_graph": (
        "from dnn_topology.dipha_io import write_distance_matrix\n"
        "from dnn_topology.functional_graph import distance_matrix, load_activations\n"
        "write_distance_matrix('distance.bin', distance_matrix(load_activations('activations.npy')))"
    ),
    "sparse_distance": (
        "from dnn_topology.dipha_io import full_to_sparse, read_distance_matrix, write_sparse_distance_matrix\n"
        "write_sparse_distance_matrix('distance_sparse.bin', full_to_sparse(read_distance_matrix('distance.bin'), 0.3))"
    ),
    "persistence": (
        "from dnn_topology.persistence import compute_persistence_file\n"
        "print(compute_persistence_file('distance_sparse.bin', 'diagram.bin', 3).summary())"
    ),
    "betti_curves": (
        "from dnn_topology.betti_curves import curves_from_files\n"
        "curves_from_files('diagram.bin', 'distance_sparse.bin', 2, 0.3, 31, 'curves.csv', 'summary.csv')"
    ),
}
# what each stage may import: betti_curves writes its tables with pandas
ALLOWED = {"betti_curves": {"pandas"}}


def test_per_epoch_stages_import_only_what_they_use(tmp_path):
    rng = np.random.default_rng(0)
    factors = rng.standard_normal((200, 5))
    acts = factors[:, rng.integers(0, 5, 120)] + 0.8 * rng.standard_normal((200, 120))
    np.save(tmp_path / "activations.npy", acts.astype(np.float32))
    for stage, code in STAGES.items():
        probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
        out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 0, f"{stage}: {out.stderr}"
        imported = set(json.loads(out.stdout.strip().splitlines()[-1]))
        assert imported <= ALLOWED.get(stage, set()), f"{stage} imported {sorted(imported)}"
    assert (tmp_path / "summary.csv").stat().st_size > 0
