"""The real workflow on a real SLURM cluster: snakemake-executor-plugin-slurm and profiles/slurm.

A one-node cluster (munged, slurmctld, slurmd from Debian's slurm-wlm) is started on localhost by
tests/slurm/slurm-up.sh in a private state directory and stopped by PID by tests/slurm/slurm-down.sh,
also when a test fails. The packages are installed with apt-get when missing. Where that is impossible
(not root, no apt-get, apt-get fails) the tests are skipped, except in CI (CI=true), where they fail.

The cluster has no accounting database, so the executor runs with `--slurm-status-command squeue`
(MinJobAge=300 >= 3 x the 1 s first status check): without slurmdbd, sacct (the plugin's default) fails
and Snakemake would wait forever. Every wait here is bounded: a Snakemake that overruns is killed, its
SLURM jobs cancelled and the working directory unlocked; a job pending too long fails the test with
SLURM's reason.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from workflow_helpers import REPO, SNAKEFILE, TINY_CONFIG, snakemake, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

SLURM_SCRIPTS = Path(__file__).resolve().parent / "slurm"
PROFILE = REPO / "profiles" / "slurm"
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
EXECUTABLES = ["slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "munged", "mungekey"]
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
RUN = "results/lenet_mnist5k"
PARTITION = "debug"  # the test cluster's only partition, passed the way users pass theirs: $SLURM_PARTITION

# LeNet on mnist5k, 300 random nodes, 1 training epoch, topology at epochs 0 and 1: train, 2 x activations,
# 2 x three topology jobs, and the per-run jobs (aggregate, plot, ...); each epoch's three topology jobs are one
# SLURM job, so the run submits 2 x 2 = 4 SLURM jobs fewer than it has jobs
SLURM_CONFIG = copy.deepcopy(TINY_CONFIG)
SLURM_CONFIG["training"]["epochs"] = 1
SLURM_CONFIG["topology"]["epochs"] = [0, 1]
STAGES = ["activations", "functional_graph", "persistence", "betti_curves"]
# profiles/slurm groups these per (run, trial, epoch): one SLURM job runs the three (and sparse_distance, which
# only imported runs have)
GROUPED = ["functional_graph", "persistence", "betti_curves"]

SNAKEMAKE_TIMEOUT_S = 900  # a whole SLURM run; it takes about 2 minutes on 2 cores
PEND_LIMIT_S = 240  # a job pending longer than this means the cluster cannot run it


def _unavailable(reason: str):
    """Skip outside CI; in CI the SLURM test must run, so this is a failure."""
    if IN_CI:
        pytest.fail(f"SLURM test cannot run in CI (CI=true): {reason}", pytrace=False)
    pytest.skip(f"SLURM test skipped: {reason}")


def _which(exe: str) -> str | None:
    return shutil.which(exe) or shutil.which(exe, path="/usr/sbin:/sbin:/usr/bin:/bin")


def _ensure_slurm_installed() -> None:
    if sys.platform != "linux":
        _unavailable(f"needs Linux, this is {sys.platform}")
    missing = [exe for exe in EXECUTABLES if _which(exe) is None]
    if os.geteuid() != 0:
        # slurmd must run as root, and the test jobs run as the submitting user on the same machine
        _unavailable("needs root to start slurmd/munged" + (f" and to install {missing}" if missing else ""))
    if not missing:
        return
    if shutil.which("apt-get") is None:
        _unavailable(f"{missing} not installed and no apt-get to install {PACKAGES}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        except subprocess.TimeoutExpired:
            _unavailable(f"`{' '.join(cmd)}` did not finish within 600 s")
        if proc.returncode != 0:
            _unavailable(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    still = [exe for exe in EXECUTABLES if _which(exe) is None]
    if still:
        _unavailable(f"{still} still missing after installing {PACKAGES}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    state: Path
    env: dict

    def cmd(self, *args: str, timeout: int = 30) -> str:
        """Run a SLURM client command against this cluster; its stdout."""
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=self.env)
        assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr}"
        return proc.stdout

    def node(self) -> dict[str, str]:
        text = self.cmd("scontrol", "-o", "show", "node")
        return dict(kv.split("=", 1) for kv in text.split() if "=" in kv)

    def completions(self) -> list[dict[str, str]]:
        """Finished jobs, as recorded by jobcomp/filetxt (they outlive squeue's MinJobAge)."""
        path = self.state / "job_completions.txt"
        if not path.exists():
            return []
        return [
            dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            for line in path.read_text().splitlines()
            if line.strip()
        ]


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running one-node SLURM cluster; always torn down (by PID), whatever happens in between."""
    _ensure_slurm_installed()
    state = tmp_path_factory.mktemp("slurm")
    ports = {"SLURM_TEST_CTLD_PORT": str(_free_port()), "SLURM_TEST_SLURMD_PORT": str(_free_port())}
    # state/bin holds the cluster's client commands (srun, sbatch, squeue...) bound to its slurm.conf:
    # first on PATH, so that they are used by the executor, inside the jobs, and here
    path = f"{state / 'bin'}:{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))}
    env.update(PATH=path, SLURM_CONF=str(state / "slurm.conf"), SLURM_PARTITION=PARTITION)
    try:
        up = subprocess.run(
            ["bash", str(SLURM_SCRIPTS / "slurm-up.sh"), str(state)],
            capture_output=True,
            text=True,
            timeout=180,
            env={**env, **ports},
        )
        if up.returncode != 0:
            pytest.fail(f"could not start the SLURM test cluster:\n{up.stdout}\n{up.stderr}", pytrace=False)
        yield Cluster(state, env)
    finally:
        down = subprocess.run(
            ["bash", str(SLURM_SCRIPTS / "slurm-down.sh"), str(state)], capture_output=True, text=True, timeout=180
        )
        print(down.stdout, down.stderr)
        for daemon in ("munged", "slurmctld", "slurmd"):
            pid_file = state / f"{daemon}.bgpid"
            assert not pid_file.exists(), f"{daemon} was not stopped: {down.stdout}{down.stderr}"


@dataclass
class SlurmRun:
    returncode: int
    output: str
    seconds: float
    run_id: str | None


def _slurm_snakemake(
    cluster: Cluster,
    workdir: Path,
    config: Path,
    *args: str,
    timeout: int = SNAKEMAKE_TIMEOUT_S,
    pend_limit: int = PEND_LIMIT_S,
) -> SlurmRun:
    """Run the workflow with the SLURM executor and profiles/slurm; never waits longer than ``timeout``."""
    base = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(SNAKEFILE),
        "-d",
        str(workdir),
        "--workflow-profile",
        str(PROFILE),
        "--configfile",
        str(config),
    ]
    cmd = base + [
        "--executor",
        "slurm",
        "--jobs",
        "4",
        "--slurm-status-command",
        "squeue",  # no slurmdbd here: sacct cannot answer
        "--slurm-init-seconds-before-status-checks",
        "1",  # first query 1 s after submission
        "--slurm-keep-successful-logs",
        *args,
    ]
    log_path = workdir / "snakemake-slurm.out"
    start = time.monotonic()
    pending_since: dict[str, float] = {}
    failure = None
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**cluster.env, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if now - start > timeout:
                    failure = f"snakemake did not finish within {timeout} s"
                    break
                pending = subprocess.run(
                    ["squeue", "-h", "-t", "PENDING", "-o", "%i|%r"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    env=cluster.env,
                ).stdout.splitlines()
                ids = dict(line.split("|", 1) for line in pending if "|" in line)
                pending_since = {i: pending_since.get(i, now) for i in ids}
                stuck = {i: ids[i] for i, t0 in pending_since.items() if now - t0 > pend_limit}
                if stuck:
                    failure = (
                        f"SLURM jobs pending for more than {pend_limit} s (job: reason) {stuck}; do the "
                        f"requests fit the node? {cluster.cmd('scontrol', 'show', 'node')}"
                    )
                    break
                time.sleep(2)
        finally:
            if proc.poll() is None:  # overran, stuck, or the test was interrupted: kill, cancel, unlock
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                subprocess.run(["scancel", "--user", str(os.geteuid())], timeout=30, env=cluster.env)
                subprocess.run(base + ["--unlock"], cwd=workdir, capture_output=True, timeout=300, env=cluster.env)
    output = log_path.read_text()
    if failure:
        pytest.fail(f"{failure}\n--- snakemake output (tail) ---\n{output[-6000:]}", pytrace=False)
    m = re.search(r"SLURM run ID: (\S+)", output)
    return SlurmRun(proc.returncode, output, time.monotonic() - start, m.group(1) if m else None)


@dataclass
class Request:
    rule: str
    mem_mb: int
    threads: int
    runtime: int  # minutes
    epoch: str | None  # wildcards run/trial/epoch of a per-epoch job


def _requests(dry_run_output: str) -> list[Request]:
    """The request of every job of a dry run."""
    jobs = []
    for block in re.split(r"\n(?=\s*(?:local)?rule \w+:)", dry_run_output):
        m = re.match(r"(?:local)?rule (\w+):", block.strip())
        if not m or m.group(1) == "all":
            continue
        mem = re.search(r"\bmem_mb=(\d+)", block)
        threads = re.search(r"^\s*threads: (\d+)", block, re.M)
        runtime = re.search(r"\bruntime=(\d+)", block)
        epoch = re.search(r"wildcards: (run=\S+, trial=\d+, epoch=\d+)", block)
        jobs.append(
            Request(
                m.group(1),
                int(mem.group(1)) if mem else 0,
                int(threads.group(1)) if threads else 1,
                int(runtime.group(1)) if runtime else 0,
                epoch.group(1) if epoch else None,
            )
        )
    return jobs


def _assert_requests_fit_the_node(cluster: Cluster, workdir: Path, config: Path) -> list[Request]:
    """Every job's --mem and --cpus-per-task fit the node: else SLURM rejects it or it pends forever."""
    dry = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(SNAKEFILE),
            "-d",
            str(workdir),
            "-n",
            "--workflow-profile",
            str(PROFILE),
            "--configfile",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=cluster.env,
        cwd=workdir,
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    jobs = _requests(dry.stdout + dry.stderr)
    assert jobs, dry.stdout
    # profiles/slurm reads the partition from $SLURM_PARTITION
    assert f"slurm_partition={PARTITION}" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    node = cluster.node()
    real_mb, cpus = int(node["RealMemory"]), int(node["CPUTot"])
    too_big = [j for j in jobs if j.mem_mb > real_mb or j.threads > cpus]
    assert not too_big, (
        f"jobs {too_big} do not fit the test node (RealMemory={real_mb} MB, CPUs={cpus}): they would never start"
    )
    return jobs


def _slurm_job_ids_in_logs(workdir: Path) -> dict[str, str]:
    """rule log (relative path) -> the SLURM job id it recorded (io_utils.log_to_file logs SLURM_JOB_ID)."""
    ids = {}
    for log in (workdir / "logs").rglob("*.log"):
        m = re.search(r"SLURM job (\d+)", log.read_text())
        if m:
            ids[log.relative_to(workdir / "logs").as_posix()] = m.group(1)
    return ids


def _csv_frames_equal(a: Path, b: Path) -> None:
    fa, fb = pd.read_csv(a), pd.read_csv(b)
    wall_clock = [c for c in fa.columns if c == "seconds"]  # training.csv: time per epoch, differs by nature
    pd.testing.assert_frame_equal(
        fa.drop(columns=wall_clock), fb.drop(columns=wall_clock), check_exact=True, obj=str(a)
    )


@pytest.mark.slow
def test_workflow_runs_as_slurm_jobs_and_matches_a_local_run(slurm_cluster, tmp_path, capsys):
    local, remote = tmp_path / "local", tmp_path / "slurm"
    local.mkdir()
    remote.mkdir()
    # the reference: the same configuration run locally (a failure here is not a SLURM problem)
    snakemake(local, config=write_config(local, SLURM_CONFIG))
    cfg = write_config(remote, SLURM_CONFIG)
    jobs = _assert_requests_fit_the_node(slurm_cluster, remote, cfg)
    n_jobs = len(jobs)
    # what each epoch's group asks for: the largest memory and threads of its jobs, the sum of their runtimes
    groups: dict[str, list[Request]] = {}
    for job in jobs:
        if job.rule in GROUPED:
            groups.setdefault(job.epoch, []).append(job)
    assert len(groups) == len(SLURM_CONFIG["topology"]["epochs"]) and all(
        len(g) == len(GROUPED) for g in groups.values()
    )
    # one SLURM job per epoch group instead of one per job
    expected_submissions = n_jobs - (len(GROUPED) - 1) * len(groups)

    run = _slurm_snakemake(slurm_cluster, remote, cfg)
    assert run.returncode == 0, run.output[-8000:]
    assert run.run_id, run.output[-3000:]

    # every job was a SLURM job of this run, and completed; each epoch's topology jobs were one SLURM job
    submitted = re.findall(r"Job \S+ has been submitted with SLURM jobid (\d+)", run.output)
    records = [r for r in slurm_cluster.completions() if r.get("Name") == run.run_id]
    assert len(records) == expected_submissions, (n_jobs, records, run.output[-3000:])
    assert len(submitted) in (0, expected_submissions), submitted
    assert all(r["JobState"] == "COMPLETED" and r["Partition"] == PARTITION for r in records), records
    completed_ids = {r["JobId"] for r in records}
    if submitted:  # the plugin's own message, when its wording is the one expected here
        assert set(submitted) == completed_ids, (submitted, completed_ids)

    # the persistence stage (and every other rule) ran inside those jobs: each rule log names its job
    in_logs = _slurm_job_ids_in_logs(remote)
    persistence = {k: v for k, v in in_logs.items() if k.endswith("/persistence.log")}
    assert len(persistence) == len(SLURM_CONFIG["topology"]["epochs"]), in_logs
    assert set(in_logs.values()) == completed_ids and len(in_logs) == n_jobs, (in_logs, completed_ids)
    by_id = {r["JobId"]: r for r in records}
    for log, job_id in persistence.items():
        epoch_dir = log.rsplit("/", 1)[0]
        members = {
            k: v for k, v in in_logs.items() if k.startswith(epoch_dir + "/") and not k.endswith("activations.log")
        }
        assert sorted(members) == sorted(f"{epoch_dir}/{rule}.log" for rule in GROUPED), members
        assert set(members.values()) == {job_id}, members  # one SLURM job ran the three
        run_name, trial, epoch = re.fullmatch(r"(.+)/trial_(\d+)/epoch_(\d+)", epoch_dir).groups()
        group = groups[f"run={run_name}, trial={trial}, epoch={epoch}"]
        tres = dict(kv.split("=", 1) for kv in by_id[job_id]["Tres"].split(","))
        assert tres["mem"] == f"{max(j.mem_mb for j in group)}M", (tres, group)
        assert int(tres["cpu"]) >= max(j.threads for j in group), (tres, group)
        assert int(by_id[job_id]["TimeLimit"]) == sum(j.runtime for j in group), (by_id[job_id], group)
    slurm_logs = list((remote / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert set(persistence.values()) <= {p.stem for p in slurm_logs}, slurm_logs

    # the same results as the local run: diagrams byte for byte, tables value for value
    diagrams = sorted(p.relative_to(local) for p in (local / RUN).rglob("diagram.bin"))
    assert len(diagrams) == len(SLURM_CONFIG["topology"]["epochs"])
    for rel in diagrams:
        assert (remote / rel).read_bytes() == (local / rel).read_bytes(), rel
    tables = sorted(p.relative_to(local) for p in (local / RUN).rglob("*.csv"))
    assert len(tables) >= 3 + 2 + 3 * len(diagrams)
    for rel in tables:
        _csv_frames_equal(local / rel, remote / rel)
    plots = sorted(p.relative_to(local) for p in (local / RUN / "plots").iterdir())
    assert plots and all((remote / rel).stat().st_size > 0 for rel in plots)

    with capsys.disabled():
        print(
            f"\n[slurm] {n_jobs} jobs as {len(records)} SLURM jobs, ids {sorted(map(int, completed_ids))}, "
            f"persistence jobs {dict(sorted(persistence.items()))}, snakemake under SLURM {run.seconds:.0f} s"
        )


@pytest.mark.slow
def test_failing_job_fails_the_workflow_under_slurm(slurm_cluster, tmp_path, capsys):
    config = copy.deepcopy(SLURM_CONFIG)
    config["topology"]["epochs"] = [0]
    # the DIPHA engine with a binary that is not there: training and activations run, persistence fails
    config["topology"].update(engine="dipha", dipha={"binary": str(tmp_path / "no" / "dipha"), "mpi_procs": 1})
    cfg = write_config(tmp_path, config)
    bound = 600
    run = _slurm_snakemake(slurm_cluster, tmp_path, cfg, timeout=bound)
    assert run.returncode != 0, run.output[-5000:]
    assert run.seconds < bound
    # persistence runs in the epoch's group job: Snakemake reports the group and each of its rules (it drops
    # the plugin's "SLURM-job '<id>' failed, SLURM status is ..." line for a group); the rule log names the job
    assert "Error in group epoch_topology" in run.output and "Error in rule persistence" in run.output, run.output[
        -5000:
    ]
    log = (tmp_path / "logs/lenet_mnist5k/trial_0/epoch_0/persistence.log").read_text()
    job = re.search(r"SLURM job (\d+)", log)
    assert job and "no/dipha" in log, log
    failed = [job.group(1)]
    records = {r["JobId"]: r for r in slurm_cluster.completions() if r.get("Name") == run.run_id}
    assert all(records[j]["JobState"] == "FAILED" for j in failed), records
    assert any(r["JobState"] == "COMPLETED" for r in records.values())  # training ran, as a SLURM job
    # nothing of this run is left in the queue
    left = slurm_cluster.cmd("squeue", "-h", "--name", run.run_id, "-t", "PENDING,RUNNING", "-o", "%i")
    assert not left.strip(), left
    assert not (tmp_path / "results/lenet_mnist5k/trial_0/epoch_0/diagram.bin").exists()
    with capsys.disabled():
        print(f"\n[slurm] failing job(s) {failed} -> snakemake exit {run.returncode} after {run.seconds:.0f} s")


def test_the_slurm_executor_plugin_is_installed():
    """profiles/slurm needs snakemake-executor-plugin-slurm, the `slurm` extra (`make setup-test` installs it)."""
    import importlib.util

    assert importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None, (
        "snakemake-executor-plugin-slurm is missing: pip install -e '.[slurm]' (make setup-slurm)"
    )
