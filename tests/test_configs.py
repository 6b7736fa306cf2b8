"""Every ready-made configuration in config/ is valid, and the memorization controls wire through."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dnn_topology.workflow import config as workflow_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
CONFIGS = sorted((REPO / "config").glob("*.yaml"))


def with_defaults(config: dict) -> dict:
    """Validate like snakemake.utils.validate(set_default=True) does."""
    from snakemake.utils import validate

    validate(config, str(REPO / "schemas" / "config.schema.yaml"), set_default=True)
    return config


def test_there_is_one_config_per_experiment_family():
    names = {p.stem for p in CONFIGS}
    assert {"config", "lenet_mnist", "vgg16_cifar10", "memorization"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_is_valid_and_its_runs_build(path, monkeypatch):
    config = with_defaults(yaml.safe_load(path.read_text()))
    # datasets other than mnist5k are not on this machine: check everything but their files
    monkeypatch.setattr(workflow_config.dsets, "check_available", lambda *a, **k: None)
    workflow_config.check_config(config)
    table = workflow_config.run_table(config)
    assert table
    for run in table.values():
        assert run["resources"]["n_nodes"] >= 10
        assert run["resources"]["persistence_mem_mb"] > 0


def test_memorization_config_compares_true_and_permuted_labels():
    config = with_defaults(yaml.safe_load((REPO / "config" / "memorization.yaml").read_text()))
    table = workflow_config.run_table(config)
    perms = sorted(run["training"]["permute_labels"] for run in table.values())
    assert perms == [0.0, 0.5, 1.0]
    assert set(config["comparisons"][0]["runs"]) == set(table)
    # the runs differ only in their labels
    settings = [{k: v for k, v in run["training"].items() if k != "permute_labels"} for run in table.values()]
    assert all(s == settings[0] for s in settings)
    # topology from the first to the last epoch, in 3D too
    assert {0, config["training"]["epochs"]} <= set(config["topology"]["epochs"])
    assert config["topology"]["max_dim"] == 3


def test_shipped_configs_compute_3d_cavities():
    # adversarial.yaml keeps H0..H2: 21 topology chains (clean and 18 attacked) within its offline time budget;
    # its measured results in docs/studies/adversarial.md are for H0..H2. The generalization studies (CVPR 2020) regress
    # on H1 features only, so they compute H0..H1; the early-stopping study (and its pilot) reads beta_1 and beta_2 at
    # 15 epochs of 10 trials, so it computes H0..H2; memorization_cut04.yaml (the 2020 cut, |corr| >= 0.2) computes
    # H0..H2: H3 there does not fit the offline budget (measured in docs/studies/memorization.md)
    expected = {
        "adversarial.yaml": 2,
        "memorization_cut04.yaml": 2,
        "generalization_gap.yaml": 1,
        "generalization_gap_full.yaml": 1,
        "early_stopping.yaml": 2,
        "early_stopping_pilot.yaml": 2,
    }
    for path in CONFIGS:
        assert with_defaults(yaml.safe_load(path.read_text()))["topology"]["max_dim"] == expected.get(path.name, 3), (
            path.name
        )


def _load(name: str) -> dict:
    return with_defaults(yaml.safe_load((REPO / "config" / name).read_text()))


def test_learning_claims_config_is_the_default_with_enough_trials_to_decide():
    from dnn_topology.studies.claims import sign_test_p

    default, study = _load("config.yaml"), _load("learning_claims.yaml")
    n = len(study["trials"])
    # the smallest number of trials whose two-sided sign test can reach p < 0.05 (all agreeing)
    assert sign_test_p(n, 0) < 0.05 <= sign_test_p(n - 1, 0)
    assert study["trials"] == list(range(n)) and set(default["trials"]) <= set(study["trials"])
    # nothing else differs from the default run: same network, data, training, activations and topology
    for key in ("training", "activations", "topology", "betti_curves", "device"):
        assert study[key] == default[key], key
    assert [(r["network"], r["dataset"], r.get("training")) for r in study["runs"]] == [
        (r["network"], r["dataset"], r.get("training")) for r in default["runs"]
    ]
    assert study["runs"][0]["name"] != default["runs"][0]["name"]  # its results beside the default's


def test_memorization_cut04_config_differs_from_memorization_only_in_the_cut():
    at_03, at_04 = _load("memorization.yaml"), _load("memorization_cut04.yaml")
    assert (at_03["topology"]["max_epsilon"], at_04["topology"]["max_epsilon"]) == (0.3, 0.4)
    assert at_04["topology"]["max_dim"] >= 2
    for key in ("trials", "training", "activations", "betti_curves"):
        assert at_04[key] == at_03[key], key
    other = {k: v for k, v in at_04["topology"].items() if k not in ("max_epsilon", "max_dim")}
    assert other == {k: v for k, v in at_03["topology"].items() if k not in ("max_epsilon", "max_dim")}
    # the same runs under other names (their results side by side), compared the same way
    assert [{**r, "name": r["name"] + "_cut04"} for r in at_03["runs"]] == at_04["runs"]
    assert [[r + "_cut04" for r in c["runs"]] for c in at_03["comparisons"]] == [
        c["runs"] for c in at_04["comparisons"]
    ]


def test_vgg16_config_reduces_to_about_6000_nodes(monkeypatch):
    config = with_defaults(yaml.safe_load((REPO / "config" / "vgg16_cifar10.yaml").read_text()))
    monkeypatch.setattr(workflow_config.dsets, "check_available", lambda *a, **k: None)
    (run,) = workflow_config.run_table(config).values()
    assert 5000 <= run["resources"]["n_nodes"] <= 6500


def test_unknown_comparison_run_names_the_key():
    config = with_defaults(yaml.safe_load((REPO / "config" / "memorization.yaml").read_text()))
    config["comparisons"][0]["runs"] = ["lenet_mnist5k_perm0", "nope"]
    with pytest.raises(workflow_config.ConfigError, match=r"comparisons\[0\]\.runs"):
        workflow_config.check_config(config)


def test_schema_rejects_unknown_keys():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["training"]["learning_rate"] = 0.1
    with pytest.raises(Exception, match="learning_rate"):
        with_defaults(config)


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c["runs"][0].update(name="comparisons"), "comparisons"),
        (lambda c: c["runs"][0].update(training={"binarize_class": 12}), "binarize_class"),
        (lambda c: c["topology"].update(epochs=[0, 99]), "topology.epochs"),
        (lambda c: c["activations"].update(n_samples=1001), "activations.n_samples"),
        (
            lambda c: (
                c["activations"].update(split="train", n_samples=500),
                c["runs"][0].update(training={"subset": 0.1}),
            ),
            r"n_samples: 500 samples asked for, but the network trains on training.subset = 0.1 .*: 400",
        ),
    ],
)
def test_semantic_errors_name_the_key(change, key):
    config = with_defaults(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    change(config)
    with pytest.raises(workflow_config.ConfigError, match=key):
        workflow_config.check_config(config)


@pytest.mark.parametrize("name", ["lenet_mnist5k", "a", "run-1.v2", "x" * 128])
def test_path_safe_names_pass(name):
    assert workflow_config.check_path_name(name, "runs[0].name") == name


@pytest.mark.parametrize("name", ["", "..", ".hidden", "../x", "a/b", "x/../../y", "/abs", "a b", "x" * 129, 3])
def test_names_that_could_leave_the_project_are_refused_naming_the_key(name):
    with pytest.raises(workflow_config.ConfigError, match=r"^comparisons\[2\]\.name: .* becomes part of a file path"):
        workflow_config.check_path_name(name, "comparisons[2].name")


def test_every_nonfinite_number_is_found_with_its_key():
    config = {"training": {"lr": 0.1}, "runs": [{"training": {"momentum": 0.9}}, {"training": {"lr": float("-inf")}}]}
    with pytest.raises(workflow_config.ConfigError, match=r"^runs\[1\]\.training\.lr: -inf is not a finite number"):
        workflow_config.check_finite(config)
    workflow_config.check_finite({"topology": {"max_epsilon": 0.3, "epochs": [0, 1]}, "trials": [0]})


GAP_CONFIGS = ["generalization_gap.yaml", "generalization_gap_full.yaml"]


@pytest.mark.parametrize("name", GAP_CONFIGS)
def test_generalization_configs_fit_true_label_networks_and_hold_out_others(name, monkeypatch):
    from dnn_topology.studies.generalization.config import held_out_runs, study_options

    config = with_defaults(yaml.safe_load((REPO / "config" / name).read_text()))
    monkeypatch.setattr(workflow_config.dsets, "check_available", lambda *a, **k: None)
    workflow_config.check_config(config)
    assert config["topology"]["max_dim"] == 1 and config["activations"]["split"] == "train"
    assert config["topology"]["max_epsilon"] == 0.4 and len(config["trials"]) >= 3
    assert len(config["topology"]["epochs"]) >= 4
    runs = workflow_config.run_table(config)
    studies = study_options(config)
    assert [s["features"] for s in studies.values()][0] == ["life_h1", "midlife_h1"]
    for study in studies.values():
        fit, held = study["runs"], held_out_runs(study)
        assert not set(fit) & set(held)  # no held-out run in the fit
        # the fit: true labels only, several architectures and training-set sizes
        assert all(runs[r]["training"]["permute_labels"] == 0 for r in fit)
        assert len({runs[r]["run"]["network"] for r in fit}) >= 2
        assert len({runs[r]["training"]["subset"] for r in fit}) >= 3
        # held out: a configuration not in the fit; permuted labels only as their own set
        fit_configs = {
            (runs[r]["run"]["network"], runs[r]["run"]["dataset"], runs[r]["training"]["subset"]) for r in fit
        }
        for set_name, set_runs in study["held_out"].items():
            for r in set_runs:
                if set_name == "permuted_labels":
                    assert runs[r]["training"]["permute_labels"] > 0
                else:
                    assert runs[r]["training"]["permute_labels"] == 0
                    key = (runs[r]["run"]["network"], runs[r]["run"]["dataset"], runs[r]["training"]["subset"])
                    assert key not in fit_configs


def test_generalization_study_names_are_path_safe():
    config = with_defaults(yaml.safe_load((REPO / "config" / "generalization_gap.yaml").read_text()))
    config["generalization"][0]["name"] = "../outside"
    with pytest.raises(
        workflow_config.ConfigError, match=r"^generalization\[0\]\.name: .* becomes part of a file path"
    ):
        workflow_config.check_config(config)
