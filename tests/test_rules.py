"""A newcomer finds any stage in one hop from its rule: each rule's script is one keyword call of a
``<stage>_stage`` function of the package, which exists and takes those keywords."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RULE = re.compile(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", re.M | re.S)


def _rules() -> dict[str, str]:
    rules = {}
    for path in sorted((REPO / "rules").glob("*.smk")):
        rules.update({name: body for name, body in RULE.findall(path.read_text())})
    return rules


def _stage_call(script: Path) -> tuple[str, str, list[str]]:
    """(module, function, keywords) of the one ``<stage>_stage(...)`` call of a rule's script."""
    tree = ast.parse(script.read_text())
    imported = {
        alias.asname or alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dnn_topology")
        for alias in node.names
    }
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("_stage")
    ]
    assert len(calls) == 1, f"{script.name}: {len(calls)} calls of a *_stage function, expected one"
    (call,) = calls
    assert not call.args and all(k.arg for k in call.keywords), f"{script.name}: keyword arguments only"
    return imported[call.func.id], call.func.id, [k.arg for k in call.keywords]


def test_every_rule_calls_one_stage_of_the_package_from_its_script():
    rules = _rules()
    assert {"train", "activations", "persistence", "attack", "generalization_fit"} <= set(rules)
    for name, body in rules.items():
        assert body.lstrip().startswith('"""'), f"rule {name} has no docstring"
        found = re.search(r'script:\s*\n\s*"\.\./(scripts/\w+\.py)"', body)
        assert found, f"rule {name} has no script"
        script = REPO / found.group(1)
        assert script.is_file(), f"rule {name}: {script} is missing"
        assert re.search(rf"\b{name}\b", script.read_text().splitlines()[0]), f"{script.name} does not name rule {name}"
        module, stage, keywords = _stage_call(script)
        function = getattr(importlib.import_module(module), stage)
        assert stage == f"{script.stem}_stage", f"rule {name}: {script.name} calls {stage}"
        parameters = inspect.signature(function).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        unknown = [k for k in keywords if k not in parameters and not takes_any]
        assert not unknown, f"rule {name}: {stage} in {module} takes no {unknown}"
