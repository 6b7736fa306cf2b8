"""The generalization study: table, grouped cross-validation, baselines, metrics and the fitted model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dnn_topology.studies.generalization import model as gen
from dnn_topology.topology.dipha_files import Diagram, write_persistence_diagram

TOPOLOGY = {
    "split": "train",
    "n_samples": 300,
    "node_selection": {"method": "all"},
    "max_dim": 1,
    "max_epsilon": 0.3,
    "min_persistence": 0.02,
}


def synthetic_table(
    networks=("lenet", "conv_2"), runs_per_network=3, trials=(0, 1), epochs=(1, 2, 4, 8), noise=0.0, seed=0
) -> pd.DataFrame:
    """A study table whose gap is exactly 2 + 40 life - 30 midlife (+ noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for net in networks:
        for r in range(runs_per_network):
            for t in trials:
                for e in epochs:
                    life, mid = rng.uniform(0.02, 0.1), rng.uniform(0.1, 0.3)
                    train = rng.uniform(60, 100)
                    gap = 2 + 40 * life - 30 * mid + noise * rng.normal()
                    rows.append(
                        {
                            "run": f"{net}_v{r}",
                            "network": net,
                            "dataset": "mnist5k",
                            "trial": t,
                            "epoch": e,
                            "train_acc_pct": train,
                            "test_acc_pct": train - gap,
                            "gap_pp": gap,
                            "train_loss": rng.uniform(0, 2),
                            "weight_l2": rng.uniform(5, 50),
                            "life_h1": life,
                            "midlife_h1": mid,
                        }
                    )
    return pd.DataFrame(rows)


def test_grouped_folds_never_put_a_run_on_both_sides():
    table = synthetic_table()
    folds = gen.grouped_folds(table["run"])
    assert len(folds) == table["run"].nunique() == 6
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(table)))  # every row tested exactly once
    for train_rows, test_rows in folds:
        train_runs, test_runs = set(table["run"].iloc[train_rows]), set(table["run"].iloc[test_rows])
        assert len(test_runs) == 1 and not train_runs & test_runs
        assert len(train_rows) + len(test_rows) == len(table)


def test_a_runs_own_targets_never_reach_its_out_of_fold_estimates():
    table = synthetic_table(noise=1.0)
    before = gen.out_of_fold(table, gen.DEFAULT_FEATURES)
    changed = table.copy()
    held = changed["run"] == "lenet_v1"
    changed.loc[held, "gap_pp"] += 50.0  # a leak would move this run's own estimates
    changed.loc[held, "test_acc_pct"] -= 50.0
    after = gen.out_of_fold(changed, gen.DEFAULT_FEATURES)
    loro = (before["cv"] == "leave_one_run_out") & (before["run"] == "lenet_v1")
    np.testing.assert_allclose(after.loc[loro, "gap_est_pp"], before.loc[loro, "gap_est_pp"])
    other = (before["cv"] == "leave_one_run_out") & (before["run"] == "lenet_v2")
    assert not np.allclose(after.loc[other, "gap_est_pp"], before.loc[other, "gap_est_pp"])  # the others did see it
    lono = (before["cv"] == "leave_one_network_out") & (before["network"] == "lenet")
    np.testing.assert_allclose(after.loc[lono, "gap_est_pp"], before.loc[lono, "gap_est_pp"])


def test_cv_schemes_models_and_baselines():
    table = synthetic_table()
    pred = gen.out_of_fold(table, gen.DEFAULT_FEATURES)
    assert set(pred["cv"]) == {"leave_one_run_out", "leave_one_network_out"}
    assert set(pred["model"]) == {"topology", "mean_gap", "train_acc", "train_loss", "weight_l2"}
    assert (pred.groupby(["cv", "model"]).size() == len(table)).all()
    # mean_gap: the training folds' mean gap, by hand for one held-out run
    held = pred[(pred["cv"] == "leave_one_run_out") & (pred["model"] == "mean_gap") & (pred["run"] == "conv_2_v0")]
    np.testing.assert_allclose(held["gap_est_pp"], table.loc[table["run"] != "conv_2_v0", "gap_pp"].mean())
    np.testing.assert_allclose(pred["test_acc_est_pct"], pred["train_acc_pct"] - pred["gap_est_pp"])
    single = gen.out_of_fold(table[table["network"] == "lenet"], gen.DEFAULT_FEATURES)
    assert set(single["cv"]) == {"leave_one_run_out"}  # one network: no leave-one-network-out


