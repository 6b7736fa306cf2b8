"""Run the real workflow with Snakemake in a temporary directory (helpers for the tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"

# a tiny but real configuration: LeNet on mnist5k, 2 epochs, a reduced node set so it runs in seconds
TINY_CONFIG_FILE = REPO / "tests" / "config" / "tiny.yaml"
TINY_CONFIG = yaml.safe_load(TINY_CONFIG_FILE.read_text())


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(
    workdir: Path, *args: str, config: Path | None = None, check: bool = True, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Run ``python -m snakemake`` on the project's Snakefile in ``workdir``."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(SNAKEFILE),
        "-d",
        str(workdir),
        "--cores",
        "2",
        "--workflow-profile",
        str(REPO / "profiles" / "default"),
    ]
    cmd += list(args)
    if config is not None:  # last: --configfile takes several values and would swallow targets
        cmd += ["--configfile", str(config)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_config(workdir: Path, config: dict) -> Path:
    """Write ``config`` into ``workdir`` and run the whole workflow on it; returns the config file."""
    path = write_config(workdir, config)
    snakemake(workdir, config=path)
    return path


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a (dry) run; {} when nothing is to be done."""
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    m = re.search(r"Job stats:\n(.*?)\n\s*total\s+\d+", text, re.S)
    assert m, f"no job stats in snakemake output:\n{text}"
    jobs = {}
    for line in m.group(1).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    return jobs


class _Payload:
    """Unpickling this calls open(marker, "w"): the marker file appears if a pickle's code ever runs."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_malicious_checkpoint(path: Path, marker: Path, state: dict | None = None, legacy: bool = False) -> None:
    """A real crafted checkpoint: ``state`` (weights that load fine) plus an object whose unpickling
    creates ``marker``. ``legacy``: torch's old non-zip format, like the original code's .t7 files."""
    import torch

    torch.save({**(state or {"net": {}}), "payload": _Payload(marker)}, path, _use_new_zipfile_serialization=not legacy)
