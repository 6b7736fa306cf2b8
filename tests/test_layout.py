"""The results layout: every path is built and parsed by dnn_topology.layout, and by nothing else."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dnn_topology import layout
from dnn_topology.studies.adversarial.config import AttackSpec, attack_table

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("attack", [None, "adv_fgsm_eps0.1", "adv_pgd-linf_eps0.25"])
@pytest.mark.parametrize("run", ["lenet_mnist5k", "trial_3", "r.1"])
def test_per_epoch_paths_parse_back_to_what_built_them(run, attack):
    path = layout.fill(
        layout.epoch_file("betti_curves.csv"), run=run, trial=2, epoch=16, inputs=layout.input_set(attack)
    )
    assert path.startswith(f"results/{run}/trial_2/epoch_16/")
    assert layout.parse_epoch_path(path) == layout.ResultPath(run, 2, 16, attack, "betti_curves.csv")
    assert layout.parse_epoch_path(Path("/somewhere/trial_9/epoch_9") / path).trial == 2  # the end of the path counts
    log = layout.fill(layout.epoch_file("persistence.log", layout.LOGS), run=run, trial=2, epoch=16)
    assert log == f"logs/{run}/trial_2/epoch_16/persistence.log"
    trial_file = layout.fill(layout.trial_file("training.csv"), run=run, trial=5)
    assert layout.parse_trial_path(trial_file) == layout.ResultPath(run, 5, None, None, "training.csv")


def test_attacked_files_are_the_per_epoch_files_of_their_input_set():
    spec = AttackSpec("fgsm", "fgsm", 0.1)
    assert spec.attack_id == layout.attack_id("fgsm", 0.1) == "adv_fgsm_eps0.1"
    where = {"run": "r", "trial": 0, "epoch": 4}
    assert layout.fill(layout.attack_file("activations.npy"), attack=spec.attack_id, **where) == layout.fill(
        layout.epoch_file("activations.npy"), inputs=layout.input_set(spec.attack_id), **where
    )
    assert layout.attack_of_input_set(layout.input_set(spec.attack_id)) == spec.attack_id
    assert layout.attack_of_input_set(layout.input_set(None)) is None


def test_paths_that_are_not_per_epoch_files_are_refused_naming_them():
    for path in (
        "results/r/trial_0/training.csv",
        "results/r/betti_curves.csv",
        "results/r/trial_0/checkpoints/epoch_1.pt",
    ):
        with pytest.raises(ValueError, match=re.escape(path)):
            layout.parse_epoch_path(path)
    with pytest.raises(ValueError, match="expected .../trial_<T>/<file>"):
        layout.parse_trial_path("results/r/trial_0/epoch_1/diagram.bin")
    with pytest.raises(ValueError, match="wildcard 'trial'"):
        layout.fill(layout.checkpoint(), run="r", epoch=1)


def test_wildcard_constraints_match_the_configured_names_only():
    attacks = attack_table({"attacks": [{"method": "fgsm", "epsilons": [0.1, 0.2]}]})
    constraints = layout.wildcard_constraints(["lenet_mnist5k", "a.b"], [], attacks, ["gap"])
    inputs = re.compile(constraints["inputs"])
    assert inputs.fullmatch("") and inputs.fullmatch("adv_fgsm_eps0.1/") and inputs.fullmatch("adv_fgsm_eps0.2/")
    assert not inputs.fullmatch("adv_fgsm_eps0.3/") and not inputs.fullmatch("adv_fgsm_eps0x1/")
    run = re.compile(constraints["run"])
    assert run.fullmatch("a.b") and not run.fullmatch("axb") and not run.fullmatch("lenet")
    assert constraints["comparison"] == "NO_COMPARISON" and re.fullmatch(constraints["study"], "gap")


def test_rules_take_every_results_and_logs_path_from_the_layout():
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        text = path.read_text()
        assert not re.search(r"[\"'](results|logs)/", text), f"{path.name} writes a results or logs path itself"
        assert "trial_{" not in text and "epoch_{" not in text, f"{path.name} writes the layout itself"


def test_no_other_module_of_the_package_parses_results_paths():
    """No regex of a results folder (``trial_(\\d+)/``, ``epoch_\\d+/``) outside the layout (the original code's
    file names, ``ckpt_trial_<T>_epoch_<E>.t7``, are read by dnn_topology.networks.original)."""
    for path in sorted((REPO / "src" / "dnn_topology").rglob("*.py")):
        if path.name != "layout.py":
            text = path.read_text()
            assert not re.search(r"(?:trial|epoch)_\(?\\d\+\)?/", text), f"{path} parses a results path"


def test_the_layout_module_is_light():
    probe = (
        "import sys, json\nimport dnn_topology.layout\n"
        "print(json.dumps(sorted(m for m in ('torch', 'pandas', 'matplotlib', 'scipy') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