def test_metrics_exact_model_and_bootstrap_intervals():
    table = synthetic_table(noise=0.0)
    pred = gen.out_of_fold(table, gen.DEFAULT_FEATURES)
    m = gen.metrics(pred, n_bootstrap=300, seed=1).set_index(["cv", "model", "metric"]).sort_index()
    assert m.loc[("leave_one_run_out", "topology", "mae_pp"), "value"] < 1e-9  # the gap is linear in life, midlife
    assert m.loc[("leave_one_run_out", "topology", "r2_gap"), "value"] == pytest.approx(1.0)
    base = pred[(pred["cv"] == "leave_one_run_out") & (pred["model"] == "mean_gap")]
    e = base["error_pp"].to_numpy()
    row = m.loc[("leave_one_run_out", "mean_gap")]
    assert row.loc["mae_pp", "value"] == pytest.approx(np.abs(e).mean())
    assert row.loc["rmse_pp", "value"] == pytest.approx(np.sqrt((e**2).mean()))
    t = base["test_acc_pct"].to_numpy()
    assert row.loc["r2_test_acc", "value"] == pytest.approx(1 - (e**2).sum() / ((t - t.mean()) ** 2).sum())
    for metric in gen.METRICS:
        r = row.loc[metric]
        assert r["ci_low"] <= r["value"] <= r["ci_high"] and r["ci_low"] < r["ci_high"]
    assert (m["n_runs"].loc["leave_one_run_out"] == 6).all()
    assert "| leave_one_run_out | topology |" in gen.metrics_table(m.reset_index())


def test_r2_is_nan_where_the_target_does_not_vary():
    # one row per run, all with the same test accuracy and gap: R^2 has no variance to explain
    pred = pd.DataFrame(
        {
            "cv": "c",
            "model": "m",
            "run": ["a", "b", "c"],
            "error_pp": [1.0, -2.0, 0.5],
            "test_acc_pct": 80.1,
            "gap_pp": 3.3,
        }
    )
    m = gen.metrics(pred, n_bootstrap=100, seed=0).set_index("metric")
    assert m.loc["mae_pp", "value"] == pytest.approx(3.5 / 3)
    assert np.isnan(m.loc["r2_gap", "value"]) and np.isnan(m.loc["r2_test_acc", "ci_high"])


def test_paired_mae_differences_by_hand():
    # two models on the same rows of 4 runs: |errors| of "b" are those of "topology" + 1 pp on every row
    rows = []
    for i, run in enumerate(["r0", "r1", "r2", "r3"]):
        for model, err in (("topology", 0.5 * (i + 1)), ("b", 0.5 * (i + 1) + 1.0)):
            rows.append(
                {"cv": "loro", "model": model, "run": run, "error_pp": -err, "test_acc_pct": 90.0, "gap_pp": 5.0}
            )
    pred = pd.DataFrame(rows)
    d = gen.mae_differences(pred, n_bootstrap=200, seed=0).iloc[0]
    assert (d["model"], d["reference"]) == ("b", "topology")
    assert d["mae_reference_pp"] == pytest.approx(1.25) and d["mae_model_pp"] == pytest.approx(2.25)
    # paired: every resample gives exactly -1, whatever runs it draws
    assert (
        d["value"] == pytest.approx(-1.0) and d["ci_low"] == pytest.approx(-1.0) and d["ci_high"] == pytest.approx(-1.0)
    )
    assert d["share_not_smaller"] == 0.0 and (d["n_rows"], d["n_runs"]) == (4, 4)
    # unpaired intervals of the two MAEs overlap: the pairing is what makes the difference certain
    m = gen.metrics(pred, n_bootstrap=200, seed=0, by=("cv", "model")).set_index(["model", "metric"])
    assert m.loc[("b", "mae_pp"), "ci_low"] < m.loc[("topology", "mae_pp"), "ci_high"]
    with pytest.raises(ValueError, match="not scored on the same rows"):
        gen.mae_differences(pred.drop(index=7))


