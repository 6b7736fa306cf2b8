#!/usr/bin/env python
"""Benchmark: what a user of the workflow waits for, next to the original code's chain.

On the same activations (the default run's ``lenet_mnist5k`` trial 0, epoch 8: 1,820 nodes, 1,000
samples; made once by the workflow itself in the scratch directory), every command is a whole process
tree, pinned to one core (``taskset -c 0``), timed from start to exit:

* **workflow, per-epoch chain**: ``snakemake --cores 1 results/.../epoch_8/betti_curves.csv`` after the
  per-epoch outputs (``functional_graph`` -> ``sparse_distance`` -> ``persistence`` -> ``betti_curves``) were
  deleted: the parse, the DAG and the four jobs, as Snakemake runs them.
* **original chain**: the original code's steps on the same ``activations.npy``: numpy's ``corrcoef`` and
  the full DIPHA ``DISTANCE_MATRIX`` written by a Python process, then DIPHA's ``full_to_sparse_distance_matrix
  <max_epsilon>`` and ``dipha --upper_dim <max_dim + 1> --benchmark --dual`` (one MPI process), with the default
  config's ``topology`` values. With no DIPHA build found, the output
  says so and ``dnn-topology full-to-sparse`` / ``dnn-topology dipha`` (byte-identical files, this package's
  engine) stand in: that column then times this package, not DIPHA.
* **persistence alone**: ``dnn-topology dipha`` against ``dipha`` on the same sparse matrix (DIPHA only
  when a build is found).
* **snakemake -n**: the default config, in an empty directory (everything to do) and on the epoch target.

Both chains' diagrams are compared byte for byte. Wall time is the median of ``--repeat`` runs (all runs
printed). Peak memory is the largest sum of the resident set sizes (``VmRSS``) of the process and all its
descendants, sampled every ``--sample-ms`` milliseconds; the largest single process (``ru_maxrss``) is
printed next to it. On a shared machine the minimum wall time is the steadier figure, and the CPU time
(user + system, whole tree, median) the least sensitive to other load; all are printed. The optional ``--full-run`` times the default ``snakemake --cores 2`` (``make run``
without setup) in a fresh directory, unpinned. Prints a table; not a test.

    python benchmarks/user_view.py                     # scratch dir benchmarks/out/user_view (kept)
    python benchmarks/user_view.py --repeat 5 --dipha dipha/build/dipha --full-run
    python benchmarks/user_view.py --dipha dipha/build/dipha --max-dim 2   # H0..H2, as the speed issue measured

Run it with the interpreter of the environment to measure (``.venv/bin/python``): its ``snakemake`` is the one
timed. The output says whether that environment has the SLURM executor plugin (the ``slurm`` extra), since
Snakemake imports every installed plugin at start-up and this one imports pandas (about 0.3 s a call).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RUN, TRIAL, EPOCH = "lenet_mnist5k", 0, 8
EPOCH_DIR = f"results/{RUN}/trial_{TRIAL}/epoch_{EPOCH}"
# what the per-epoch chain makes (deleted before each timed run)
CHAIN_OUTPUTS = ["distance.bin", "distance_sparse.bin", "diagram.bin", "betti_curves.csv", "betti_summary.csv"]
PAGE = os.sysconf("SC_PAGE_SIZE")

# The original's functional graph (build_graph_functional.py): numpy's corrcoef over the samples, distance
# 1 - |corr| (a dead node's NaN correlation taken as 0, as this workflow does), written as a DIPHA
# DISTANCE_MATRIX: int64 magic, type 7, n, then n*n float64.
ORIGINAL_GRAPH = """
import sys
import numpy as np
acts = np.load(sys.argv[1]).astype(np.float64)
with np.errstate(invalid="ignore", divide="ignore"):
    corr = np.corrcoef(acts.T)
D = 1.0 - np.abs(np.nan_to_num(corr, nan=0.0))
D = np.triu(D, 1) + np.triu(D, 1).T  # corrcoef is symmetric only up to rounding; DIPHA's input is symmetric
with open(sys.argv[2], "wb") as f:
    np.array([8067171840, 7, D.shape[0]], dtype="<i8").tofile(f)
    D.astype("<f8").tofile(f)
