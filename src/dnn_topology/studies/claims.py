"""The paper's claims checked on what a run measured: verdicts with their strength, and the numbers behind them.

Claims (Corneanu et al., CVPR 2019), each checked on the per-trial, per-epoch Betti summaries
(``betti_summary.csv``) of a run, or of the runs of a comparison:

=============================  =======================================================================
claim                          statement
=============================  =======================================================================
``beta1_peak_lower_density``   the beta_1 peak moves to lower edge density as training proceeds
``max_beta2_grows``            max beta_2 grows with training
``max_beta3_grows``            max beta_3 grows with training
``memorizing_higher_density``  (comparisons) a memorizing run's beta_k (k = 1..max_dim) peaks at a higher
                               edge density than the learning run's at the same epoch
=============================  =======================================================================

The first three are *trend* claims, checked on each run. The last is a *paired* claim, checked in a
comparison whose runs differ in ``training.permute_labels``: the least permuted run is the learning
run, every more permuted run is a memorizing run compared with it (one row per run and dimension).

Rules
-----
**Replicates are independent trials** (each trial trains with its own seed). One statistic per trial:

* trend claims: Spearman's rank correlation rho between the epoch and the quantity over the analysed
  epochs (epochs where the quantity is undefined are left out; a trial needs 2 epochs with a value).
  The claimed sign is -1 for the peak density, +1 for the maxima. A quantity that does not change
  has rho = 0;
* paired claims: the memorizing run's value minus the learning run's, at the same trial and epoch,
  averaged over the analysed epochs after 0 where both are defined (epoch 0 is the initial weights,
  identical in both runs when their seeds are), in the quantity's unit (percentage points of edge
  density). The claimed sign is +1. Epochs of one trial are not independent replicates: they are
  averaged, not counted.

**Effect**: the mean of the per-trial statistics with a 95% Student-t interval over trials (none
with fewer than 2 trials, or when every trial has the same value; rho's interval clipped to [-1, 1]). It describes the size of the effect;
the verdict rests on the test below, which needs no assumption about the statistic's distribution
(rho of a few epochs takes few values).

**Test**: the exact two-sided sign test of the non-zero statistics, p = min(1, 2 P(X >= max(k, n - k))),
X ~ Binomial(n, 1/2), k of the n non-zero statistics going the claimed way. Its smallest possible
p-value with n trials is 2 / 2^n: **at least 6 trials are needed to reach p < 0.05** (6 agreeing trials:
p = 0.031; 5: p = 0.0625; 2: p = 0.5).

**Verdicts** (:data:`ALPHA` = 0.05), whose words carry their strength:

* ``supported``: p < 0.05 and most trials go the claimed way;
* ``contradicted``: p < 0.05 and most trials go the other way;
* ``consistent, not significant``: every non-zero trial goes the claimed way, p >= 0.05 (too few trials
  to decide; two agreeing trials are *not* support);
* ``opposite, not significant``: every non-zero trial goes the other way, p >= 0.05;
* ``mixed``: trials go both ways, p >= 0.05;
* ``no change``: every trial's statistic is 0;
* ``not testable``: no trial has a statistic (the quantity is undefined, or the dimension was not
  computed: ``topology.max_dim``).

**Replicates needed** (``n_needed``): the smallest number of trials at which a sign test would reach
p < 0.05 if trials kept going the ways they went here, in the same proportion (6 when all agree;
none when they split evenly). A projection from what was seen, not a power calculation.

**Peaks at the cut.** A Betti curve that still rises where the filtration was cut
(``topology.max_epsilon``) has its maximum at the cut: that maximum is a lower bound and its density
the density at the cut, not a peak. ``n_at_cut`` of ``n_maxima`` counts the (run, trial, epoch)
maxima behind a row that lie at the cut; the evidence table flags each (``at_cut``) and the figure
draws them as open markers.

Units and tables
----------------
Edge density in percent of the n(n - 1)/2 node pairs (``density_pct_at_max``); maxima in number of
classes; accuracies in percent. The density at the peak of beta_k is undefined (NaN) when beta_k is 0
along the whole curve.

* ``claims.csv`` (:data:`CLAIM_COLUMNS`): one row per claim and subject (a run, or a memorizing run vs
  the learning run), numbers in numeric columns: the counts, the effect and its interval, the p-value,
  the verdict, the replicates needed, the quantity's mean at the first and last analysed epoch, the
  maxima at the cut, and the accuracies at the last analysed epoch;
* ``claims_replicates.csv`` (:data:`REPLICATE_COLUMNS`): each trial's statistic;
* ``claims_evidence.csv`` (:data:`EVIDENCE_COLUMNS`): the quantity per series (run, or the paired
  difference), trial and epoch, and whether that maximum lies at the cut;
* ``claims.md``: the same as a readable table (statement, verdict, effect, p, trials, evidence per epoch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..io_utils import atomic_path
from ..topology.dipha_files import PathLike

ALPHA = 0.05
LEVEL = 0.95  # of the effect's interval
SUPPORTED, CONTRADICTED = "supported", "contradicted"
CONSISTENT, OPPOSITE = "consistent, not significant", "opposite, not significant"
MIXED, NO_CHANGE, NOT_TESTABLE = "mixed", "no change", "not testable"
VERDICTS = (SUPPORTED, CONTRADICTED, CONSISTENT, OPPOSITE, MIXED, NO_CHANGE, NOT_TESTABLE)
TREND_STATISTIC = "spearman_rho"
PAIRED_STATISTIC = "mean_difference"
TEST = "exact two-sided sign test over trials"

CLAIM_COLUMNS = [
    "subject",
    "run",
    "reference",
    "claim",
    "dim",
    "quantity",
    "unit",
    "statistic",
    "n_replicates",
    "n_claimed",
    "n_opposite",
    "n_zero",
    "effect_mean",
    "effect_ci_low",
    "effect_ci_high",
    "p_value",
    "verdict",
    "n_needed",
    "first_epoch",
    "last_epoch",
    "first_mean",
    "last_mean",
    "n_at_cut",
    "n_maxima",
    "train_acc_pct",
    "test_acc_pct",
    "reference_train_acc_pct",
    "reference_test_acc_pct",
    "note",
]
REPLICATE_COLUMNS = ["subject", "claim", "dim", "trial", "statistic", "direction"]
EVIDENCE_COLUMNS = ["subject", "claim", "dim", "series", "trial", "epoch", "value", "at_cut"]


@dataclass(frozen=True)
class Claim:
    """A claim about one summary quantity of one homology dimension."""

    name: str
    statement: str  # plain text, for tables
    title: str  # for figures (matplotlib mathtext)
    dim: int
    quantity: str  # a column of betti_summary.csv
    sign: int  # the claimed direction: +1 grows / higher, -1 falls / lower

    @property
    def unit(self) -> str:
        return "% of node pairs" if self.quantity.startswith("density") else "classes"

    @property
    def label(self) -> str:
        """The quantity in words, with its unit (figures)."""
        if self.quantity.startswith("density"):
            return rf"edge density at the $\beta_{self.dim}$ peak" + "\n(% of node pairs)"
        return rf"max $\beta_{self.dim}$" + f"\n(number of {self.dim}-cavities)"


TREND_CLAIMS = (
    Claim(
        "beta1_peak_lower_density",
        "the beta_1 peak moves to lower edge density as training proceeds",
        r"the $\beta_1$ peak moves to lower edge density with training",
        1,
        "density_pct_at_max",
        -1,
    ),
    Claim(
        "max_beta2_grows",
        "max beta_2 grows with training",
        r"max $\beta_2$ grows with training",
        2,
        "max_betti",
        +1,
    ),
    Claim(
        "max_beta3_grows",
        "max beta_3 grows with training",
        r"max $\beta_3$ grows with training",
        3,
        "max_betti",
        +1,
    ),
)
"""Claims checked on every run (trend over epochs, trials as replicates)."""


def memorizing_claim(dim: int) -> Claim:
    """The paired claim about the k-cavities of dimension ``dim`` (k >= 1)."""
    return Claim(
        "memorizing_higher_density",
        f"a memorizing run's beta_{dim} peaks at higher edge density than the learning run's at the same epoch",
        rf"memorizing: the $\beta_{dim}$ peak sits at higher edge density",
        dim,
        "density_pct_at_max",
        +1,
    )


# --------------------------------------------------------------------------- the statistics


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); 0 when either side is constant, NaN when
    fewer than 2 points are finite."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return round(float(np.corrcoef(rx, ry)[0, 1]), 12)  # 1.0, not 0.9999999999999999


def sign_test_p(n_claimed: int, n_opposite: int) -> float:
    """Exact two-sided sign test: min(1, 2 P(X >= max(k, n - k))), X ~ Binomial(n, 1/2), n = n_claimed +
    n_opposite; NaN without a non-zero replicate.

    Examples
    --------
    >>> sign_test_p(2, 0), sign_test_p(5, 0), sign_test_p(6, 0), sign_test_p(3, 3)
    (0.5, 0.0625, 0.03125, 1.0)
    """
    n = n_claimed + n_opposite
    if n == 0:
        return float("nan")
    k = max(n_claimed, n_opposite)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n)


def replicates_needed(n_claimed: int, n_opposite: int, alpha: float = ALPHA, limit: int = 10_000) -> float:
    """Smallest number of replicates at which the sign test reaches p < ``alpha`` if they split as these
    did (the majority's share kept); NaN when they split evenly or there is none.

    Examples
    --------
    >>> replicates_needed(2, 0), replicates_needed(3, 1), replicates_needed(1, 1)
    (6.0, 20.0, nan)
    """
    n = n_claimed + n_opposite
    if n == 0 or n_claimed == n_opposite:
        return float("nan")
    share = max(n_claimed, n_opposite) / n
    for m in range(1, limit + 1):
        k = math.floor(share * m + 1e-9)
        if sign_test_p(k, m - k) < alpha:
            return float(m)
    return float("nan")


def mean_interval(
    values: Sequence[float], level: float = LEVEL, bounds=(-np.inf, np.inf)
) -> tuple[float, float, float]:
    """Mean of ``values`` and its Student-t interval, clipped to ``bounds``. No interval (NaN bounds) with
    fewer than 2 values, or when they are all equal: a spread of 0 between a few trials is no precision."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if not len(v):
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if len(v) < 2 or np.ptp(v) == 0:
        return mean, float("nan"), float("nan")
    from scipy.stats import t  # deferred: scipy for this one quantile

    half = float(t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return mean, float(np.clip(mean - half, *bounds)), float(np.clip(mean + half, *bounds))


def verdict(statistics: Sequence[float], sign: int, alpha: float = ALPHA) -> dict:
    """Counts of the replicates going the claimed way (``sign``), the other way and neither, the
    sign-test p-value, the verdict and the replicates needed (see the module docstring). NaN
    statistics are not replicates.

    Examples
    --------
    >>> verdict([-0.3, -0.9], -1)["verdict"], verdict([-0.3] * 6, -1)["verdict"], verdict([0.3] * 6, -1)["verdict"]
    ('consistent, not significant', 'supported', 'contradicted')
    """
    st = np.asarray([s for s in statistics if np.isfinite(s)], dtype=float)
    claimed = int((np.sign(st) == sign).sum())
    opposite = int((np.sign(st) == -sign).sum())
    zero = len(st) - claimed - opposite
    p = sign_test_p(claimed, opposite)
    if not len(st):
        result = NOT_TESTABLE
    elif claimed + opposite == 0:
        result = NO_CHANGE
    elif p < alpha:
        result = SUPPORTED if claimed > opposite else CONTRADICTED
    elif opposite == 0:
        result = CONSISTENT
    elif claimed == 0:
        result = OPPOSITE
    else:
        result = MIXED
    return {
        "n_replicates": len(st),
        "n_claimed": claimed,
        "n_opposite": opposite,
        "n_zero": zero,
        "p_value": p,
        "verdict": result,
        "n_needed": replicates_needed(claimed, opposite, alpha),
    }


# --------------------------------------------------------------------------- the quantities


def quantity_table(summary: pd.DataFrame, claim: Claim, epochs: Sequence[int] | None = None) -> pd.DataFrame:
    """Trial x epoch table of ``claim.quantity`` for dimension ``claim.dim``.

    A peak density is NaN where beta_k is 0 along the whole curve; a dimension that was not computed
    gives an empty table."""
    s = _rows(summary, claim.dim, epochs)
    values = s[claim.quantity].astype(float)
    if claim.quantity.startswith("density"):
        values = values.where(s["max_betti"] > 0)
    return _pivot(s.assign(value=values))


def at_cut_table(
    summary: pd.DataFrame, dim: int, epochs: Sequence[int] | None, max_epsilon: float | None
) -> pd.DataFrame:
    """Trial x epoch: does beta_dim reach its maximum at the cut ``max_epsilon`` (the curve's last point)?"""
    s = _rows(summary, dim, epochs)
    at = (
        np.isclose(s["epsilon_at_max"], max_epsilon) & (s["max_betti"] > 0)
        if max_epsilon is not None
        else np.zeros(len(s), bool)
    )
    return _pivot(s.assign(value=at)).fillna(False).astype(bool)


def _rows(summary: pd.DataFrame, dim: int, epochs: Sequence[int] | None) -> pd.DataFrame:
    s = summary[summary["dim"] == dim]
    return s if epochs is None else s[s["epoch"].isin(list(epochs))]


def _pivot(s: pd.DataFrame) -> pd.DataFrame:
    return s.pivot(index="trial", columns="epoch", values="value").sort_index(axis=0).sort_index(axis=1)


def _evidence(subject: str, claim: Claim, series: str, values: pd.DataFrame, at_cut: pd.DataFrame | None) -> list:
    return [
        {
            "subject": subject,
            "claim": claim.name,
            "dim": claim.dim,
            "series": series,
            "trial": int(t),
            "epoch": int(e),
            "value": float(values.loc[t, e]),
            "at_cut": bool(at_cut.loc[t, e])
            if at_cut is not None and t in at_cut.index and e in at_cut.columns
            else False,
        }
        for t in values.index
        for e in values.columns
    ]


def _replicates(subject: str, claim: Claim, stats: Mapping[int, float]) -> list:
    return [
        {
            "subject": subject,
            "claim": claim.name,
            "dim": claim.dim,
            "trial": int(t),
            "statistic": s,
            "direction": int(np.sign(s) * claim.sign) if np.isfinite(s) else 0,
        }
        for t, s in stats.items()
    ]


def _row(subject: str, run: str, reference: str, claim: Claim, statistic: str, stats: Mapping[int, float], values):
    """The claims-table row of ``claim`` from the per-trial ``stats`` and the trial x epoch ``values``."""
    bounds = (-1.0, 1.0) if statistic == TREND_STATISTIC else (-np.inf, np.inf)
    mean, low, high = mean_interval(list(stats.values()), bounds=bounds)
    epochs = list(values.columns)
    first = values[epochs[0]].mean() if epochs else np.nan
    last = values[epochs[-1]].mean() if epochs else np.nan
    return {
        "subject": subject,
        "run": run,
        "reference": reference,
        "claim": claim.name,
        "dim": claim.dim,
        "quantity": claim.quantity,
        "unit": claim.unit,
        "statistic": statistic,
        **verdict(list(stats.values()), claim.sign),
        "effect_mean": mean,
        "effect_ci_low": low,
        "effect_ci_high": high,
        "first_epoch": epochs[0] if epochs else np.nan,
        "last_epoch": epochs[-1] if epochs else np.nan,
        "first_mean": float(first),
        "last_mean": float(last),
        "note": "",
    }


def trend_claim(
    summary: pd.DataFrame,
    subject: str,
    claim: Claim,
    epochs: Sequence[int] | None = None,
    max_dim: int | None = None,
    max_epsilon: float | None = None,
) -> tuple[dict, list[dict], list[dict]]:
    """Check a trend claim on one run's summaries: the claims-table row, its replicates and its evidence."""
    table = quantity_table(summary, claim, epochs)
    cut = at_cut_table(summary, claim.dim, table.columns, max_epsilon)
    x = table.columns.to_numpy(dtype=float)
    stats = {int(t): spearman(x, table.loc[t].to_numpy(dtype=float)) for t in table.index}
    row = _row(subject, subject, "", claim, TREND_STATISTIC, stats, table)
    row.update(n_at_cut=int(cut.to_numpy().sum()), n_maxima=_n_maxima(summary, claim.dim, table.columns))
    if max_dim is not None and claim.dim > max_dim:
        row["note"] = f"beta_{claim.dim} not computed (topology.max_dim = {max_dim})"
    elif not len(table.columns):
        row["note"] = f"no summary of dimension {claim.dim}"
    return row, _replicates(subject, claim, stats), _evidence(subject, claim, subject, table, cut)


def _n_maxima(summary: pd.DataFrame, dim: int, epochs) -> int:
    s = _rows(summary, dim, list(epochs))
    return int((s["max_betti"] > 0).sum())


def paired_claim(
    learning: pd.DataFrame,
    memorizing: pd.DataFrame,
    names: tuple[str, str],
    claim: Claim,
    epochs: Sequence[int] | None = None,
    max_epsilon: float | None = None,
) -> tuple[dict, list[dict], list[dict]]:
    """Check a paired claim: ``memorizing`` minus ``learning`` at the same trial and epoch (> 0), averaged
    per trial over the epochs. ``names`` are the learning and the memorizing run's names."""
    a = quantity_table(learning, claim, epochs)
    b = quantity_table(memorizing, claim, epochs)
    trials = a.index.intersection(b.index)
    common = [e for e in a.columns.intersection(b.columns) if e > 0]
    a, b = a.loc[trials, common], b.loc[trials, common]
    diff = b - a
    stats = {int(t): float(diff.loc[t].mean()) if diff.loc[t].notna().any() else float("nan") for t in trials}
    learning_name, memorizing_name = names
    subject = f"{memorizing_name} vs {learning_name}"
    cut_a = at_cut_table(learning, claim.dim, common, max_epsilon)
    cut_b = at_cut_table(memorizing, claim.dim, common, max_epsilon)
    evidence = (
        _evidence(subject, claim, learning_name, a, cut_a)
        + _evidence(subject, claim, memorizing_name, b, cut_b)
        + _evidence(subject, claim, "difference", diff, None)
    )
    row = _row(subject, memorizing_name, learning_name, claim, PAIRED_STATISTIC, stats, diff)
    row.update(
        n_at_cut=int(cut_a.loc[cut_a.index.intersection(trials)].to_numpy().sum())
        + int(cut_b.loc[cut_b.index.intersection(trials)].to_numpy().sum()),
        n_maxima=_n_maxima(learning[learning["trial"].isin(trials)], claim.dim, common)
        + _n_maxima(memorizing[memorizing["trial"].isin(trials)], claim.dim, common),
    )
    return row, _replicates(subject, claim, stats), evidence


def _accuracy(training: pd.DataFrame | None, epochs: Sequence[int]) -> tuple[float, float]:
    """Train and test accuracy (percent, mean over trials) at the last of ``epochs``."""
    if training is None or not len(epochs):
        return float("nan"), float("nan")
    at = training[training["epoch"] == max(epochs)]
    if not len(at):
        return float("nan"), float("nan")
    return float(at["train_acc_pct"].mean()), float(at["test_acc_pct"].mean())


def claims_tables(
    summaries: Mapping[str, pd.DataFrame],
    permute_labels: Mapping[str, float] | None = None,
    training: Mapping[str, pd.DataFrame] | None = None,
    epochs: Sequence[int] | None = None,
    max_dim: int | None = None,
    max_epsilon: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The claims table, its replicates and its evidence for one run or the runs of a comparison.

    Parameters
    ----------
    summaries : mapping of str to DataFrame
        Run name -> its aggregated ``betti_summary.csv`` (columns trial, epoch, dim, max_betti, ...).
    permute_labels : mapping of str to float, optional
        Run name -> ``training.permute_labels``; with two or more distinct values, each more permuted
        run is checked against the least permuted one (paired claims, dimensions 1..max_dim).
    training : mapping of str to DataFrame, optional
        Run name -> its ``training.csv``; gives the accuracies at the last analysed epoch.
    epochs : sequence of int, optional
        The epochs analysed (default: every epoch in the summaries).
    max_dim : int, optional
        ``topology.max_dim``; a claim about a higher dimension is reported as not computed.
    max_epsilon : float, optional
        ``topology.max_epsilon``, the cut: maxima reached there are counted in ``n_at_cut``.

    Returns
    -------
    claims, replicates, evidence : DataFrame
        Columns :data:`CLAIM_COLUMNS`, :data:`REPLICATE_COLUMNS` and :data:`EVIDENCE_COLUMNS`.
    """
    training = training or {}
    rows, replicates, evidence = [], [], []
    for run, summary in summaries.items():
        run_epochs = sorted(summary["epoch"].unique()) if epochs is None else sorted(epochs)
        train_acc, test_acc = _accuracy(training.get(run), run_epochs)
        for claim in TREND_CLAIMS:
            row, rep, ev = trend_claim(summary, run, claim, run_epochs, max_dim, max_epsilon)
            rows.append({**row, "train_acc_pct": train_acc, "test_acc_pct": test_acc})
            replicates += rep
            evidence += ev
    perms = dict(permute_labels or {})
    if len(set(perms.values())) > 1:
        learning = min(perms, key=lambda r: (perms[r], list(perms).index(r)))
        dims = sorted(d for d in summaries[learning]["dim"].unique() if d >= 1)
        for run in (r for r in perms if perms[r] > perms[learning]):
            shared = sorted(set(summaries[run]["epoch"]) & set(summaries[learning]["epoch"]))
            pair_epochs = shared if epochs is None else sorted(set(epochs) & set(shared))
            accuracy = {
                "train_acc_pct": _accuracy(training.get(run), pair_epochs)[0],
                "test_acc_pct": _accuracy(training.get(run), pair_epochs)[1],
                "reference_train_acc_pct": _accuracy(training.get(learning), pair_epochs)[0],
                "reference_test_acc_pct": _accuracy(training.get(learning), pair_epochs)[1],
            }
            for dim in dims:
                claim = memorizing_claim(int(dim))
                row, rep, ev = paired_claim(
                    summaries[learning], summaries[run], (learning, run), claim, pair_epochs, max_epsilon
                )
                rows.append({**row, **accuracy})
                replicates += rep
                evidence += ev
    return (
        pd.DataFrame(rows, columns=CLAIM_COLUMNS),
        pd.DataFrame(replicates, columns=REPLICATE_COLUMNS),
        pd.DataFrame(evidence, columns=EVIDENCE_COLUMNS),
    )


# --------------------------------------------------------------------------- the readable copy and the figure


def _claim_of(row) -> Claim:
    if row["claim"] == "memorizing_higher_density":
        return memorizing_claim(int(row["dim"]))
    return next(c for c in TREND_CLAIMS if c.name == row["claim"])


def _g(v: float, digits: int = 3) -> str:
    return "-" if not np.isfinite(v) else f"{v:.{digits}g}"


def effect_text(row, replicates: pd.DataFrame | None = None, digits: int = 2) -> str:
    """The effect: ``rho = -0.30 [-0.95, +0.35]`` (mean over trials and its 95% interval), with the
    per-trial values when there are few (``replicates``: the rows of :data:`REPLICATE_COLUMNS` of this claim)."""
    what = "rho" if row["statistic"] == TREND_STATISTIC else "memorizing - learning"
    unit = " pp" if row["statistic"] == PAIRED_STATISTIC and row["unit"].startswith("%") else ""
    if not np.isfinite(row["effect_mean"]):
        return f"{what}: none"
    text = f"{what} = {row['effect_mean']:+.{digits}f}{unit}"
    if np.isfinite(row["effect_ci_low"]):
        text += f" [{row['effect_ci_low']:+.{digits}f}, {row['effect_ci_high']:+.{digits}f}]"
    if replicates is not None and 1 < len(replicates) <= 6:
        values = ", ".join(f"{v:+.{digits}f}" for v in replicates["statistic"] if np.isfinite(v))
        text += f" (trials: {values})"
    return text


def strength_text(row, sep: str = "; ") -> str:
    """``p = 0.50 (sign test, 2 of 2 trials the claimed way); needs >= 6 trials for p < 0.05``."""
    if row["n_replicates"] == 0:
        return "no trial with a value"
    p = "p = -" if not np.isfinite(row["p_value"]) else f"p = {row['p_value']:.2g}"
    text = f"{p} (sign test, {row['n_claimed']} of {row['n_replicates']} trials the claimed way)"
    if row["verdict"] not in (SUPPORTED, CONTRADICTED):
        needed = row["n_needed"]
        text += sep + (
            f"needs >= {needed:.0f} trials for p < {ALPHA:g}"
            if np.isfinite(needed)
            else "trials split evenly: no number of them is projected to decide"
        )
    return text


def _replicates_of(replicates: pd.DataFrame | None, row) -> pd.DataFrame | None:
    if replicates is None:
        return None
    return replicates[
        (replicates["subject"] == row["subject"])
        & (replicates["claim"] == row["claim"])
        & (replicates["dim"] == row["dim"])
    ]


RULES_NOTE = (
    "Replicates are trials. Effect: Spearman's rho between epoch and quantity per trial (trend claims), or the "
    "memorizing minus the learning run's value averaged over the epochs after 0 (paired claims); mean over trials "
    "[95% t-interval]. Test: exact two-sided sign test over trials; at least 6 trials are needed to reach "
    "p < 0.05. Verdicts: supported / contradicted (p < 0.05); consistent, not significant / opposite, not "
    "significant (every trial one way, too few to decide); mixed; no change; not testable. A maximum at the "
    "filtration cut is a lower bound. Rules: module dnn_topology.studies.claims."
)


def readable_claims(claims: pd.DataFrame, replicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """The claims table in words, one row per claim and subject (``claims.md``, ``claims.html``)."""
    rows = [
        {
            "claim": _claim_of(row).statement,
            "subject": row["subject"],
            "verdict": row["verdict"],
            "effect [95% CI]": effect_text(row, _replicates_of(replicates, row)),
            "strength": strength_text(row),
            "maxima at the cut": f"{row['n_at_cut']} of {row['n_maxima']}",
        }
        for _, row in claims.iterrows()
    ]
    return pd.DataFrame(
        rows, columns=["claim", "subject", "verdict", "effect [95% CI]", "strength", "maxima at the cut"]
    )


def claims_markdown(
    claims: pd.DataFrame, evidence: pd.DataFrame, title: str = "", replicates: pd.DataFrame | None = None
) -> str:
    """The claims table in words (``claims.md``): one section per claim and subject."""
    lines = [f"# Claims: {title}" if title else "# Claims", "", RULES_NOTE, ""]
    table = readable_claims(claims, replicates)
    lines += ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    lines.append("")
    for _, row in claims.iterrows():
        claim = _claim_of(row)
        lines += [f"## {claim.statement} ({row['subject']})", ""]
        ev = evidence[
            (evidence["subject"] == row["subject"])
            & (evidence["claim"] == row["claim"])
            & (evidence["dim"] == row["dim"])
        ]
        for series, g in ev.groupby("series", sort=False):
            per_epoch = g.groupby("epoch")["value"]
            cells = "; ".join(
                f"epoch {e}: {_g(v.mean())} [{_g(v.min())}, {_g(v.max())}]" for e, v in per_epoch if v.notna().any()
            )
            lines.append(f"* {series} ({row['unit']}; mean [min, max] over trials): {cells or 'no value'}")
        if np.isfinite(row["train_acc_pct"]):
            lines.append(
                f"* accuracy of {row['run']} at epoch {row['last_epoch']:.0f}: train {row['train_acc_pct']:.1f}%, "
                f"test {row['test_acc_pct']:.1f}%"
            )
        if np.isfinite(row["reference_train_acc_pct"]):
            lines.append(
                f"* accuracy of {row['reference']}: train {row['reference_train_acc_pct']:.1f}%, "
                f"test {row['reference_test_acc_pct']:.1f}%"
            )
        if row["note"]:
            lines.append(f"* {row['note']}")
        lines.append("")
    return "\n".join(lines)


VERDICT_COLORS = {SUPPORTED: "tab:green", CONTRADICTED: "tab:red"}


def plot_claims(
    claims: pd.DataFrame, evidence: pd.DataFrame, png, pdf, title: str = "", replicates: pd.DataFrame | None = None
) -> None:
    """One panel per claims-table row: the quantity against epoch (each trial's value as a dot, the mean
    over trials as a line; paired claims: both runs), maxima at the cut as open markers, and the
    verdict with its effect, p-value and the trials it would need."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

    from ..plots.style import STYLE, plt, save_figure

    n = len(claims)
    ncol = min(max(n, 1), 3)
    nrow = max(1, int(np.ceil(n / ncol)))
    several = claims["subject"].nunique() > 1
    colors = plt.get_cmap("tab10")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol, 0.6 + 3.0 * nrow), squeeze=False)
        for ax in axes.flat[n:]:
            ax.axis("off")
        any_cut = False
        for ax, (_, row) in zip(axes.flat, claims.iterrows()):
            claim = _claim_of(row)
            ev = evidence[
                (evidence["subject"] == row["subject"])
                & (evidence["claim"] == row["claim"])
                & (evidence["dim"] == row["dim"])
                & (evidence["series"] != "difference")
            ]
            for i, (series, g) in enumerate(ev.groupby("series", sort=False)):
                mean = g.groupby("epoch")["value"].mean()
                ax.plot(mean.index, mean.to_numpy(), "-", color=colors(i), label=series, zorder=2)
                ax.scatter(g["epoch"], g["value"], s=9, color=colors(i), alpha=0.6, linewidths=0, zorder=3)
                cut = g[g["at_cut"]]
                if len(cut):
                    any_cut = True
                    ax.scatter(
                        cut["epoch"],
                        cut["value"],
                        s=40,
                        facecolors="none",
                        edgecolors=colors(i),
                        linewidths=0.9,
                        zorder=4,
                    )
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if not ev["value"].notna().any():  # nothing measured: say so instead of empty axes
                ax.set_xticks([])
                ax.set_yticks([])
                ax.text(0.5, 0.5, "no value", transform=ax.transAxes, ha="center", va="center", color="0.5")
            ax.set_ylabel(claim.label, fontsize=7)
            ax.tick_params(labelsize=6.5)
            if len(ev) and ev["epoch"].max() > 10:
                ax.set_xscale("symlog", linthresh=1)
                ax.set_xticks(sorted(ev["epoch"].unique()))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_xlabel("epoch (symlog scale)")
            head = claim.title + (f"\n{row['subject']}" if several else "")
            ax.set_title(head, fontsize=7.5)
            color = VERDICT_COLORS.get(row["verdict"], "0.2")
            place = {"transform": ax.transAxes, "ha": "left", "va": "top", "color": color}
            ax.text(0.0, -0.28, row["verdict"].upper(), fontsize=7, fontweight="bold", **place)
            ax.text(
                0.0,
                -0.37,
                f"{effect_text(row, _replicates_of(replicates, row))}\n{strength_text(row, sep=chr(10))}"
                + (f"\n{row['note']}" if row["note"] else ""),
                fontsize=6,
                **place,
            )
            if ev["series"].nunique() > 1:
                ax.legend(frameon=False, fontsize=6, loc="best")
        notes = ["dots: trials; line: mean over trials"]
        if any_cut:
            notes.append("open circle: maximum at the filtration cut (a lower bound; the curve was still rising)")
        fig.text(0.5, 0.0, "; ".join(notes), ha="center", va="top", fontsize=7)
        if title:
            fig.suptitle(title)
        fig.tight_layout(h_pad=1.0, rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))  # room for the title
        save_figure(fig, png, pdf)


