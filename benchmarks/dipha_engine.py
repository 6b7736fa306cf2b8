#!/usr/bin/env python
"""Benchmark: the DIPHA-compatible persistence engines on random correlation distance matrices.

For each node count, a distance matrix 1 - |corr| of low-rank signals plus noise is made (about
4% of the pairs within distance 0.6, like a trained network's functional graph), cut at max_eps
as DIPHA's full_to_sparse_distance_matrix does, and its persistence computed. Each measurement
runs in its own Python process, so its peak resident memory (ru_maxrss, imports and the matrix
generation included) is its own. Prints a table; not a test.

    python benchmarks/dipha_engine.py                                 # 1,820 and 6,000 nodes
    python benchmarks/dipha_engine.py --nodes 6000 --threads 1 2 --variants giotto giotto-no-collapse
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

VARIANTS = {
    "giotto": ("giotto", {"collapse_edges": True}),  # collapser auto: gudhi when installed
    "giotto-collapse-giotto": ("giotto", {"collapser": "giotto"}),
    "giotto-collapse-gudhi": ("giotto", {"collapser": "gudhi"}),
    "giotto-no-collapse": ("giotto", {"collapse_edges": False}),
    "ripser": ("ripser", {}),
}


def correlation_distances(n: int, seed: int, samples: int = 1000, factors: int = 20, noise: float = 0.95) -> np.ndarray:
    """1 - |corr| between n signals: sparse mixtures of a few factors plus noise."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((factors, samples))
    W = rng.standard_normal((n, factors)) * (rng.random((n, factors)) < 0.15)
    X = W @ F + noise * rng.standard_normal((n, samples))
    D = 1.0 - np.abs(np.corrcoef(X))
    np.clip(D, 0.0, None, out=D)
    D = np.triu(D, 1)
    D += D.T
    return D


def measure(n: int, variant: str, threads: int, upper_dim: int, max_eps: float, seed: int) -> dict:
    from dnn_topology.topology.dipha_files import full_to_sparse
    from dnn_topology.topology.persistence import compute_persistence

    D = correlation_distances(n, seed)
    t0 = time.perf_counter()
    S = full_to_sparse(D, max_eps)
    t_sparse = time.perf_counter() - t0
    del D
    engine, opts = VARIANTS[variant]
    t0 = time.perf_counter()
    diagram = compute_persistence(S, upper_dim, engine, threads, **opts)
    t_compute = time.perf_counter() - t0
    frame = diagram.to_frame()
    return {
        "nodes": n,
        "variant": variant,
        "threads": threads,
        "edges": S.nnz // 2,
        "density": S.nnz / max(n * (n - 1), 1),
        "full_to_sparse_s": t_sparse,
        "compute_s": t_compute,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pairs": {int(k): int(v) for k, v in frame.groupby("dim").size().items()},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, nargs="+", default=[1820, 6000])
    p.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["giotto"])
    p.add_argument("--threads", type=int, nargs="+", default=[2])
    p.add_argument("--upper-dim", type=int, default=3, help="DIPHA --upper_dim (3: H0..H2)")
    p.add_argument("--max-eps", type=float, default=0.3, help="DIPHA units: distance 0.6")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--_one", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._one:
        n, variant, threads = a._one.split(",")
        print(json.dumps(measure(int(n), variant, int(threads), a.upper_dim, a.max_eps, a.seed)))
        return
    print(
        f"{'nodes':>6} {'variant':<20}{'thr':>4}{'edges':>10}{'density':>9}{'sparse s':>10}{'compute s':>10}"
        f"{'peak MB':>9}  pairs per dim"
    )
    for n in a.nodes:
        for variant in a.variants:
            for threads in a.threads:
                cmd = [
                    sys.executable,
                    __file__,
                    "--_one",
                    f"{n},{variant},{threads}",
                    "--upper-dim",
                    str(a.upper_dim),
                    "--max-eps",
                    str(a.max_eps),
                    "--seed",
                    str(a.seed),
                ]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(out.stderr)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"{r['nodes']:>6} {r['variant']:<20}{r['threads']:>4}{r['edges']:>10}{r['density']:>9.2%}"
                    f"{r['full_to_sparse_s']:>10.2f}{r['compute_s']:>10.2f}{r['peak_mb']:>9.0f}  {r['pairs']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
