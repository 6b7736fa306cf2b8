"""The paper's claims checked on what a run measured: a table of verdicts with the numbers behind them.

Claims (Corneanu et al., CVPR 2019), each checked on the per-trial, per-epoch Betti summaries
(``betti_summary.csv``) of a run, or of the runs of a comparison:

==============================  ======================================================================
claim                           statement
==============================  ======================================================================
``beta1_peak_lower_density``    the beta_1 peak moves to lower edge density as training proceeds
``max_beta2_grows``             max beta_2 grows with training
``max_beta3_grows``             max beta_3 grows with training
``memorizing_higher_density``   (comparisons) a memorizing run's k-cavities (k = 1..max_dim) peak at a higher
                                edge density than the learning run's at the same epoch
==============================  ======================================================================

The first three are *trend* claims, checked on each run. The last is a *paired* claim, checked in a
comparison whose runs differ in ``training.permute_labels``: the least permuted run is the learning
run, every more permuted run is a memorizing run compared with it (one row per run and dimension).

**The test.** Every claim is decided on *replicates*, each with a statistic whose sign says whether it
goes the claimed way:

* trend claims: one replicate per trial; its statistic is Spearman's rank correlation between the
  epoch and the quantity over the analysed epochs (epochs where the quantity is undefined are left
  out; at least 2 epochs are needed, else the trial is not a replicate). The claimed sign is -1 for
  the peak density, +1 for the maxima. A quantity that does not change has correlation 0;
* paired claims: one replicate per trial and analysed epoch after 0 (epoch 0 is the initial weights,
  identical in both runs when their seeds are); its statistic is the memorizing run's value minus the
  learning run's value of the same trial and epoch. The claimed sign is +1.

The verdict is ``holds`` when every replicate goes the claimed way, ``does not hold`` when none does
(each is zero or of the opposite sign), and ``inconclusive`` when they disagree or when there is no
replicate (the quantity is undefined, or the dimension was not computed: ``topology.max_dim``).
The one-sided sign-test p-value, P(at least as many of the non-zero replicates go the claimed way |
each way equally likely), is given as a guide to how much the replicates say (two trials that agree:
p = 0.25); paired replicates of the same trial are not independent, so it is optimistic there.

**Peaks at the cut.** A Betti curve that still rises where the filtration was cut
(``topology.max_epsilon``) has its maximum at the cut: that maximum is a lower bound and its density
the density at the cut, not a peak. Column ``peak_at_cut`` counts the (run, trial, epoch) summaries
behind a row whose maximum lies at the cut, so a verdict resting on them can be read as such.

**Units.** Edge density in percent of the n(n - 1)/2 node pairs; maxima in number of classes. The
density at the peak of beta_k is undefined (NaN) when beta_k is 0 along the whole curve. The table
``claims.csv`` has one row per claim and subject (run, or memorizing run vs learning run), with the
per-replicate statistics, the verdict, and the evidence as text: per epoch, the mean over trials and
[min, max]. ``claims_evidence.csv`` holds the same numbers as a tidy table (mean, std, min, max and
the per-trial values of each run, and of the paired difference, per epoch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..io_utils import atomic_path
from ..topology.dipha_files import PathLike

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "holds", "does not hold", "inconclusive"

CLAIM_COLUMNS = [
    "subject",
    "claim",
    "dim",
    "statement",
    "quantity",
    "unit",
    "test",
    "n_replicates",
    "n_claimed",
    "n_opposite",
    "n_zero",
    "statistics",
    "sign_test_p",
    "verdict",
    "evidence",
    "peak_at_cut",
    "context",
]
EVIDENCE_COLUMNS = ["subject", "claim", "dim", "series", "epoch", "n_trials", "mean", "std", "min", "max", "values"]


@dataclass(frozen=True)
class Claim:
    """A claim about one summary quantity of one homology dimension."""

    name: str
    statement: str
    dim: int
    quantity: str  # a column of betti_summary.csv
    sign: int  # the claimed direction: +1 grows / higher, -1 falls / lower


TREND_CLAIMS = (
    Claim(
        "beta1_peak_lower_density",
        "the beta_1 peak moves to lower edge density as training proceeds",
        1,
        "density_at_max",
        -1,
    ),
    Claim("max_beta2_grows", "max beta_2 grows with training", 2, "max_betti", +1),
    Claim("max_beta3_grows", "max beta_3 grows with training", 3, "max_betti", +1),
)
"""Claims checked on every run (trend over epochs, trials as replicates)."""

TREND_TEST = "sign of Spearman corr(epoch, quantity) per trial"
PAIRED_TEST = "sign of memorizing - learning per trial and epoch > 0"


def memorizing_claim(dim: int) -> Claim:
    """The paired claim about the k-cavities of dimension ``dim`` (k >= 1)."""
    return Claim(
        "memorizing_higher_density",
        f"a memorizing run's beta_{dim} peaks at higher edge density than the learning run's at the same epoch",
        dim,
        "density_at_max",
        +1,
    )


def _unit(quantity: str) -> str:
    return "% of node pairs" if quantity.startswith("density") else "classes"


def quantity_table(summary: pd.DataFrame, claim: Claim, epochs: Sequence[int] | None = None) -> pd.DataFrame:
    """Trial x epoch table of ``claim.quantity`` for dimension ``claim.dim`` (densities in percent).

    A peak density is NaN where beta_k is 0 along the whole curve; a dimension that was not computed
    gives an empty table."""
    s = summary[summary["dim"] == claim.dim]
    if epochs is not None:
        s = s[s["epoch"].isin(list(epochs))]
    values = s[claim.quantity].astype(float)
    if claim.quantity.startswith("density"):
        values = (100.0 * values).where(s["max_betti"] > 0)
    return (
        s.assign(value=values)
        .pivot(index="trial", columns="epoch", values="value")
        .sort_index(axis=0)
        .sort_index(axis=1)
    )


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
    return float(np.corrcoef(rx, ry)[0, 1])


def sign_test_p(n_claimed: int, n_opposite: int) -> float:
    """One-sided sign test: P(X >= n_claimed) for X ~ Binomial(n_claimed + n_opposite, 1/2); NaN if no
    non-zero replicate."""
    n = n_claimed + n_opposite
    if n == 0:
        return float("nan")
    return sum(math.comb(n, k) for k in range(n_claimed, n + 1)) / 2**n


def verdict(statistics: Sequence[float], sign: int) -> dict:
    """Counts of replicates going the claimed way (``sign``), the other way and neither, the sign-test
    p-value and the verdict (see the module docstring). NaN statistics are not replicates."""
    st = np.asarray([s for s in statistics if np.isfinite(s)], dtype=float)
    claimed = int((np.sign(st) == sign).sum())
    opposite = int((np.sign(st) == -sign).sum())
    zero = len(st) - claimed - opposite
    if len(st) == 0 or 0 < claimed < len(st):
        result = INCONCLUSIVE
    else:
        result = HOLDS if claimed == len(st) else DOES_NOT_HOLD
    return {
        "n_replicates": len(st),
        "n_claimed": claimed,
        "n_opposite": opposite,
        "n_zero": zero,
        "sign_test_p": sign_test_p(claimed, opposite),
        "verdict": result,
    }


def peaks_at_cut(summary: pd.DataFrame, dim: int, epochs: Sequence[int], max_epsilon: float | None) -> tuple[int, int]:
    """How many of the (trial, epoch) summaries of dimension ``dim`` reach their maximum at the cut
    ``max_epsilon`` (the last point of the curve), out of how many with beta_k > 0 somewhere."""
    s = summary[(summary["dim"] == dim) & summary["epoch"].isin(list(epochs)) & (summary["max_betti"] > 0)]
    if max_epsilon is None:
        return 0, len(s)
    return int(np.isclose(s["epsilon_at_max"], max_epsilon).sum()), len(s)


def _cut_text(counts: Sequence[tuple[int, int]]) -> str:
    at, total = (sum(c[i] for c in counts) for i in (0, 1))
    return f"{at} of {total}"


def _fmt(v: float) -> str:
    return "nan" if not np.isfinite(v) else f"{v:.3g}"


def _evidence_rows(subject: str, claim: Claim, series: str, table: pd.DataFrame) -> list[dict]:
    rows = []
    for epoch in table.columns:
        v = table[epoch].to_numpy(dtype=float)
        f = v[np.isfinite(v)]
        rows.append(
            {
                "subject": subject,
                "claim": claim.name,
                "dim": claim.dim,
                "series": series,
                "epoch": int(epoch),
                "n_trials": len(f),
                "mean": f.mean() if len(f) else np.nan,
                "std": f.std(ddof=1) if len(f) > 1 else np.nan,
                "min": f.min() if len(f) else np.nan,
                "max": f.max() if len(f) else np.nan,
                "values": " ".join(_fmt(x) for x in v),
            }
        )
    return rows


def _evidence_text(rows: Sequence[dict]) -> str:
    return "; ".join(f"epoch {r['epoch']}: {_fmt(r['mean'])} [{_fmt(r['min'])}, {_fmt(r['max'])}]" for r in rows)


def trend_claim(
    summary: pd.DataFrame,
    subject: str,
    claim: Claim,
    epochs: Sequence[int] | None = None,
    max_dim: int | None = None,
    max_epsilon: float | None = None,
) -> tuple[dict, list[dict]]:
    """Check a trend claim on one run's summaries: the claims-table row and its evidence rows."""
    table = quantity_table(summary, claim, epochs)
    stats = {t: spearman(table.columns.to_numpy(dtype=float), table.loc[t].to_numpy(dtype=float)) for t in table.index}
    evidence = _evidence_rows(subject, claim, subject, table)
    row = {
        "subject": subject,
        "claim": claim.name,
        "dim": claim.dim,
        "statement": claim.statement,
        "quantity": f"{claim.quantity} (beta_{claim.dim})",
        "unit": _unit(claim.quantity),
        "test": TREND_TEST,
        **verdict(list(stats.values()), claim.sign),
        "statistics": "; ".join(f"trial {t}: {_fmt(s)}" for t, s in stats.items()),
        "evidence": _evidence_text(evidence),
        "peak_at_cut": _cut_text([peaks_at_cut(summary, claim.dim, table.columns, max_epsilon)]),
        "context": "",
    }
    if max_dim is not None and claim.dim > max_dim:
        row["context"] = f"beta_{claim.dim} not computed (topology.max_dim = {max_dim})"
    elif not len(table.columns):
        row["context"] = f"no summary of dimension {claim.dim}"
    return row, evidence


