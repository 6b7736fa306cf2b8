"""Stopping rules: when a per-epoch series has stopped improving, with a patience.

A rule watches one number per **check** (a check epoch: the epochs at which the topology, the validation
loss, ... are looked at). A check *improves* when its value is better than the best so far by more than
``min_delta`` (lower for a rule whose ``better`` is ``"lower"``, higher for ``"higher"``); the first check
always sets the best. The rule **stops** at the first check that ends ``patience`` checks in a row without
improvement. A value that is NaN (e.g. no beta_1 class at all, so no peak) never improves. A rule that
never fires lets training run to its last epoch.

The same :class:`PatienceCounter` answers online, one check at a time (:mod:`.monitor`, from a training
loop), and post hoc over a whole series (:func:`stopping_check`, the study): the two cannot disagree.

The rules of the study (:data:`RULES`), and what each reads:

* ``validation_loss`` (baseline) -- the mean NLL on the validation split (``val_loss`` of the training log);
* ``beta1_peak_density`` -- the edge density at which beta_1 peaks (``density_at_max`` of dim 1 in
  ``betti_summary.csv``, a fraction of the node pairs); lower is better: the 2019 paper's claim that
  learning moves the beta_1 peak to lower density and memorizing pushes it back;
* ``max_beta2`` -- max beta_2 (``max_betti`` of dim 2); higher is better: learning creates 2D cavities;
* ``neural_persistence`` -- the mean normalized neural persistence of the weights (:mod:`.neural_persistence`);
  higher is better: Rieck et al. 2019, Algorithm 2.

The topological rules read graphs built from training samples only (``activations.split: train``), the
neural persistence reads weights only; only ``validation_loss`` reads the validation split. ``last_epoch``
(train to the end) is the other baseline and has no series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["BASELINE_LAST", "RULES", "PatienceCounter", "Rule", "StopDecision", "stopping_check"]


@dataclass(frozen=True)
class Rule:
    """A stopping rule: the series it watches, which way is better, and what it reads."""

    name: str
    better: str  # "lower" or "higher"
    series: str  # the column of the study's series table
    reads: str  # "validation split", "training samples", "weights"
    description: str


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule("validation_loss", "lower", "val_loss", "validation split", "validation loss (mean NLL, nats)"),
        Rule(
            "beta1_peak_density",
            "lower",
            "beta1_peak_density",
            "training samples",
            "edge density at the peak of beta_1 (fraction of node pairs)",
        ),
        Rule("max_beta2", "higher", "max_beta2", "training samples", "max beta_2"),
        Rule(
            "neural_persistence",
            "higher",
            "neural_persistence",
            "weights",
            "mean normalized neural persistence of the fully connected layers",
        ),
    )
}
BASELINE_LAST = "last_epoch"  # train to the last epoch: no series, no patience
TOPOLOGICAL_RULES = tuple(name for name, rule in RULES.items() if rule.reads != "validation split")


@dataclass
class PatienceCounter:
    """Online patience: :meth:`update` with one value per check, True when the rule says stop.

    Parameters
    ----------
    better : {"lower", "higher"}
        Which way the watched value improves.
    patience : int
        Checks in a row without improvement that stop training (at least 1).
    min_delta : float
        An improvement must beat the best so far by more than this (in the series' units).

    Examples
    --------
    >>> counter = PatienceCounter("lower", patience=2)
    >>> [counter.update(v) for v in (3.0, 2.0, 2.5, 2.1)]
    [False, False, False, True]
    >>> counter.best_index, counter.stop_index
    (1, 3)
    """

    better: str = "lower"
    patience: int = 3
    min_delta: float = 0.0
    best: float = field(default=math.nan, init=False)
    best_index: int | None = field(default=None, init=False)
    wait: int = field(default=0, init=False)
    n_checks: int = field(default=0, init=False)
    stop_index: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.better not in ("lower", "higher"):
            raise ValueError(f"better must be 'lower' or 'higher', not {self.better!r}")
        if int(self.patience) != self.patience or self.patience < 1:
            raise ValueError(f"patience must be a whole number of checks >= 1, not {self.patience!r}")
        if not math.isfinite(self.min_delta) or self.min_delta < 0:
            raise ValueError(f"min_delta must be finite and >= 0, not {self.min_delta!r}")

    def improves(self, value: float) -> bool:
        """Whether ``value`` would be a new best."""
        if math.isnan(value):
            return False
        if self.best_index is None:
            return True
        if self.better == "lower":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    @property
    def stopped(self) -> bool:
        return self.stop_index is not None

    def update(self, value: float) -> bool:
        """Record the next check's value; True when training should stop (and from then on)."""
        if self.stopped:
            return True
        value = float(value)
        if self.improves(value):
            self.best, self.best_index, self.wait = value, self.n_checks, 0
        else:
            self.wait += 1
        self.n_checks += 1
        if self.wait >= self.patience:
            self.stop_index = self.n_checks - 1
        return self.stopped


@dataclass(frozen=True)
class StopDecision:
    """Where a rule stops in a series: the check it stops at (the last one if it never fires), whether it
    fired, and its best check up to then (the checkpoint a "restore best" implementation would keep; None
    when every value was NaN)."""

    stop_index: int
    fired: bool
    best_index: int | None


def stopping_check(values: Sequence[float], better: str, patience: int, min_delta: float = 0.0) -> StopDecision:
    """Post hoc: replay :class:`PatienceCounter` over a whole series (one value per check, in order).

    Parameters
    ----------
    values : sequence of float
        The watched value at each check epoch.
    better, patience, min_delta
        As for :class:`PatienceCounter`.

    Returns
    -------
    StopDecision

    Examples
    --------
    The validation loss is lowest at the third check; with patience 2 the rule stops two checks later.

    >>> stopping_check([0.9, 0.6, 0.5, 0.55, 0.7, 0.4], "lower", patience=2)
    StopDecision(stop_index=4, fired=True, best_index=2)
    >>> stopping_check([1, 2, 3], "higher", patience=2)
    StopDecision(stop_index=2, fired=False, best_index=2)
    """
    if len(values) == 0:
        raise ValueError("a stopping rule needs at least one check")
    counter = PatienceCounter(better, patience, min_delta)
    for value in values:
        if counter.update(value):
            break
    if counter.stopped:
        return StopDecision(counter.stop_index, True, counter.best_index)
    return StopDecision(len(values) - 1, False, counter.best_index)
