"""Checks shared by the studies that evaluate several runs (generalization, early stopping): torch- and pandas-free,
the workflow runs them while it parses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def check_study_runs(key: str, name: str, names: Sequence[str], study_runs: Sequence[str], runs: Mapping) -> None:
    """Raise ValueError naming ``key`` (e.g. ``early_stopping[0]``) when study ``name`` appears twice among
    ``names``, or names a run that is not configured (``runs``: name -> run) or an imported one (no training log).
    """
    if names.count(name) > 1:
        raise ValueError(f"{key}.name: study {name!r} appears more than once")
    unknown = [r for r in study_runs if r not in runs]
    if unknown:
        raise ValueError(f"{key}.runs: {unknown} are not run names (runs are {sorted(runs)})")
    imported = [r for r in study_runs if runs[r].get("imported", False)]
    if imported:
        raise ValueError(f"{key}.runs: {imported} are imported runs, without the training log the study needs")
