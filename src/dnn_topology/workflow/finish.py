"""What a finished run tells its user: where the figures and tables are, and how to make the report.

Called by the workflow's ``onsuccess`` hook (only after a real run that succeeded: not after ``-n``, not
inside cluster jobs). Imports nothing heavy: it runs in Snakemake's own process.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .. import layout

FIGURE_SUFFIX = ".png"  # every figure is also written as PDF next to it


def figure_folders(
    runs: Iterable[str] = (),
    comparisons: Iterable[str] = (),
    studies: Iterable[str] = (),
    root: str | Path = ".",
) -> list[tuple[str, int]]:
    """``(folder, number of figures)`` of every figure folder of these runs, comparisons and generalization
    studies that holds figures (relative to ``root``, the workflow's working directory)."""
    candidates = []
    for run in runs:
        candidates += [
            _folder(layout.run_plot("x", "png"), run=run),
            _folder(layout.adversarial_plot("x", "png"), run=run),
        ]
    candidates += [_folder(layout.comparison_file("x.png"), comparison=name) for name in comparisons]
    candidates += [_folder(layout.study_figure("x", "png"), study=name) for name in studies]
    found = []
    for folder in candidates:
        n = len(list((Path(root) / folder).glob(f"*{FIGURE_SUFFIX}")))
        if n:
            found.append((folder, n))
    return found


def finish_message(
    runs: Iterable[str] = (), comparisons: Iterable[str] = (), studies: Iterable[str] = (), root: str | Path = "."
) -> str:
    """The lines a finished run ends with: each figure folder, the claims tables, and the report command.

    Examples
    --------
    >>> print(finish_message(["lenet_mnist5k"], root="/nonexistent"))
    No figures yet (results/<run>/plots/ once the runs' plot jobs have run).
    """
    folders = figure_folders(runs, comparisons, studies, root)
    if not folders:
        return "No figures yet (results/<run>/plots/ once the runs' plot jobs have run)."
    lines = ["Figures (PNG, and PDF next to each):"]
    lines += [f"  {folder}/  ({n} figure{'s' if n != 1 else ''})" for folder, n in folders]
    claims = [layout.fill(layout.run_file("claims.md"), run=r) for r in runs]
    claims += [layout.fill(layout.comparison_file("claims.md"), comparison=c) for c in comparisons]
    claims = [path for path in claims if (Path(root) / path).is_file()]
    if claims:
        lines.append("Claims checked, in words: " + ", ".join(claims))
    lines.append("All of it in one page: `make report` (or `snakemake --report results/report.html`).")
    return "\n".join(lines)


def _folder(pattern: str, **wildcards) -> str:
    """The folder of a file pattern of :mod:`dnn_topology.layout`, filled with ``wildcards``."""
    return str(Path(layout.fill(pattern, **wildcards)).parent)