def claims_stage(
    *,
    runs: Sequence[str],
    summaries: Sequence[PathLike],
    outputs: Mapping[str, PathLike],
    training: Sequence[PathLike] | None = None,
    permute_labels: Sequence[float] | None = None,
    epochs: Sequence[int] | None = None,
    max_dim: int | None = None,
    max_epsilon: float | None = None,
    title: str = "",
) -> pd.DataFrame:
    """Stage ``claims`` (one run) and ``claims_comparison`` (the runs of a comparison): the claims table,
    its replicates, its evidence, the readable copy and the figure.

    Parameters
    ----------
    runs : sequence of str
        Run names, one per file of ``summaries`` (and of ``training``, and value of ``permute_labels``).
    summaries : sequence of paths
        Each run's aggregated ``betti_summary.csv``.
    outputs : mapping
        ``claims``, ``replicates``, ``evidence`` (CSV), ``markdown`` (the readable copy), ``png`` and ``pdf``
        (the figure) -> path; optionally ``html`` (the readable table as a page, for the report).
    training : sequence of paths, optional
        Each run's aggregated ``training.csv`` (the accuracies at the last analysed epoch).
    permute_labels : sequence of float, optional
        Each run's ``training.permute_labels`` (memorizing vs learning, see :func:`claims_tables`).
    epochs, max_dim, max_epsilon, title
        The epochs analysed, ``topology.max_dim``, ``topology.max_epsilon`` and the figure's title.

    Returns
    -------
    DataFrame
        The claims table.
    """
    frames = {run: pd.read_csv(path) for run, path in zip(runs, summaries, strict=True)}
    logs = {run: pd.read_csv(path) for run, path in zip(runs, training or [], strict=bool(training))}
    perms = dict(zip(runs, permute_labels, strict=True)) if permute_labels is not None else None
    claims, replicates, evidence = claims_tables(frames, perms, logs, epochs, max_dim, max_epsilon)
    for df, key in ((claims, "claims"), (replicates, "replicates"), (evidence, "evidence")):
        with atomic_path(outputs[key]) as tmp:
            df.to_csv(tmp, index=False)
    with atomic_path(outputs["markdown"]) as tmp:
        Path(tmp).write_text(claims_markdown(claims, evidence, title, replicates) + "\n")
    if "html" in outputs:
        from ..plots.tables import write_html

        write_html(outputs["html"], f"claims: {title}", [("", readable_claims(claims, replicates))], note=RULES_NOTE)
    plot_claims(claims, evidence, outputs["png"], outputs["pdf"], title, replicates)
    return claims
