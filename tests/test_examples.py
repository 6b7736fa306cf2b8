"""The Examples of the public docstrings run as doctests: the library example from activations to Betti
curves, the converters, the claims' statistics."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "dnn_topology",
    "dnn_topology._lazy",
    "dnn_topology.topology.betti",
    "dnn_topology.topology.interop",
    "dnn_topology.studies.claims",
    "dnn_topology.workflow.finish",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (see the output)"