def paired_claim(
    learning: pd.DataFrame,
    memorizing: pd.DataFrame,
    names: tuple[str, str],
    claim: Claim,
    epochs: Sequence[int] | None = None,
    max_epsilon: float | None = None,
) -> tuple[dict, list[dict]]:
    """Check a paired claim: ``memorizing`` minus ``learning`` at the same trial and epoch (> 0).

    ``names`` are the learning and the memorizing run's names."""
    a = quantity_table(learning, claim, epochs)
    b = quantity_table(memorizing, claim, epochs)
    trials = a.index.intersection(b.index)
    common = [e for e in a.columns.intersection(b.columns) if e > 0]
    diff = b.loc[trials, common] - a.loc[trials, common]
    stats = {(t, e): float(diff.loc[t, e]) for t in trials for e in common}
    learning_name, memorizing_name = names
    subject = f"{memorizing_name} vs {learning_name}"
    evidence = (
        _evidence_rows(subject, claim, learning_name, a.loc[trials, common])
        + _evidence_rows(subject, claim, memorizing_name, b.loc[trials, common])
        + _evidence_rows(subject, claim, "difference", diff)
    )
    n = len(common)
    text = "; ".join(
        f"epoch {d['epoch']}: {_fmt(m['mean'])} vs {_fmt(lr['mean'])}, difference {_fmt(d['mean'])} "
        f"[{_fmt(d['min'])}, {_fmt(d['max'])}]"
        for lr, m, d in zip(evidence[:n], evidence[n : 2 * n], evidence[2 * n :])
    )
    row = {
        "subject": subject,
        "claim": claim.name,
        "dim": claim.dim,
        "statement": claim.statement,
        "quantity": f"{claim.quantity} (beta_{claim.dim})",
        "unit": _unit(claim.quantity),
        "test": PAIRED_TEST,
        **verdict(list(stats.values()), claim.sign),
        "statistics": "; ".join(f"trial {t} epoch {e}: {_fmt(s)}" for (t, e), s in stats.items()),
        "evidence": text,
        "peak_at_cut": _cut_text([peaks_at_cut(df, claim.dim, common, max_epsilon) for df in (learning, memorizing)]),
        "context": "",
    }
    return row, evidence


