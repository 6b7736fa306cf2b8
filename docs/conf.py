"""Sphinx configuration of the documentation site: ``make docs`` (or ``tests/test_docs.py``) builds it.

The Markdown pages of docs/ (and config/README.md, results/README.md, CHANGELOG.md through includes) are read by
myst-parser; the API pages document the package from its numpydoc docstrings. Warnings are errors (``-W``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's package, installed or not

import dnn_topology  # noqa: E402

project = "dnn-topology"
author = "the dnn-topology developers"
copyright = "2026, the dnn-topology developers"
version = release = dnn_topology.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# Markdown: anchors for headings (links such as development.md#layers), tables, $...$ left alone
myst_heading_anchors = 3

# API pages: every public member of a module, in source order; a package's own page lists its modules
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc Parameters sections give the types
autosummary_generate = False  # the API pages are written by hand (docs/api/): nothing generated into the sources
numpydoc_show_class_members = False  # autodoc lists them
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"dnn-topology {release}"
html_static_path: list[str] = []

# The docstrings write absolute values as |x| (|corr|, |Pearson correlation|), which reStructuredText reads as
# substitutions: these keep them as written.
rst_prolog = r"""
.. |corr| replace:: \|corr\|
.. |Pearson correlation| replace:: \|Pearson correlation\|
.. |Pearson corr(a_i, a_j)| replace:: \|Pearson corr(a_i, a_j)\|
"""

# Markdown files outside docs/ that the site includes as pages (docs/<page>.md): a link to the file (which is
# what a reader on the repository's web page follows) goes to its page in the site.
INCLUDED = {
    "README": "index",
    "config/README": "config",
    "results/README": "results",
    "dipha/README": "dipha_build",
    "CHANGELOG": "changelog",
}


def setup(app):
    from sphinx import addnodes
    from sphinx.transforms.post_transforms import SphinxPostTransform

    class LinksToIncludedFiles(SphinxPostTransform):
        default_priority = 5  # before myst-parser resolves Markdown links (9)

        def run(self, **kwargs) -> None:
            pages = {str(ROOT / path): page for path, page in INCLUDED.items()}
            for node in self.document.findall(addnodes.pending_xref):
                if node.get("reftype") == "myst" and node.get("refdomain") == "doc":
                    node["reftarget"] = pages.get(node["reftarget"], node["reftarget"])

    app.add_post_transform(LinksToIncludedFiles)
