"""Tables as small standalone HTML pages, so that the Snakemake report shows them inline (it embeds HTML
results, and offers CSV files only for download). The CSV files stay the tables to compute with;
these pages are their readable copies: numbers rounded, columns named in words with their units.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..io_utils import atomic_path

__all__ = ["html_page", "write_html"]

_CSS = """
body { font-family: sans-serif; font-size: 13px; margin: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
p.note { color: #444; max-width: 60em; }
"""


def html_page(title: str, sections: Sequence[tuple[str, pd.DataFrame | str]], note: str = "") -> str:
    """A page with ``title``, an optional ``note``, and one table (or paragraph of text) per section.

    Examples
    --------
    >>> page = html_page("demo", [("numbers", pd.DataFrame({"epoch": [0, 1], "test accuracy (%)": [9.5, 80.25]}))])
    >>> "<th>test accuracy (%)</th>" in page and "<td>80.25</td>" in page
    True
    """
    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h2>{html.escape(title)}</h2>",
    ]
    if note:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    for heading, content in sections:
        if heading:
            parts.append(f"<h3>{html.escape(heading)}</h3>")
        if isinstance(content, pd.DataFrame):
            parts.append(content.to_html(index=False, border=0, na_rep="-", float_format=lambda v: f"{v:.4g}"))
        else:
            parts.append(f"<p>{html.escape(content)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(
    path: str | Path, title: str, sections: Sequence[tuple[str, pd.DataFrame | str]], note: str = ""
) -> None:
    """Write :func:`html_page` to ``path`` (atomically)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(html_page(title, sections, note))
