"""Where the workflow writes each result: the one place that builds and parses results paths.

Every output lives under ``results/<run>/`` (a run: one network trained on one dataset, or imported)
and every log under ``logs/<run>/``; a run's name is one path component.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["run_name"]


def run_name(run: Mapping) -> str:
    """The name of a configured run: its ``name``, else ``<network>_<dataset>``.

    Examples
    --------
    >>> run_name({"network": "lenet", "dataset": "mnist5k"})
    'lenet_mnist5k'
    >>> run_name({"name": "mine", "network": "lenet", "dataset": "mnist5k"})
    'mine'
    """
    return run.get("name") or f"{run['network']}_{run['dataset']}"
