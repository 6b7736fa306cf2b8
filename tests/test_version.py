"""One version: ``dnn_topology.__version__``, which pyproject.toml reads; CITATION.cff and CHANGELOG.md repeat it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from setuptools.config.pyprojecttoml import read_configuration

import dnn_topology

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_reads_the_version_from_the_package():
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert "version" not in project and "version" in project["dynamic"]
    # what setuptools puts in the built package's metadata
    assert read_configuration(ROOT / "pyproject.toml", expand=True)["project"]["version"] == dnn_topology.__version__


def test_the_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+", dnn_topology.__version__), dnn_topology.__version__


def test_citation_and_changelog_repeat_it():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == dnn_topology.__version__
    newest = re.search(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert newest and newest.group(1) == dnn_topology.__version__


def test_the_command_prints_it():
    proc = subprocess.run(
        [sys.executable, "-m", "dnn_topology.cli", "--version"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"dnn-topology {dnn_topology.__version__}"
