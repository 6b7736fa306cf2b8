"""The claims table on hand-made summaries whose verdicts are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dnn_topology.studies.claims import (
    CONSISTENT,
    CONTRADICTED,
    MIXED,
    NO_CHANGE,
    NOT_TESTABLE,
    OPPOSITE,
    SUPPORTED,
    VERDICTS,
    claims_stage,
    claims_tables,
    mean_interval,
    replicates_needed,
    sign_test_p,
    spearman,
    verdict,
)


def summary(values: dict, max_epsilon: float = 0.3) -> pd.DataFrame:
    """A betti_summary.csv-like table from {(trial, epoch, dim): (max_betti, density_pct_at_max[, at_cut])}."""
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
                "density_pct_at_max": density,
            }
        )
    return pd.DataFrame(rows)


def learning_run(trials=(0, 1), epochs=(0, 1, 2, 4)) -> pd.DataFrame:
    """beta_1 peak density falls, max beta_2 grows, max beta_3 falls, in every trial."""
    values = {}
    for t in trials:
        for i, e in enumerate(epochs):
            values[(t, e, 0)] = (100, 0.0)
            values[(t, e, 1)] = (50 + t, 2.0 - 0.4 * i - 0.1 * t)  # percent of node pairs
            values[(t, e, 2)] = (10 + 5 * i + t, 3.0)
            values[(t, e, 3)] = (9 - 2 * i, 3.5)
    return summary(values)


def test_spearman_sign_test_and_replicates_needed():
    assert spearman(np.array([0, 1, 2, 4.0]), np.array([1, 2, 3, 10.0])) == pytest.approx(1.0)
    assert spearman(np.array([0, 1, 2.0]), np.array([3, 2, 1.0])) == pytest.approx(-1.0)
    assert spearman(np.array([0, 1, 2.0]), np.array([5, 5, 5.0])) == 0.0  # no change
    assert np.isnan(spearman(np.array([0, 1, 2.0]), np.array([np.nan, 1, np.nan])))  # one point: no trend
    # two-sided exact sign test: 2 agreeing trials say little, 6 is the fewest that can reach p < 0.05
    assert sign_test_p(2, 0) == sign_test_p(0, 2) == 0.5
    assert sign_test_p(5, 0) == 2 / 32 > 0.05 > sign_test_p(6, 0) == 2 / 64
    assert sign_test_p(3, 1) == pytest.approx(2 * 5 / 16)
    assert sign_test_p(2, 2) == 1.0
    assert np.isnan(sign_test_p(0, 0))
    assert replicates_needed(2, 0) == replicates_needed(9, 0) == 6
    assert replicates_needed(3, 1) == 20  # 15 of 20: p = 0.041
    assert np.isnan(replicates_needed(1, 1)) and np.isnan(replicates_needed(0, 0))


def test_effect_interval():
    mean, low, high = mean_interval([-0.3, -0.4])
    assert mean == pytest.approx(-0.35)
    half = 12.706 * np.std([-0.3, -0.4], ddof=1) / np.sqrt(2)  # Student t, 1 degree of freedom
    assert (low, high) == pytest.approx((-0.35 - half, -0.35 + half), abs=1e-3)
    assert mean_interval([0.9, 0.95, 1.0], bounds=(-1, 1))[2] == 1.0  # rho's interval is clipped
    assert np.isnan(mean_interval([0.5])[1])  # one trial: no interval
    assert np.isnan(mean_interval([0.5, 0.5])[1])  # no spread between trials: no precision either


@pytest.mark.parametrize(
    "stats, sign, expected",
    [
        ([0.5, 0.9], +1, CONSISTENT),  # two agreeing trials: not significant (p = 0.5)
        ([-0.5, -0.9], -1, CONSISTENT),
        ([0.3] * 6, +1, SUPPORTED),  # six: p = 0.031
        ([0.3] * 5, +1, CONSISTENT),  # five: p = 0.0625
        ([-0.3] * 6, +1, CONTRADICTED),
        ([-0.5, 0.0], +1, OPPOSITE),
        ([0.5, 0.0], +1, CONSISTENT),  # a zero is no evidence either way
        ([0.5, -0.5], +1, MIXED),
        ([0.5] * 7 + [-0.5], +1, MIXED),  # 7 of 8: p = 0.07
        ([0.5] * 9 + [-0.5], +1, SUPPORTED),  # 9 of 10: p = 0.021
        ([0.0, 0.0], +1, NO_CHANGE),
        ([np.nan, np.nan], +1, NOT_TESTABLE),  # no replicate
        ([np.nan, 0.3], +1, CONSISTENT),  # a NaN is not a replicate
    ],
)
def test_verdict_words_carry_their_strength(stats, sign, expected):
    v = verdict(stats, sign)
    assert v["verdict"] == expected
    assert (v["p_value"] < 0.05) == (expected in (SUPPORTED, CONTRADICTED))


def test_trend_claims_of_a_run_with_known_verdicts():
    claims, replicates, evidence = claims_tables({"r": learning_run()}, max_dim=3)
    by = claims.set_index("claim")
    # every trial agrees, but 2 trials cannot decide: consistent, not significant, 6 trials needed
    assert by.loc["beta1_peak_lower_density", "verdict"] == CONSISTENT
    assert by.loc["max_beta2_grows", "verdict"] == CONSISTENT
    assert by.loc["max_beta3_grows", "verdict"] == OPPOSITE  # reported as such
    assert (claims["n_replicates"] == 2).all() and (claims["n_needed"] == 6).all()
    assert by.loc["max_beta3_grows", "n_opposite"] == 2
    assert by.loc["max_beta2_grows", "p_value"] == 0.5
    row = by.loc["beta1_peak_lower_density"]
    assert row["effect_mean"] == -1.0  # both trials: rho = -1; equal values give no interval
    assert np.isnan(row["effect_ci_low"]) and np.isnan(row["effect_ci_high"])
    assert row["first_mean"] == pytest.approx((2.0 + 1.9) / 2) and row["last_mean"] == pytest.approx((0.8 + 0.7) / 2)
    assert (row["first_epoch"], row["last_epoch"]) == (0, 4)
    # numeric columns, not text
    for column in ("n_replicates", "effect_mean", "p_value", "n_needed", "first_mean", "n_at_cut"):
        assert pd.api.types.is_numeric_dtype(claims[column]), column
    # one replicate per trial, with its statistic and direction relative to the claim
    rep = replicates[replicates["claim"] == "beta1_peak_lower_density"]
    assert list(rep["trial"]) == [0, 1] and list(rep["statistic"]) == [-1.0, -1.0] and list(rep["direction"]) == [1, 1]
    # the numbers behind the verdict: tidy, one row per trial and epoch, densities in percent
    ev = evidence[evidence["claim"] == "beta1_peak_lower_density"].set_index(["trial", "epoch"])
    assert ev.loc[(1, 4), "value"] == pytest.approx(2.0 - 1.2 - 0.1) and len(ev) == 2 * 4


def test_six_agreeing_trials_support_a_claim():
    claims, _, _ = claims_tables({"r": learning_run(trials=range(6))}, max_dim=3)
    by = claims.set_index("claim")
    assert by.loc["max_beta2_grows", "verdict"] == SUPPORTED
    assert by.loc["max_beta2_grows", "p_value"] == pytest.approx(2 / 64)
    assert by.loc["max_beta3_grows", "verdict"] == CONTRADICTED


def test_trials_that_disagree_are_mixed():
    s = learning_run()
    flip = (s["trial"] == 1) & (s["dim"] == 2)
    s.loc[flip, "max_betti"] = 100 - s.loc[flip, "max_betti"]  # trial 1: max beta_2 falls
    claims, _, _ = claims_tables({"r": s}, max_dim=3)
    row = claims.set_index("claim").loc["max_beta2_grows"]
    assert row["verdict"] == MIXED
    assert (row["n_claimed"], row["n_opposite"]) == (1, 1) and np.isnan(row["n_needed"])
    assert row["effect_mean"] == pytest.approx(0.0) and row["effect_ci_low"] < 0 < row["effect_ci_high"]


def test_undefined_or_uncomputed_quantities_are_not_testable():
    s = learning_run()
    s.loc[s["dim"] == 1, "max_betti"] = 0  # no 1-cavity: the peak density is undefined
    s = s[s["dim"] < 3]  # H3 not computed
    claims, _, evidence = claims_tables({"r": s}, max_dim=2)
    by = claims.set_index("claim")
    assert by.loc["beta1_peak_lower_density", "verdict"] == NOT_TESTABLE
    assert by.loc["beta1_peak_lower_density", "n_replicates"] == 0
    assert evidence[evidence["claim"] == "beta1_peak_lower_density"]["value"].isna().all()
    assert by.loc["max_beta3_grows", "verdict"] == NOT_TESTABLE
    assert "max_dim = 2" in by.loc["max_beta3_grows", "note"]


def test_memorizing_runs_are_paired_with_the_least_permuted_run():
    learning = learning_run(trials=range(6))
    shifted = learning.copy()
    shifted.loc[shifted["epoch"] > 0, "density_pct_at_max"] += 0.5  # later epochs: cavities at higher density
    lower = learning.copy()
    lower.loc[lower["epoch"] > 0, "density_pct_at_max"] -= 0.5
    # the order of the runs does not matter: the least permuted one is the learning run
    claims, replicates, evidence = claims_tables(
        {"mem": shifted, "half": lower, "learn": learning},
        permute_labels={"mem": 1.0, "half": 0.5, "learn": 0.0},
        max_dim=3,
    )
    paired = claims[claims["claim"] == "memorizing_higher_density"].set_index(["subject", "dim"])
    assert set(paired.index.get_level_values(0)) == {"mem vs learn", "half vs learn"}
    for k in (1, 2, 3):
        assert paired.loc[("mem vs learn", k), "verdict"] == SUPPORTED  # 6 of 6 trials
        assert paired.loc[("half vs learn", k), "verdict"] == CONTRADICTED
        assert paired.loc[("mem vs learn", k), "effect_mean"] == pytest.approx(0.5)  # percentage points
        assert (paired.loc[("mem vs learn", k), "run"], paired.loc[("mem vs learn", k), "reference"]) == (
            "mem",
            "learn",
        )
    # one replicate per trial (its epochs after 0 averaged): epochs of one trial are not independent
    assert paired.loc[("mem vs learn", 1), "n_replicates"] == 6
    rep = replicates[(replicates["subject"] == "mem vs learn") & (replicates["dim"] == 2)]
    assert len(rep) == 6 and np.allclose(rep["statistic"], 0.5)
    diff = evidence[(evidence["subject"] == "mem vs learn") & (evidence["series"] == "difference")]
    assert set(diff["epoch"]) == {1, 2, 4} and sorted(diff["dim"].unique()) == [1, 2, 3]
    assert np.allclose(diff["value"], 0.5)
    # trend claims of every run are in the comparison's table too
    assert set(claims[claims["claim"] == "max_beta2_grows"]["subject"]) == {"mem", "half", "learn"}


def test_runs_with_the_same_labels_have_no_paired_claim():
    claims, _, _ = claims_tables({"a": learning_run(), "b": learning_run()}, permute_labels={"a": 0.0, "b": 0.0})
    assert "memorizing_higher_density" not in set(claims["claim"])


def test_maxima_at_the_cut_are_counted_and_flagged():
    values = {(t, e, 2): (5 + e, 3.0, e > 0) for t in (0, 1) for e in (0, 1, 2)}
    claims, _, evidence = claims_tables({"r": summary(values)}, max_epsilon=0.3)
    row = claims.set_index("claim").loc["max_beta2_grows"]
    assert (row["n_at_cut"], row["n_maxima"]) == (4, 6)
    ev = evidence[evidence["claim"] == "max_beta2_grows"]
    assert list(ev.sort_values(["trial", "epoch"])["at_cut"]) == [False, True, True] * 2


@pytest.mark.slow
def test_claims_stage_writes_tables_readable_copy_and_figure(tmp_path):
    paths = []
    for run in ("learn", "mem"):
        paths.append(tmp_path / f"{run}.csv")
        learning_run().to_csv(paths[-1], index=False)
    training = tmp_path / "training.csv"
    pd.DataFrame(
        {"trial": [0, 0], "epoch": [0, 4], "train_acc_pct": [10.0, 99.0], "test_acc_pct": [10.0, 11.0]}
    ).to_csv(training, index=False)
    names = {"claims": "claims.csv", "replicates": "rep.csv", "evidence": "ev.csv", "markdown": "claims.md"}
    out = {k: tmp_path / "out" / v for k, v in {**names, "png": "claims.png", "pdf": "claims.pdf"}.items()}
    returned = claims_stage(
        runs=["learn", "mem"],
        summaries=paths,
        training=[training, training],
        permute_labels=[0.0, 1.0],
        epochs=[0, 1, 2, 4],
        max_dim=3,
        max_epsilon=0.3,
        outputs=out,
        title="demo",
    )
    written = pd.read_csv(out["claims"])
    assert len(written) == len(returned) == 3 + 3 + 3  # 3 trend claims per run, 3 paired dimensions
    assert set(written["verdict"]) <= set(VERDICTS)
    # identical runs: no trial goes either way
    assert (written[written["claim"] == "memorizing_higher_density"]["verdict"] == NO_CHANGE).all()
    assert written["train_acc_pct"].iloc[0] == 99.0 and written["test_acc_pct"].iloc[0] == 11.0  # percent
    assert len(pd.read_csv(out["evidence"])) > 0 and len(pd.read_csv(out["replicates"])) == 9 * 2
    text = out["markdown"].read_text()
    assert "the beta_1 peak moves to lower edge density" in text and "consistent, not significant" in text
    assert "needs >= 6 trials for p < 0.05" in text and "train 99.0%, test 11.0%" in text
    assert out["png"].stat().st_size > 0 and out["pdf"].stat().st_size > 0
