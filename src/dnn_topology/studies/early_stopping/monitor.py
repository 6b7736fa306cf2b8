"""Stopping rules inside a training loop: give a model and a batch of training samples once per epoch, get
stop or continue.

:class:`TopologicalEarlyStopping` computes, for the model as it is, the value the rule watches, exactly as
the workflow does for a check epoch (the same functions, the same conventions: :mod:`.rules`):

* ``beta1_peak_density`` / ``max_beta2``: the activations of the batch at the network's feature layers
  (``model.forward_features``, or your ``features`` function), a node selection, the functional graph
  ``1 - |corr|`` cut at ``max_epsilon``, its Vietoris-Rips persistence H0..H(``max_dim``) and the Betti summaries;
* ``neural_persistence``: the mean normalized neural persistence of the fully connected layers' weights
  (the batch is not read).

Give it **training** samples (the same batch every epoch, as the study does): the point of these rules is
that no validation or test sample is needed. The validation-loss baseline is your own validation loop; feed
its loss to a :class:`~dnn_topology.studies.early_stopping.rules.PatienceCounter` to compare.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .config import TOPOLOGY_SERIES
from .neural_persistence import model_neural_persistence
from .rules import RULES, PatienceCounter

__all__ = ["TopologicalEarlyStopping", "activation_summary", "monitored_value"]


def _features(model, x, features: Callable | None) -> list:
    if features is not None:
        return list(features(model, x))
    if not hasattr(model, "forward_features"):
        raise TypeError(
            "the model has no forward_features(x) (the list of feature-layer activations); pass "
            "features=lambda model, x: [...] to say which activations make the graph"
        )
    return list(model.forward_features(x))


def activation_summary(
    model,
    samples,
    *,
    max_dim: int = 2,
    max_epsilon: float = 0.3,
    n_points: int = 101,
    node_selection: Mapping[str, Any] | None = None,
    engine: str = "giotto",
    threads: int = 1,
    features: Callable | None = None,
):
    """The Betti summaries (one row per dimension 0..``max_dim``, :data:`dnn_topology.topology.betti.SUMMARY_COLUMNS`)
    of the functional graph of ``model`` on ``samples``, in eval mode (the model's mode is restored).

    Parameters
    ----------
    model : torch.nn.Module
        A network with ``forward_features(x)`` (every network of :mod:`dnn_topology.networks.models`), or any
        module with ``features``.
    samples : torch.Tensor or (torch.Tensor, ...)
        A batch of inputs (the labels of an ``(x, y)`` pair are not read), on the model's device.
    max_dim, max_epsilon, n_points, node_selection, engine, threads
        As the config keys ``topology.max_dim``, ``topology.max_epsilon``, ``betti_curves.n_points``,
        ``activations.node_selection``, ``topology.engine`` (``giotto`` or ``ripser``), ``topology.threads``.
    features : callable, optional
        ``features(model, x) -> list of tensors``: the activations whose units are the graph's nodes.

    Returns
    -------
    pandas.DataFrame
    """
    import torch

    from ...networks.nodes import plan_selection
    from ...topology.betti import betti_tables
    from ...topology.dipha_files import full_to_sparse
    from ...topology.graph import distance_matrix
    from ...topology.persistence import compute_persistence

    x = samples[0] if isinstance(samples, (tuple, list)) else samples
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            feats = [f.detach().float().cpu().numpy() for f in _features(model, x, features)]
    finally:
        model.train(was_training)
    names = list(getattr(model, "feature_layers", [f"layer_{i}" for i in range(len(feats))]))
    selection = plan_selection([f.shape[1:] for f in feats], names, **dict(node_selection or {}))
    sparse = full_to_sparse(distance_matrix(selection.apply(feats)), max_epsilon)
    diagram = compute_persistence(sparse, upper_dim=max_dim + 1, engine=engine, n_threads=threads)
    return betti_tables(diagram, sparse, max_dim, max_epsilon, n_points)[1]


def _check_rule(rule: str) -> str:
    if rule != "neural_persistence" and rule not in TOPOLOGY_SERIES:
        known = [r for r in RULES if r != "validation_loss"]
        raise ValueError(
            f"rule {rule!r} cannot be computed from a model and training samples; choose one of {known} "
            "(validation_loss is the baseline: feed your validation loss to a PatienceCounter)"
        )
    return rule


def monitored_value(rule: str, model, samples=None, **options: Any) -> float:
    """The value stopping rule ``rule`` watches, for ``model`` now (see the module docstring).

    ``options`` go to :func:`activation_summary` (topological rules) or are ``p`` and ``include_essential``
    of the neural persistence.
    """
    if _check_rule(rule) == "neural_persistence":
        return model_neural_persistence(model, **options).mean_normalized
    if samples is None:
        raise ValueError(f"rule {rule!r} needs a batch of training samples")
    dim, column = TOPOLOGY_SERIES[rule]
    summary = activation_summary(model, samples, **{"max_dim": dim, **options}).set_index("dim")
    if rule == "beta1_peak_density" and summary.loc[dim, "max_betti"] == 0:
        return float("nan")  # no beta_1 class: no peak (never an improvement)
    return float(summary.loc[dim, column])


class TopologicalEarlyStopping:
    """Stop or continue, once per epoch, from a model and a batch of training samples alone.

    Parameters
    ----------
    rule : {"beta1_peak_density", "max_beta2", "neural_persistence"}
        The stopping rule (:data:`dnn_topology.studies.early_stopping.rules.RULES`).
    patience : int
        Epochs (calls) in a row without improvement that stop training.
    min_delta : float
        The smallest improvement that counts, in the rule's units.
    **options
        For the topological rules: ``max_dim``, ``max_epsilon`` (default 0.3), ``n_points`` (101),
        ``node_selection`` (all nodes), ``engine``, ``threads``, ``features`` (see
        :func:`activation_summary`); for ``neural_persistence``: ``p`` (2), ``include_essential``.

    Attributes
    ----------
    history : list of float
        The value of every call so far.
    counter : PatienceCounter
        ``best``, ``best_index`` (the call with the best value), ``stop_index``.

    Examples
    --------
    >>> import torch
    >>> from dnn_topology.networks.models import LeNet300100
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model, batch = LeNet300100(), torch.randn(64, 1, 28, 28)
    >>> stopper = TopologicalEarlyStopping("neural_persistence", patience=2)
    >>> [stopper(model, batch) for _ in range(3)]  # the weights do not change: no improvement after the first
    [False, False, True]
    """

    def __init__(self, rule: str = "beta1_peak_density", patience: int = 3, min_delta: float = 0.0, **options: Any):
        self.rule = _check_rule(rule)
        self.options = options
        self.counter = PatienceCounter(RULES[rule].better, patience, min_delta)
        self.history: list[float] = []

    def value(self, model, samples=None) -> float:
        """The rule's value for ``model`` on ``samples`` now, without recording it."""
        return monitored_value(self.rule, model, samples, **self.options)

    def __call__(self, model, samples=None) -> bool:
        """Record this epoch's value; True means stop (and stays True)."""
        value = self.value(model, samples)
        self.history.append(value)
        return self.counter.update(value)

    @property
    def best_epoch(self) -> int | None:
        """The call (0-based) with the best value so far."""
        return self.counter.best_index

    @property
    def stopped(self) -> bool:
        return self.counter.stopped