def test_fitted_model_json_estimate_and_topology_check(tmp_path):
    table = synthetic_table(noise=0.1)
    model = gen.fit_model(table, gen.DEFAULT_FEATURES, TOPOLOGY, "toy")
    assert model["coefficients"]["life_h1"] == pytest.approx(40, abs=3)
    assert model["coefficients"]["midlife_h1"] == pytest.approx(-30, abs=3)
    assert model["topology"]["feature_max_dim"] == 1 and model["units"]["gap_pp"] == "percentage points"
    pi = model["prediction_interval"]
    assert pi["error_low_pp"] < 0 < pi["error_high_pp"]
    gen.write_model(model, tmp_path / "model.json")
    again = gen.read_model(tmp_path / "model.json")
    assert again == json.loads(json.dumps(model))
    est = gen.estimate(again, {"life_h1": 0.05, "midlife_h1": 0.2}, train_acc=95.0)
    gap = model["intercept"] + 0.05 * model["coefficients"]["life_h1"] + 0.2 * model["coefficients"]["midlife_h1"]
    assert est["test_acc_pct"] == pytest.approx(95.0 - gap) and est["gap_pp"] == pytest.approx(gap)
    assert est["low_pct"] < est["test_acc_pct"] < est["high_pct"] <= 100
    assert gen.estimate(again, {"life_h1": 0.05, "midlife_h1": 0.2}, train_acc=100.0)["high_pct"] == 100.0
    gen.check_topology(again, {**TOPOLOGY, "min_persistence": 0.0})  # min persistence is applied from the model
    with pytest.raises(gen.TopologyMismatchError, match=r"max_epsilon = 0.4, but the model was fitted with 0.3"):
        gen.check_topology(again, {**TOPOLOGY, "max_epsilon": 0.4})
    with pytest.raises(gen.TopologyMismatchError, match="split = 'test'"):
        gen.check_topology(again, {**TOPOLOGY, "split": "test"})
    with pytest.raises(gen.TopologyMismatchError, match="features need H1"):
        gen.check_topology(again, {**TOPOLOGY, "max_dim": 0})
    with pytest.raises(ValueError, match="not a dnn-topology generalization model"):
        (tmp_path / "other.json").write_text("{}")
        gen.read_model(tmp_path / "other.json")


def test_study_table_from_files(tmp_path):
    diagrams = {}
    for epoch, life in ((1, 0.05), (2, 0.1)):
        path = tmp_path / f"trial_0/epoch_{epoch}/diagram.bin"
        path.parent.mkdir(parents=True)
        write_persistence_diagram(path, Diagram([0, 1, 1, -2], [0, 0.1, 0.2, 0.1], [0.2, 0.1 + life, 0.21, 0.3]))
        diagrams[(0, epoch)] = path
    training = pd.DataFrame(
        {
            "run": "r",
            "trial": 0,
            "epoch": [0, 1, 2],
            "train_loss": [2.3, 0.5, 0.2],
            "train_acc_pct": [10.0, 90.0, 95.0],
            "test_loss": [2.3, 0.6, 0.5],
            "test_acc_pct": [10.0, 85.0, 87.5],
            "lr": 0.01,
            "seconds": 1.0,
        }
    )
    summary = pd.DataFrame(
        [
            {
                "run": "r",
                "trial": 0,
                "epoch": e,
                "dim": d,
                "max_betti": e + d,
                "auc_density_pct": 50.0,
                "n_essential": 1,  # a diagram feature too (n_essential_h<k>)
                "mean_life": 0.0,
                "mean_midlife": 0.0,
            }
            for e in (1, 2)
            for d in (0, 1)
        ]
    )
    training.to_csv(tmp_path / "training.csv", index=False)
    summary.to_csv(tmp_path / "summary.csv", index=False)
    table = gen.study_table(
        [
            {
                "run": "r",
                "network": "lenet",
                "dataset": "mnist5k",
                "training": tmp_path / "training.csv",
                "summary": tmp_path / "summary.csv",
                "diagrams": diagrams,
            }
        ],
        max_dim=1,
        min_persistence=0.02,
    )
    assert list(table["epoch"]) == [1, 2]
    np.testing.assert_allclose(table["gap_pp"], [5.0, 7.5])  # percentage points
    np.testing.assert_allclose(table["life_h1"], [0.05, 0.1])  # the (.2, .21) pair is below 0.02, the essential one out
    np.testing.assert_allclose(table["max_betti_h1"], [2, 3])
    assert "mean_life_h1" not in table.columns
    # a count both the diagram features and the summaries give is one column, not a pandas merge's _x and _y
    assert not [c for c in table.columns if c.endswith(("_x", "_y"))], list(table.columns)