"""


@dataclass
class Measure:
    seconds: float
    tree_mb: float  # largest sum of VmRSS over the process tree
    process_mb: float  # largest single process (ru_maxrss)
    cpu: float = 0.0  # user + system CPU seconds of the whole tree (less sensitive to other load than wall time)


def _ppid_map() -> dict[int, int]:
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
    return parents


def _tree_rss(root: int) -> int:
    """Sum of VmRSS over ``root`` and its descendants. A child that was forked but has not exec'd yet (same
    name and same memory figures as its parent: the pages are its parent's) is not counted twice."""
    parents = _ppid_map()
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        children = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(children)
        frontier.extend(children)
    seen = {}
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                statm = f.read().split()[:3]
            with open(f"/proc/{pid}/comm", "rb") as f:
                seen[pid] = (f.read(), statm)
        except (OSError, IndexError, ValueError):
            pass
    total = 0
    for pid, info in seen.items():
        if pid != root and seen.get(parents.get(pid)) == info:
            continue
        total += int(info[1][1]) * PAGE
    return total


def measure(cmd: list[str], cwd: Path, env: dict, pin: bool, sample_ms: float, log: Path) -> Measure:
    """Run ``cmd`` (pinned to core 0 with taskset when ``pin``), return wall time and peak memory."""
    if pin:
        cmd = ["taskset", "-c", "0", *cmd]
    peak = 0
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                done.wait(sample_ms / 1000)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\nsee {log}")
    return Measure(seconds, peak / 1e6, usage.ru_maxrss * 1024 / 1e6, usage.ru_utime + usage.ru_stime)


def find_dipha(given: str | None) -> tuple[Path | None, Path | None, list[str]]:
    """DIPHA's ``dipha`` and ``full_to_sparse_distance_matrix``: --dipha, dipha/build/, then PATH."""
    looked = []
    candidates = [Path(given)] if given else [ROOT / "dipha" / "build" / "dipha"]
    on_path = shutil.which("dipha")
    if not given and on_path:
        candidates.append(Path(on_path))
    for dipha in candidates:
        looked.append(str(dipha))
        converter = dipha.parent / "full_to_sparse_distance_matrix"
        if dipha.is_file() and os.access(dipha, os.X_OK) and converter.is_file():
            return dipha, converter, looked
    if not given:
        looked.append("dipha on PATH")
    return None, None, looked


def make_activations(work: Path, env: dict, log: Path, root: Path) -> None:
    """The default run's trial 0 up to epoch 8's activations, made (or brought up to date: Snakemake reruns
    training if its code changed) by the workflow itself; not timed."""
    target = f"{EPOCH_DIR}/activations.npy"
    print(f"making {target} in {work} (trains LeNet the first time) ...", flush=True)
    with open(log, "ab") as out:
        subprocess.run(
            [BIN / "snakemake", "-s", root / "Snakefile", "--cores", "2", target],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )


def compare(sparse: Path, diagram: Path, orig_sparse: Path, orig_diagram: Path) -> str:
    """How the two chains' sparse matrices and diagrams agree (numpy's corrcoef and the workflow's blocked
    correlation round differently in the last bits, so the values are compared, not the bytes)."""
    import numpy as np

    from dnn_topology.topology.dipha_files import read_persistence_diagram, read_sparse_distance_matrix

    if sparse.read_bytes() == orig_sparse.read_bytes() and diagram.read_bytes() == orig_diagram.read_bytes():
        return "byte-identical sparse matrices and diagrams"
    a, b = read_sparse_distance_matrix(sparse), read_sparse_distance_matrix(orig_sparse)
    da, db = read_persistence_diagram(diagram).to_frame(), read_persistence_diagram(orig_diagram).to_frame()
    edges = a.nnz == b.nnz
    pairs = da.groupby("dim").size().to_dict() == db.groupby("dim").size().to_dict()
    if not (edges and pairs):
        return (
            f"DIFFER: {a.nnz} vs {b.nnz} sparse entries, pairs per dim {da.groupby('dim').size().to_dict()} "
            f"vs {db.groupby('dim').size().to_dict()}"
        )
    worst = float(np.max(np.abs(da[["birth", "death"]].to_numpy() - db[["birth", "death"]].to_numpy()), initial=0))
    return f"same sparse entries ({a.nnz}) and pairs per dim; largest birth/death difference {worst:.1e}"


