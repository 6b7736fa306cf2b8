#!/usr/bin/env python
"""Benchmark: wall time and peak memory of each workflow stage for one epoch.

Each stage runs in its own Python process (so the peak resident memory, ru_maxrss, is that
stage's alone, imports included) on files in a scratch directory, exactly as the workflow's
scripts call the library. Prints a table; not a test.

    python benchmarks/stages.py                         # LeNet on mnist5k, 1,820 nodes, epoch 1
    python benchmarks/stages.py --network conv_2 --n-nodes 6000   # big-network target: ~6,000 real nodes
    python benchmarks/stages.py --synthetic-nodes 6000  # ~6,000 synthetic nodes (no training)
    python benchmarks/stages.py --threads 2 --max-dim 2 --max-epsilon 0.3 --keep /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def stage_train(a, d: Path):
    from dnn_topology.networks.training import train_stage

    train_stage(
        network=a.network,
        dataset=a.dataset,
        training={"epochs": 1, "lr": 0.01, "seed": 0},
        trial=0,
        checkpoints=[d / "epoch_0.pt", d / "epoch_1.pt"],
        metrics=d / "training.csv",
        labels=d / "labels.csv",
        state_dir=d / "state",
        threads=a.threads,
        progress=False,
    )


def stage_activations(a, d: Path):
    from dnn_topology.networks.activations import activations_stage
    from dnn_topology.networks.samples import SampleSet

    selection = {"method": a.selection, "n_nodes": a.n_nodes} if a.n_nodes else {"method": "all"}
    activations_stage(
        checkpoint=d / "epoch_1.pt",
        activations=d / "activations.npy",
        nodes=d / "nodes.csv",
        samples=d / "samples.csv",
        network=a.network,
        sample_set=SampleSet(a.dataset, a.n_samples),
        node_selection=selection,
        threads=a.threads,
    )


def stage_synthetic_activations(a, d: Path):
    """Activations of N nodes, each driven by one of a few latent factors plus noise: a correlation
    structure with a few percent of pairs within distance 0.6, as in a network's graph."""
    import numpy as np
    import pandas as pd

    from dnn_topology.networks.activations import save_activations

    rng = np.random.default_rng(0)
    n, N, k = a.n_samples, a.synthetic_nodes, a.groups
    factors = rng.standard_normal((n, k))
    groups = rng.integers(0, k, N)
    acts = factors[:, groups] * rng.uniform(0.5, 1.5, N) + rng.standard_normal((n, N)) * a.noise
    save_activations(
        acts.astype(np.float32),
        pd.DataFrame({"layer": "synthetic", "node": np.arange(N)}),
        d / "activations.npy",
        d / "nodes.csv",
    )


def stage_functional_graph(a, d: Path):
    from dnn_topology.topology.graph import functional_graph_stage

    functional_graph_stage(
        activations=d / "activations.npy", sparse=d / "distance_sparse.bin", max_epsilon=a.max_epsilon
    )


def stage_persistence(a, d: Path):
    from dnn_topology.topology.persistence import persistence_stage

    persistence_stage(
        distance=d / "distance_sparse.bin",
        diagram=d / "diagram.bin",
        upper_dim=a.max_dim + 1,
        engine=a.engine,
        threads=a.threads,
    )


def stage_betti_curves(a, d: Path):
    from dnn_topology.topology.betti import betti_curves_stage

    betti_curves_stage(
        diagram=d / "diagram.bin",
        sparse=d / "distance_sparse.bin",
        curves=d / "betti_curves.csv",
        summary=d / "betti_summary.csv",
        max_dim=a.max_dim,
        max_epsilon=a.max_epsilon,
        n_points=301,
    )


STAGES = {name[len("stage_") :]: f for name, f in globals().items() if name.startswith("stage_")}


def run_one(args, workdir: Path, stage: str) -> dict:
    cmd = [sys.executable, __file__, "--_stage", stage, "--_dir", str(workdir)] + args
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--network", default="lenet")
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--n-nodes", type=int, default=0, help="reduce the network's nodes to about N")
    p.add_argument("--selection", default="random", help="node reduction method used with --n-nodes")
    p.add_argument("--synthetic-nodes", type=int, default=0, help="skip training; N synthetic nodes")
    p.add_argument("--noise", type=float, default=1.0, help="noise level of the synthetic activations")
    p.add_argument("--groups", type=int, default=25, help="latent factors of the synthetic activations")
    p.add_argument("--max-dim", type=int, default=3)
    p.add_argument("--max-epsilon", type=float, default=0.3)
    p.add_argument("--engine", default="giotto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--keep", type=Path, help="keep the files in this directory")
    p.add_argument("--_stage", help=argparse.SUPPRESS)
    p.add_argument("--_dir", type=Path, help=argparse.SUPPRESS)
    a, _ = p.parse_known_args()
    if a._stage:
        t0 = time.perf_counter()
        STAGES[a._stage](a, a._dir)
        print(
            json.dumps(
                {
                    "stage": a._stage,
                    "seconds": time.perf_counter() - t0,
                    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                }
            )
        )
        return
    forwarded = [x for x in sys.argv[1:]]
    stages = (["synthetic_activations"] if a.synthetic_nodes else ["train", "activations"]) + [
        "functional_graph",
        "persistence",
        "betti_curves",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = a.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = [run_one(forwarded, workdir, s) for s in stages]
        import numpy as np

        n = np.load(workdir / "activations.npy", mmap_mode="r").shape[1]
        from dnn_topology.topology.dipha_files import read_persistence_diagram, read_sparse_distance_matrix

        sp = read_sparse_distance_matrix(workdir / "distance_sparse.bin")
        dg = read_persistence_diagram(workdir / "diagram.bin")
    what = f"{a.synthetic_nodes} synthetic nodes" if a.synthetic_nodes else f"{a.network} on {a.dataset}, epoch 1"
    print(
        f"\n{what}: {n} nodes, {a.n_samples} samples, H0..H{a.max_dim}, max_epsilon {a.max_epsilon}, "
        f"engine {a.engine}, {a.threads} threads"
    )
    print(
        f"pairs within distance {2 * a.max_epsilon:g}: {sp.nnz // 2} of {n * (n - 1) // 2} "
        f"({100 * sp.nnz / max(n * (n - 1), 1):.2f}%); diagram: {len(dg)} records"
    )
    print(f"{'stage':<22}{'seconds':>10}{'peak MB':>10}")
    for r in rows:
        print(f"{r['stage']:<22}{r['seconds']:>10.2f}{r['peak_mb']:>10.0f}")
    topo = [r for r in rows if r["stage"] not in ("train", "activations", "synthetic_activations")]
    print(
        f"{'activations.npy->betti':<22}{sum(r['seconds'] for r in topo):>10.2f}{max(r['peak_mb'] for r in topo):>10.0f}"
    )


if __name__ == "__main__":
    main()
