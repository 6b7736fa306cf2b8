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

STAGES = {  # each stage's entry point, as its rule's script calls it
    "functional_graph": (
        "from dnn_topology.topology.graph import functional_graph_stage\n"
        "functional_graph_stage(activations='activations.npy', sparse='cut.bin', max_epsilon=0.3, distance='distance.bin')"
    ),
    "sparse_distance": (
        "from dnn_topology.topology.graph import sparse_distance_stage\n"
        "sparse_distance_stage(distance='distance.bin', sparse='distance_sparse.bin', max_epsilon=0.3)"
    ),
    "persistence": (
        "from dnn_topology.topology.persistence import persistence_stage\n"
        "print(persistence_stage(distance='distance_sparse.bin', diagram='diagram.bin', upper_dim=3).summary())"
    ),
    "betti_curves": (
        "from dnn_topology.topology.betti import betti_curves_stage\n"
        "betti_curves_stage(diagram='diagram.bin', sparse='distance_sparse.bin', curves='curves.csv',"
        " summary='summary.csv', max_dim=2, max_epsilon=0.3, n_points=31)"
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


@pytest.mark.slow
def test_training_and_activations_jobs_import_torchvision_only_for_its_networks():
    """torchvision (about 2 s of CPU and 170 MB per job) is imported for the ResNets only."""
    probe = (
        "import sys\nfrom dnn_topology.networks import activations, training, models\n"
        "from dnn_topology.networks.datasets import get_spec\n"
        "models.build_network('lenet', get_spec('mnist5k'))\nprint('torchvision' in sys.modules)\n"
        "models.build_network('resnet18', get_spec('cifar10'))\nprint('torchvision' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