def _accuracy_context(training: pd.DataFrame | None, run: str, epochs: Sequence[int]) -> str:
    """Train and test accuracy (mean over trials) of ``run`` at the last of ``epochs``: the regime measured."""
    if training is None or not len(epochs):
        return ""
    last = max(epochs)
    at = training[training["epoch"] == last]
    if not len(at):
        return ""
    return f"{run} at epoch {last}: train acc {at['train_acc'].mean():.3f}, test acc {at['test_acc'].mean():.3f}"


def claims_tables(
    summaries: Mapping[str, pd.DataFrame],
    permute_labels: Mapping[str, float] | None = None,
    training: Mapping[str, pd.DataFrame] | None = None,
    epochs: Sequence[int] | None = None,
    max_dim: int | None = None,
    max_epsilon: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The claims table and its evidence table for one run or the runs of a comparison.

    Parameters
    ----------
    summaries : mapping of str to DataFrame
        Run name -> its aggregated ``betti_summary.csv`` (columns trial, epoch, dim, max_betti, ...).
    permute_labels : mapping of str to float, optional
        Run name -> ``training.permute_labels``; with two or more distinct values, each more permuted
        run is checked against the least permuted one (paired claims, dimensions 1..max_dim).
    training : mapping of str to DataFrame, optional
        Run name -> its ``training.csv``; gives the accuracies quoted as each row's context.
    epochs : sequence of int, optional
        The epochs analysed (default: every epoch in the summaries).
    max_dim : int, optional
        ``topology.max_dim``; a claim about a higher dimension is reported as not computed.
    max_epsilon : float, optional
        ``topology.max_epsilon``, the cut: maxima reached there are counted in ``peak_at_cut``.

    Returns
    -------
    claims, evidence : DataFrame
        Columns :data:`CLAIM_COLUMNS` and :data:`EVIDENCE_COLUMNS`.
    """
    training = training or {}
    rows, evidence = [], []
    for run, summary in summaries.items():
        run_epochs = sorted(summary["epoch"].unique()) if epochs is None else sorted(epochs)
        for claim in TREND_CLAIMS:
            row, ev = trend_claim(summary, run, claim, run_epochs, max_dim, max_epsilon)
            row["context"] = row["context"] or _accuracy_context(training.get(run), run, run_epochs)
            rows.append(row)
            evidence += ev
    perms = dict(permute_labels or {})
    if len(set(perms.values())) > 1:
        learning = min(perms, key=lambda r: (perms[r], list(perms).index(r)))
        dims = sorted(d for d in summaries[learning]["dim"].unique() if d >= 1)
        for run in (r for r in perms if perms[r] > perms[learning]):
            shared = sorted(set(summaries[run]["epoch"]) & set(summaries[learning]["epoch"]))
            pair_epochs = shared if epochs is None else sorted(set(epochs) & set(shared))
            context = "; ".join(
                c
                for c in (
                    _accuracy_context(training.get(r), f"{r} ({100 * perms[r]:g}% permuted)", pair_epochs)
                    for r in (learning, run)
                )
                if c
            )
            for dim in dims:
                row, ev = paired_claim(
                    summaries[learning],
                    summaries[run],
                    (learning, run),
                    memorizing_claim(int(dim)),
                    pair_epochs,
                    max_epsilon,
                )
                row["context"] = context
                rows.append(row)
                evidence += ev
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS), pd.DataFrame(evidence, columns=EVIDENCE_COLUMNS)


def plot_claims(claims: pd.DataFrame, evidence: pd.DataFrame, png, pdf, title: str = "") -> None:
    """One panel per claims-table row: the measured quantity against epoch (mean over trials, [min, max]
    band; paired claims: both runs), titled with the verdict."""
    from ..plots.style import STYLE, plt, save_figure

    n = len(claims)
    ncol = min(n, 3)
    nrow = int(np.ceil(n / ncol))
    colors = plt.get_cmap("tab10")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
        for ax in axes.flat[n:]:
            ax.axis("off")
        for ax, (_, row) in zip(axes.flat, claims.iterrows()):
            dim = row["dim"]
            ev = evidence[
                (evidence["subject"] == row["subject"])
                & (evidence["claim"] == row["claim"])
                & (evidence["dim"] == dim)
                & (evidence["series"] != "difference")
            ]
            for i, (series, g) in enumerate(ev.groupby("series", sort=False)):
                g = g.sort_values("epoch")
                ax.plot(g["epoch"], g["mean"], "o-", markersize=3, color=colors(i), label=series)
                ax.fill_between(g["epoch"], g["min"], g["max"], color=colors(i), alpha=0.15, linewidth=0)
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"{row['quantity']} ({row['unit']})", fontsize=6)
            if len(ev) and ev["epoch"].max() > 10:
                ax.set_xscale("symlog", linthresh=1)
            ax.set_title(
                f"{row['claim']} (beta_{dim})\n{row['subject']}\n{row['verdict'].upper()} "
                f"({row['n_claimed']} of {row['n_replicates']} replicates)",
                fontsize=6,
            )
            if ev["series"].nunique() > 1:
                ax.legend(frameon=False, fontsize=5)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
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
    its evidence table and its figure.

    Parameters
    ----------
    runs : sequence of str
        Run names, one per file of ``summaries`` (and of ``training``, and value of ``permute_labels``).
    summaries : sequence of paths
        Each run's aggregated ``betti_summary.csv``.
    outputs : mapping
        ``claims``, ``evidence`` (CSV), ``png`` and ``pdf`` (the figure) -> path.
    training : sequence of paths, optional
        Each run's aggregated ``training.csv`` (the accuracies quoted as context).
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
    claims, evidence = claims_tables(frames, perms, logs, epochs, max_dim, max_epsilon)
    for df, path in ((claims, outputs["claims"]), (evidence, outputs["evidence"])):
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
    plot_claims(claims, evidence, outputs["png"], outputs["pdf"], title)
    return claims