def fmt(ms: list[Measure]) -> str:
    sec = statistics.median(m.seconds for m in ms)
    fastest = min(m.seconds for m in ms)
    tree = max(m.tree_mb for m in ms)
    proc = max(m.process_mb for m in ms)
    cpu = statistics.median(m.cpu for m in ms)
    runs = ", ".join(f"{m.seconds:.2f}" for m in ms)
    return f"{sec:>8.2f} s {fastest:>7.2f} s {cpu:>7.2f} s {tree:>7.0f} MB {proc:>7.0f} MB   ({runs})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--workdir",
        type=Path,
        help="scratch directory holding the trained trial (made once, reused; default: "
        "benchmarks/out/user_view/<name of the --workflow directory>)",
    )
    p.add_argument(
        "--workflow",
        type=Path,
        default=ROOT,
        help="checkout whose Snakefile and src/ are measured (default: this one), e.g. an older commit "
        "exported with `git archive` to compare against it under the same load",
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--max-dim",
        type=int,
        help="topology.max_dim for both chains instead of the default config's (e.g. 2: H0..H2, the figures the "
        "speed issue quoted); the workflow then runs with a copy of config/config.yaml that differs only there",
    )
    p.add_argument("--dipha", help="DIPHA's dipha binary (default: dipha/build/dipha, then PATH)")
    p.add_argument("--mpiexec", default="mpiexec", help="MPI launcher for DIPHA (run with -n 1)")
    p.add_argument("--sample-ms", type=float, default=5.0, help="memory sampling period")
    p.add_argument("--no-pin", action="store_true", help="do not pin to core 0")
    p.add_argument(
        "--full-run",
        action="store_true",
        help="also time the default `snakemake --cores 2` in a fresh directory (a few minutes)",
    )
    a = p.parse_args()
    root = a.workflow.resolve()
    if a.workdir is None:
        a.workdir = ROOT / "benchmarks" / "out" / "user_view" / root.name
    pin = not a.no_pin
    if pin and not shutil.which("taskset"):
        raise SystemExit("taskset not found (util-linux); use --no-pin")
    work = a.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "user_view.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")]),
        "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
    }
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    import yaml

    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    config_args = []
    if a.max_dim is not None:
        config["topology"]["max_dim"] = a.max_dim
        changed = work / f"config_max_dim{a.max_dim}.yaml"
        changed.write_text(yaml.safe_dump(config, sort_keys=False))
        config_args = ["--configfile", str(changed)]  # last: --configfile takes several values
    topology = config["topology"]
    upper_dim, max_eps = str(topology["max_dim"] + 1), str(topology["max_epsilon"])
    make_activations(work, env, log, root)
    epoch = work / EPOCH_DIR
    snakemake = [str(BIN / "snakemake"), "-s", str(root / "Snakefile")]
    target = f"{EPOCH_DIR}/betti_curves.csv"

    def run(cmd, cwd=work):
        return measure([str(c) for c in cmd], cwd, env, pin, a.sample_ms, log)

    rows = {}
    # the workflow's per-epoch chain, as one target
    chain = []
    for _ in range(a.repeat):
        for name in CHAIN_OUTPUTS:
            (epoch / name).unlink(missing_ok=True)
        chain.append(run([*snakemake, "--cores", "1", target, *config_args]))
    rows["workflow: per-epoch chain (snakemake, one target)"] = chain
    ours = epoch / "diagram.bin"
    sparse = epoch / "distance_sparse.bin"

    # the original's chain on the same activations
    dipha, converter, looked = find_dipha(a.dipha)
    orig = work / "original"
    orig.mkdir(exist_ok=True)
    full, orig_sparse, orig_diagram = orig / "adj.bin", orig / f"adj_{max_eps}.bin", orig / f"adj_{max_eps}.bin.out"
    options = ["--upper_dim", upper_dim, "--benchmark", "--dual"]

    def dipha_cmd(inp, out):  # DIPHA's dipha, one MPI process
        return [a.mpiexec, "-n", "1", dipha, *options, inp, out]

    def engine_cmd(inp, out):  # this package's drop-in, one thread
        return [BIN / "dnn-topology", "dipha", *options, "--threads", "1", inp, out]

    if dipha:
        to_sparse = [converter, max_eps, full, orig_sparse]
        persist = dipha_cmd(orig_sparse, orig_diagram)
        who = f"DIPHA {dipha}"
    else:
        to_sparse = [BIN / "dnn-topology", "full-to-sparse", max_eps, full, orig_sparse]
        persist = engine_cmd(orig_sparse, orig_diagram)
        who = "STAND-IN dnn-topology full-to-sparse / dnn-topology dipha (no DIPHA build found)"
    steps = {
        "corrcoef + full matrix": [sys.executable, "-c", ORIGINAL_GRAPH, epoch / "activations.npy", full],
        "full_to_sparse": to_sparse,
        "dipha": persist,
    }
    original = []
    parts = {k: [] for k in steps}
    for _ in range(a.repeat):
        for f in (full, orig_sparse, orig_diagram):
            f.unlink(missing_ok=True)
        ms = {k: run(cmd) for k, cmd in steps.items()}
        for k, m in ms.items():
            parts[k].append(m)
        original.append(
            Measure(
                sum(m.seconds for m in ms.values()),
                max(m.tree_mb for m in ms.values()),
                max(m.process_mb for m in ms.values()),
                sum(m.cpu for m in ms.values()),
            )
        )
    rows[f"original chain ({'DIPHA' if dipha else 'stand-in'})"] = original
    for k, ms in parts.items():
        rows[f"  original: {k}"] = ms
    agreement = compare(sparse, ours, orig_sparse, orig_diagram)

    # persistence alone, on the workflow's sparse matrix
    rows["persistence alone: dnn-topology dipha"] = [
        run(engine_cmd(sparse, orig / "engine.diagram")) for _ in range(a.repeat)
    ]
    if dipha:
        rows["persistence alone: dipha (DIPHA, mpiexec -n 1)"] = [
            run(dipha_cmd(sparse, orig / "dipha.diagram")) for _ in range(a.repeat)
        ]

    # snakemake -n: everything to do (empty directory), and the epoch target (its chain deleted)
    with tempfile.TemporaryDirectory() as empty:
        rows["snakemake -n, default config, empty directory"] = [
            run([*snakemake, "-n", "--cores", "1", *config_args], cwd=Path(empty)) for _ in range(a.repeat)
        ]
    for name in CHAIN_OUTPUTS:
        (epoch / name).unlink(missing_ok=True)
    rows["snakemake -n, the epoch target"] = [
        run([*snakemake, "-n", "--cores", "1", target, *config_args]) for _ in range(a.repeat)
    ]
    # leave the epoch complete for the next call
    run([*snakemake, "--cores", "1", target, *config_args])

    full_run = None
    if a.full_run:
        with tempfile.TemporaryDirectory() as fresh:
            full_run = measure(
                [str(BIN / "snakemake"), "-s", str(root / "Snakefile"), "--cores", "2", *config_args],
                Path(fresh),
                env,
                False,
                50.0,
                log,
            )

    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        "unknown CPU",
    )
    print(
        f"\nmachine: {cpu}, {os.cpu_count()} cores, {'pinned to core 0 (taskset -c 0)' if pin else 'not pinned'}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"workflow measured: {root}" + (f" with {config_args[1]}" if config_args else ""))
    slurm_plugin = importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None
    print(
        f"environment: {BIN.parent}; SLURM executor plugin (extra 'slurm') "
        + ("installed: every snakemake call also imports pandas through it" if slurm_plugin else "not installed")
    )
    print(
        f"activations: {epoch / 'activations.npy'} ({RUN}, trial {TRIAL}, epoch {EPOCH}); the default config's "
        f"max_epsilon {max_eps}, DIPHA --upper_dim {upper_dim} (H0..H{int(upper_dim) - 1})"
    )
    print(f"original chain: {who}" + ("" if dipha else f"; looked for DIPHA at: {', '.join(looked)}"))
    print(f"workflow vs original files: {agreement}")
    print(f"\n{'what':<52}{'median':>10} {'min':>9} {'cpu':>9} {'peak tree':>10} {'peak proc':>10}   (each run, s)")
    for name, ms in rows.items():
        print(f"{name:<52}{fmt(ms)}")
    if full_run:
        print(f"{'default run: snakemake --cores 2, fresh dir, unpinned':<52}{fmt([full_run])}")
    wf, og = statistics.median(m.seconds for m in chain), statistics.median(m.seconds for m in original)
    wf_min, og_min = min(m.seconds for m in chain), min(m.seconds for m in original)
    print(
        f"\nper-epoch chain / original chain: {wf / og:.2f} (medians), {wf_min / og_min:.2f} (minima) of the wall "
        f"time (target <= 0.33); peak memory "
        f"{max(m.tree_mb for m in chain):.0f} vs {max(m.tree_mb for m in original):.0f} MB (target: no more)"
    )
    dry = rows["snakemake -n, default config, empty directory"]
    print(
        f"snakemake -n, default config: {statistics.median(m.seconds for m in dry):.2f} s median, "
        f"{min(m.seconds for m in dry):.2f} s min, "
        f"{max(m.tree_mb for m in dry):.0f} MB (target <= 1.5 s and 250 MB)"
    )
    if "DIFFER" in agreement:
        raise SystemExit("the two chains' results differ")


if __name__ == "__main__":
    main()
