"""The claims table on hand-made summaries whose verdicts are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dnn_topology.studies.claims import (
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    claims_stage,
    claims_tables,
    sign_test_p,
    spearman,
    verdict,
)


def summary(values: dict, max_epsilon: float = 0.3) -> pd.DataFrame:
    """A betti_summary.csv-like table from {(trial, epoch, dim): (max_betti, density_at_max[, at_cut])}."""
    rows = []
    for (trial, epoch, dim), v in values.items():
        max_betti, density = v[0], v[1]
        at_cut = v[2] if len(v) > 2 else False
        rows.append(
            {
                "run": "r",
                "trial": trial,
                "epoch": epoch,
                "dim": dim,
                "max_betti": max_betti,
                "epsilon_at_max": max_epsilon if at_cut else max_epsilon / 2,
                "density_at_max": density,
            }
        )
    return pd.DataFrame(rows)


def learning_run(trials=(0, 1), epochs=(0, 1, 2, 4)) -> pd.DataFrame:
    """beta_1 peak density falls, max beta_2 grows, max beta_3 falls, in every trial."""
    values = {}
    for t in trials:
        for i, e in enumerate(epochs):
            values[(t, e, 0)] = (100, 0.0)
            values[(t, e, 1)] = (50 + t, 0.02 - 0.004 * i - 0.001 * t)
            values[(t, e, 2)] = (10 + 5 * i + t, 0.03)
            values[(t, e, 3)] = (9 - 2 * i, 0.035)
    return summary(values)


def test_spearman_and_sign_test():
    assert spearman(np.array([0, 1, 2, 4.0]), np.array([1, 2, 3, 10.0])) == pytest.approx(1.0)
    assert spearman(np.array([0, 1, 2.0]), np.array([3, 2, 1.0])) == pytest.approx(-1.0)
    assert spearman(np.array([0, 1, 2.0]), np.array([5, 5, 5.0])) == 0.0  # no change
    assert np.isnan(spearman(np.array([0, 1, 2.0]), np.array([np.nan, 1, np.nan])))  # one point: no trend
    assert sign_test_p(2, 0) == 0.25
    assert sign_test_p(3, 1) == pytest.approx(5 / 16)
    assert np.isnan(sign_test_p(0, 0))


@pytest.mark.parametrize(
    "stats, sign, expected",
    [
        ([0.5, 0.9], +1, HOLDS),
        ([-0.5, -0.9], -1, HOLDS),
        ([-0.5, 0.0], +1, DOES_NOT_HOLD),  # none goes the claimed way
        ([0.0, 0.0], +1, DOES_NOT_HOLD),
        ([0.5, -0.5], +1, INCONCLUSIVE),  # replicates disagree
        ([0.5, 0.0], +1, INCONCLUSIVE),
        ([np.nan, np.nan], +1, INCONCLUSIVE),  # no replicate
        ([np.nan, 0.3], +1, HOLDS),  # a NaN is not a replicate
    ],
)
def test_verdict(stats, sign, expected):
    assert verdict(stats, sign)["verdict"] == expected


def test_trend_claims_of_a_run_with_known_verdicts():
    claims, evidence = claims_tables({"r": learning_run()}, max_dim=3)
    by = claims.set_index("claim")
    assert by.loc["beta1_peak_lower_density", "verdict"] == HOLDS
    assert by.loc["max_beta2_grows", "verdict"] == HOLDS
    assert by.loc["max_beta3_grows", "verdict"] == DOES_NOT_HOLD  # reported as such
    assert (claims["n_replicates"] == 2).all()
    assert by.loc["max_beta3_grows", "n_opposite"] == 2
    assert by.loc["max_beta2_grows", "sign_test_p"] == 0.25
    # the numbers behind the verdict: densities in percent, mean and spread over trials per epoch
    ev = evidence[(evidence["claim"] == "beta1_peak_lower_density")].set_index("epoch")
    assert ev.loc[0, "mean"] == pytest.approx(100 * (0.02 + 0.019) / 2)
    assert ev.loc[4, "min"] == pytest.approx(100 * (0.02 - 0.012 - 0.001))
    assert ev.loc[4, "max"] == pytest.approx(100 * (0.02 - 0.012))
    assert ev.loc[2, "n_trials"] == 2
    assert "epoch 0: 1.95 [1.9, 2]; epoch 1: 1.55 [1.5, 1.6]" in by.loc["beta1_peak_lower_density", "evidence"]
    assert "trial 0: -1; trial 1: -1" == by.loc["beta1_peak_lower_density", "statistics"]


def test_trials_that_disagree_are_inconclusive():
    s = learning_run()
    flip = (s["trial"] == 1) & (s["dim"] == 2)
    s.loc[flip, "max_betti"] = 100 - s.loc[flip, "max_betti"]  # trial 1: max beta_2 falls
    claims, _ = claims_tables({"r": s}, max_dim=3)
    row = claims.set_index("claim").loc["max_beta2_grows"]
    assert row["verdict"] == INCONCLUSIVE
    assert (row["n_claimed"], row["n_opposite"]) == (1, 1)


def test_undefined_or_uncomputed_quantities_are_inconclusive():
    s = learning_run()
    s.loc[s["dim"] == 1, "max_betti"] = 0  # no 1-cavity: the peak density is undefined
    s = s[s["dim"] < 3]  # H3 not computed
    claims, evidence = claims_tables({"r": s}, max_dim=2)
    by = claims.set_index("claim")
    assert by.loc["beta1_peak_lower_density", "verdict"] == INCONCLUSIVE
    assert by.loc["beta1_peak_lower_density", "n_replicates"] == 0
    assert evidence[evidence["claim"] == "beta1_peak_lower_density"]["mean"].isna().all()
    assert by.loc["max_beta3_grows", "verdict"] == INCONCLUSIVE
    assert "max_dim = 2" in by.loc["max_beta3_grows", "context"]


def test_memorizing_runs_are_paired_with_the_least_permuted_run():
    learning = learning_run()
    shifted = learning.copy()
    shifted.loc[shifted["epoch"] > 0, "density_at_max"] += 0.005  # later epochs: cavities at higher density
    lower = learning.copy()
    lower.loc[lower["epoch"] > 0, "density_at_max"] -= 0.005
    # the order of the runs does not matter: the least permuted one is the learning run
    claims, evidence = claims_tables(
        {"mem": shifted, "half": lower, "learn": learning},
        permute_labels={"mem": 1.0, "half": 0.5, "learn": 0.0},
        max_dim=3,
    )
    paired = claims[claims["claim"] == "memorizing_higher_density"].set_index(["subject", "quantity"])
    assert set(paired.index.get_level_values(0)) == {"mem vs learn", "half vs learn"}
    for k in (1, 2, 3):
        assert paired.loc[("mem vs learn", f"density_at_max (beta_{k})"), "verdict"] == HOLDS
        assert paired.loc[("half vs learn", f"density_at_max (beta_{k})"), "verdict"] == DOES_NOT_HOLD
    # replicates: every trial at every epoch after 0 (epoch 0 is the shared initial weights)
    assert paired.loc[("mem vs learn", "density_at_max (beta_1)"), "n_replicates"] == 2 * 3
    diff = evidence[(evidence["subject"] == "mem vs learn") & (evidence["series"] == "difference")]
    assert set(diff["epoch"]) == {1, 2, 4} and sorted(diff["dim"].unique()) == [1, 2, 3]
    assert len(diff[diff["dim"] == 2]) == 3  # one row per epoch and dimension
    assert np.allclose(diff["mean"], 0.5)  # percentage points
    # trend claims of every run are in the comparison's table too
    assert set(claims[claims["claim"] == "max_beta2_grows"]["subject"]) == {"mem", "half", "learn"}


def test_runs_with_the_same_labels_have_no_paired_claim():
    claims, _ = claims_tables({"a": learning_run(), "b": learning_run()}, permute_labels={"a": 0.0, "b": 0.0})
    assert "memorizing_higher_density" not in set(claims["claim"])


def test_maxima_at_the_cut_are_counted():
    values = {(t, e, 2): (5 + e, 0.03, e > 0) for t in (0, 1) for e in (0, 1, 2)}
    claims, _ = claims_tables({"r": summary(values)}, max_epsilon=0.3)
    assert claims.set_index("claim").loc["max_beta2_grows", "peak_at_cut"] == "4 of 6"


@pytest.mark.slow
def test_claims_stage_writes_table_evidence_and_figure(tmp_path):
    paths = []
    for run in ("learn", "mem"):
        paths.append(tmp_path / f"{run}.csv")
        learning_run().to_csv(paths[-1], index=False)
    training = tmp_path / "training.csv"
    pd.DataFrame({"trial": [0, 0], "epoch": [0, 4], "train_acc": [0.1, 0.99], "test_acc": [0.1, 0.11]}).to_csv(
        training, index=False
    )
    out = {k: tmp_path / "out" / f"claims.{k}" for k in ("csv", "evidence.csv", "png", "pdf")}
    returned = claims_stage(
        runs=["learn", "mem"],
        summaries=paths,
        training=[training, training],
        permute_labels=[0.0, 1.0],
        epochs=[0, 1, 2, 4],
        max_dim=3,
        max_epsilon=0.3,
        outputs={"claims": out["csv"], "evidence": out["evidence.csv"], "png": out["png"], "pdf": out["pdf"]},
        title="demo",
    )
    written = pd.read_csv(out["csv"])
    assert len(written) == len(returned) == 3 + 3 + 3  # 3 trend claims per run, 3 paired dimensions
    assert set(written["verdict"]) <= {HOLDS, DOES_NOT_HOLD, INCONCLUSIVE}
    # identical runs: no pair goes either way
    assert (written[written["claim"] == "memorizing_higher_density"]["verdict"] == DOES_NOT_HOLD).all()
    assert "train acc 0.990, test acc 0.110" in written["context"].iloc[0]
    assert len(pd.read_csv(out["evidence.csv"])) > 0
    assert out["png"].stat().st_size > 0 and out["pdf"].stat().st_size > 0
