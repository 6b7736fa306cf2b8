"""The import-linter contracts of pyproject.toml (run by `make lint`) stay sound.

import-linter sees every import of a module, also those inside functions; the parse-time contract therefore
names the deferred ones in `ignore_imports`. An ignored edge would also hide an import moved to module level,
so each one is checked here: every import it stands for sits inside a function body (or an
``if TYPE_CHECKING:`` block, which never runs).
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PARSE_TIME = "What the workflow imports while Snakemake parses it"


def contracts() -> list[dict]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]["contracts"]


def parse_time_contract() -> dict:
    (contract,) = [c for c in contracts() if c["name"].startswith(PARSE_TIME)]
    return contract


def module_file(module: str) -> Path:
    path = SRC.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Absolute names an import statement of ``module`` imports (a ``from X import y`` imports X and X.y)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        parts = module.split(".")
        base = parts[: len(parts) - node.level + (1 if is_package else 0)]
        stem = ".".join([*base, *([node.module] if node.module else [])])
    else:
        stem = node.module
    return [stem, *(f"{stem}.{alias.name}" for alias in node.names)]


def is_type_checking(node: ast.AST) -> bool:
    """An ``if TYPE_CHECKING:`` block: its imports never run (import-linter leaves them out too)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_in(source: str, module: str, target: str, is_package: bool = False) -> list[tuple[int, bool]]:
    """(line, deferred) of each import of ``target`` (or a submodule) in ``module``'s ``source``.

    Deferred: inside a function, or in an ``if TYPE_CHECKING:`` block; not run when the module is imported.
    """
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                names = imported_names(child, module, is_package)
                if any(n == target or n.startswith(target + ".") for n in names):
                    found.append((child.lineno, in_function))
            deferred = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) or is_type_checking(child)
            visit(child, in_function or deferred)

    visit(ast.parse(source), False)
    return found


def imports_of(module: str, target: str) -> list[tuple[int, bool]]:
    path = module_file(module)
    return imports_in(path.read_text(), module, target, is_package=path.name == "__init__.py")


def ignored_edges() -> list[tuple[str, str]]:
    edges = [tuple(part.strip() for part in edge.split("->")) for edge in parse_time_contract()["ignore_imports"]]
    assert edges and all(len(e) == 2 for e in edges), edges
    return edges


@pytest.mark.parametrize("importer,target", ignored_edges(), ids=lambda x: x)
def test_every_import_the_parse_time_contract_ignores_is_inside_a_function(importer, target):
    found = imports_of(importer, target)
    assert found, f"{importer} no longer imports {target}: remove it from ignore_imports"
    at_module_level = [line for line, in_function in found if not in_function]
    assert not at_module_level, f"{importer} imports {target} at module level (line {at_module_level})"


SOURCE = """
from typing import TYPE_CHECKING
import torch.nn as nn
from ..networks import models
from . import datasets as dsets

def load():
    import torch
    from ..networks.models import build_network
    return torch, build_network

class Loader:
    def __call__(self):
        from torchvision import transforms

if TYPE_CHECKING:
    import pandas as pd
"""


def test_the_check_tells_module_level_imports_from_deferred_ones():
    module = "dnn_topology.workflow.resources"
    assert imports_in(SOURCE, module, "torch") == [(3, False), (8, True)]
    assert imports_in(SOURCE, module, "dnn_topology.networks.models") == [(4, False), (9, True)]
    assert imports_in(SOURCE, module, "dnn_topology.workflow.datasets") == [(5, False)]
    assert imports_in(SOURCE, module, "torchvision") == [(14, True)]
    assert imports_in(SOURCE, module, "pandas") == [(17, True)]
    assert imports_in(SOURCE, "dnn_topology.workflow", "dnn_topology.datasets", is_package=True) == []
    assert imports_in(SOURCE, "dnn_topology.workflow", "dnn_topology.workflow.datasets", is_package=True) == [
        (5, False)
    ]
    # and on the package itself: training imports torch at module level
    assert False in {inside for _, inside in imports_of("dnn_topology.networks.training", "torch")}


def test_the_parse_time_contract_forbids_what_test_parse_checks():
    from test_parse import NOT_AT_PARSE

    assert set(NOT_AT_PARSE) <= set(parse_time_contract()["forbidden_modules"])