@pytest.mark.slow
def test_run_study_and_figures(tmp_path):
    from dnn_topology.studies.generalization.figures import figure_paths, generalization_plots_stage

    table = synthetic_table(noise=1.0)
    table.loc[0, "life_h1"] = np.nan  # a diagram without any H1 pair above the minimum persistence
    table.to_csv(tmp_path / "table.csv", index=False)
    out = {k: tmp_path / f"{k}.x" for k in ("predictions", "metrics", "model", "md", "html", "differences")}
    scores = gen.generalization_fit_stage(
        table=tmp_path / "table.csv",
        study="toy",
        features=gen.DEFAULT_FEATURES,
        topology=TOPOLOGY,
        predictions=out["predictions"],
        metrics_csv=out["metrics"],
        model=out["model"],
        metrics_md=out["md"],
        differences_csv=out["differences"],
        metrics_html=out["html"],
        bootstrap=200,
    )
    differences = pd.read_csv(out["differences"])
    assert set(differences["model"]) == {"mean_gap", "train_acc", "train_loss", "weight_l2"}
    assert (differences["reference"] == "topology").all() and "topology - weight_l2" in out["md"].read_text()
    page = out["html"].read_text()  # the report's readable copy: the metrics, the differences and the fitted model
    assert "<td>leave_one_run_out</td>" in page and "gap_pp = " in page and "prediction interval" in page
    assert "topology - weight_l2" in page
    assert set(scores["model"]) == {"topology", "mean_gap", "train_acc", "train_loss", "weight_l2"}
    pred = pd.read_csv(out["predictions"])
    assert (pred.groupby(["cv", "model"]).size() == len(table) - 1).all()  # the NaN row is left out of all models
    model = gen.read_model(out["model"])
    assert model["fitted_on"]["rows"] == len(table) - 1 and model["topology"]["min_persistence"] == 0.02
    figures = figure_paths(tmp_path / "figures")
    generalization_plots_stage(
        table=tmp_path / "table.csv", predictions=out["predictions"], model=out["model"], outputs=figures
    )
    for path in figures.values():
        assert path.stat().st_size > 1000
    # with held-out estimates (one refused row without an estimate): drawn on the estimated-vs-true panels
    held = pred[pred["cv"] == "leave_one_run_out"].head(12).assign(set="unseen")
    held.loc[held.index[0], "test_acc_est_pct"] = np.nan
    held.to_csv(tmp_path / "held_out_predictions.csv", index=False)
    before = figures["estimated_vs_true_png"].read_bytes()
    generalization_plots_stage(
        table=tmp_path / "table.csv",
        predictions=out["predictions"],
        model=out["model"],
        outputs=figures,
        held_out=[tmp_path / "held_out_predictions.csv"],
    )
    assert figures["estimated_vs_true_png"].read_bytes() != before


def _study_config(**study):
    runs = [{"name": n, "network": "lenet", "dataset": "mnist5k"} for n in ("a", "b", "c", "d")]
    return {
        "runs": runs,
        "activations": {"n_samples": 100, "split": "train", "node_selection": {"method": "all"}},
        "topology": {"epochs": [1, 2], "max_dim": 1, "max_epsilon": 0.4},
        "generalization": [{"name": "s", **study}],
    }


def test_held_out_runs_are_left_out_of_the_default_fit():
    from dnn_topology.studies.generalization.config import check_studies, held_out_runs, study_options

    config = _study_config(held_out={"new": ["c"], "other": ["d"]})
    check_studies(config)
    (study,) = study_options(config).values()
    assert study["runs"] == ["a", "b"] and held_out_runs(study) == ["c", "d"]
    assert study["held_out_table"]["new"] == [{"name": "c", "network": "lenet", "dataset": "mnist5k"}]


