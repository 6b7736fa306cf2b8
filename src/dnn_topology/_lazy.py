"""Lazy public names for a package (PEP 562), so that importing a package imports none of its modules.

The workflow imports a few light modules while Snakemake parses it (no torch, pandas or matplotlib:
``tests/test_parse.py`` and the import-linter contracts in ``pyproject.toml``). A package whose
``__init__`` imported its modules eagerly would pull their heavy imports into every import of any of
its submodules; with :func:`attach`, ``from dnn_topology.topology import betti_curves`` imports
``dnn_topology.topology.betti`` on first use and nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def attach(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``, which exports ``name`` from submodule ``exports[name]``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping of str to str
        Public name -> the submodule (relative to ``package``) that defines it.

    Examples
    --------
    In a package's ``__init__.py``:

    >>> __getattr__, __dir__, __all__ = attach("dnn_topology.topology", {"betti_curves": "betti"})
    >>> __all__
    ['betti_curves']
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__, sorted(exports)