@pytest.mark.parametrize(
    "study, message",
    [
        ({"runs": ["a", "b", "c"], "held_out": {"new": ["c"]}}, r"held_out\.new: \['c'\] are also in the fit"),
        ({"held_out": {"new": ["zz"]}}, r"held_out\.new: \['zz'\] are not run names"),
        ({"held_out": {"new": ["c"], "again": ["c"]}}, r"held_out\.new: \['c'\] are held out more than once"),
        (
            {"features": ["entropy_h2"]},
            r"features: \['entropy_h2'\] are not diagram features of dimension <= topology.max_dim \(1\)",
        ),
    ],
)
def test_bad_held_out_sets_are_refused_naming_the_key(study, message):
    from dnn_topology.studies.generalization.config import check_studies

    with pytest.raises(ValueError, match=rf"^generalization\[0\]\.{message}"):
        check_studies(_study_config(**study))


def test_held_out_metrics_coverage_and_left_out_rows():
    from dnn_topology.studies.generalization import held_out as ho

    rows = []
    for net, (err, covered) in {"x/trial_0": (2.0, True), "x/trial_1": (-4.0, False)}.items():
        run, trial = net.split("/trial_")
        for epoch in (1, 5):
            key = {"set": "s", "run": run, "network": "lenet", "dataset": "d", "trial": int(trial), "epoch": epoch}
            truth = {"train_acc_pct": 99.0, "test_acc_pct": 90.0, "gap_pp": 9.0, "network_id": net}
            rows.append(
                {
                    **key,
                    **truth,
                    "model": "topology",
                    "test_acc_est_pct": 90.0 + err,
                    "error_pp": err,
                    "covered": float(covered),
                    "refused": "",
                }
            )
            rows.append(
                {
                    **key,
                    **truth,
                    "model": "mean_gap",
                    "test_acc_est_pct": 91.0,
                    "error_pp": 1.0,
                    "covered": np.nan,
                    "refused": "",
                }
            )
    # one more row the command refused: left out for every model
    key = {"set": "s", "run": "x", "network": "lenet", "dataset": "d", "trial": 0, "epoch": 9}
    truth = {"train_acc_pct": 99.0, "test_acc_pct": 90.0, "gap_pp": 9.0, "network_id": "x/trial_0"}
    rows.append(
        {
            **key,
            **truth,
            "model": "topology",
            "test_acc_est_pct": np.nan,
            "error_pp": np.nan,
            "covered": np.nan,
            "refused": "no H1 pair",
        }
    )
    rows.append(
        {
            **key,
            **truth,
            "model": "mean_gap",
            "test_acc_est_pct": 91.0,
            "error_pp": 1.0,
            "covered": np.nan,
            "refused": "",
        }
    )
    metrics, differences, coverage, left_out = ho.held_out_metrics(pd.DataFrame(rows), n_bootstrap=200)
    assert list(left_out["epoch"]) == [9] and list(left_out["refused"]) == ["no H1 pair"]
    m = metrics.set_index(["epochs", "model", "metric"])
    assert m.loc[("all", "topology", "mae_pp"), "value"] == pytest.approx(3.0)  # |2|, |2|, |-4|, |-4|
    assert m.loc[("all", "mean_gap", "mae_pp"), "n_rows"] == 4  # the refused row is gone for the baseline too
    cov = coverage.set_index("epochs")
    assert cov.loc["all", "value"] == 0.5 and cov.loc["all", "n_runs"] == 2 and cov.loc["all", "n_rows"] == 4
    assert cov.loc["last", "n_rows"] == 2  # epoch 5 of each network (the refused epoch 9 is not "last")
    d = differences.set_index("epochs").loc["all"]
    assert d["model"] == "mean_gap" and d["value"] == pytest.approx(2.0)


def test_a_held_out_run_found_in_the_fit_is_refused():
    from dnn_topology.studies.generalization import held_out as ho

    model = {"study": "s", "fitted_on": {"runs": ["a", "b"]}}
    held = pd.DataFrame({"run": ["c", "b"]})
    with pytest.raises(ValueError, match=r"held-out runs \['b'\] are in the fit"):
        ho.check_not_fitted(held, pd.DataFrame({"run": ["a"]}), model)
    ho.check_not_fitted(pd.DataFrame({"run": ["c"]}), pd.DataFrame({"run": ["a", "b"]}), model)
