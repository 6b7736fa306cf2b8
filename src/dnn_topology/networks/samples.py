"""The fixed sample set that a network is shown, as one value, and the per-run options it comes from.

A :class:`SampleSet` says which samples (``dataset``, ``split``, ``n_samples``; for the train split the
``subset`` the network was trained on, drawn with the trial's training ``seed``, less its ``validation`` split), what their labels are
(``binarize_class``: one-vs-rest labels, so the network has two outputs) and where the data lives
(``data_dir``, ``download``, ``imagefolders``, ``datasets``). It is built once per job from the run's options by
:func:`run_sample_set` and passed whole to the stages that show samples to a network: activations
(:func:`dnn_topology.networks.activations.activations_stage`), attacks
(:func:`dnn_topology.studies.adversarial.attacks.attack_stage`), the adversarial detector's features
(:func:`dnn_topology.studies.adversarial.detection.detection_features_stage`, on its pool,
:func:`dnn_topology.studies.adversarial.config.detection_pool`) and the test-error estimate from a checkpoint.
Which samples are drawn is described in :mod:`dnn_topology.networks.activations`, which loads them
(:func:`~dnn_topology.networks.activations.fixed_samples`).

Torch- and pandas-free: the workflow builds sample sets while it parses (rule params).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from . import datasets as dsets
from .labels import effective_spec, trial_seed

__all__ = ["SampleSet", "run_activations", "run_sample_set"]

# where the data lives: read from the configuration by each job, not part of what the samples are
DATA_LOCATION = ("data_dir", "download", "imagefolders", "datasets")


@dataclass(frozen=True)
class SampleSet:
    """A fixed set of samples of a dataset (see the module docstring).

    Parameters
    ----------
    dataset : str
        Config key ``runs[].dataset``.
    n_samples : int
        Samples in the set (config key ``activations.n_samples``).
    split : {"test", "train"}
        Config key ``activations.split``.
    subset, seed : float, int
        Config key ``training.subset`` and the trial's training seed (``training.seed + trial``): the training
        samples the network saw, for ``split == "train"``.
    validation : float
        Config key ``training.validation``: the fraction of the subset held out (never drawn, for ``split ==
        "train"``).
    binarize_class : int or None
        Config key ``training.binarize_class``.
    data_dir, download, imagefolders, datasets
        Config keys ``data_dir``, ``download``, ``imagefolders`` and ``datasets`` (see
        :func:`dnn_topology.networks.datasets.dataset_registry`).

    Examples
    --------
    >>> samples = SampleSet("mnist5k", 300, "train", subset=0.5, seed=1)
    >>> samples.normalization
    ((0.1307,), (0.3081,))
    >>> SampleSet.from_params(samples.params(), {"data_dir": "elsewhere"}).data_dir
    'elsewhere'
    """

    dataset: str
    n_samples: int
    split: str = "test"
    subset: float = 1.0
    seed: int = 0
    binarize_class: int | None = None
    validation: float = 0.0
    data_dir: str = "data"
    download: bool = False
    imagefolders: Mapping[str, Mapping[str, Any]] | None = None
    datasets: Mapping[str, Mapping[str, Any]] | None = None

    @cached_property
    def registry(self) -> dsets.DatasetRegistry:
        """The datasets that exist: the built-in ones, :attr:`imagefolders` and :attr:`datasets`."""
        return dsets.dataset_registry(self.imagefolders, self.datasets)

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel ``(mean, std)`` of the dataset: a pixel x in [0, 1] is shown as (x - mean) / std."""
        return dsets.normalization(self.dataset, self.registry)

    @property
    def network_spec(self) -> dsets.DatasetSpec:
        """The shape of the network that classifies these samples (2 classes with :attr:`binarize_class`)."""
        return effective_spec(self.registry.spec(self.dataset), self.binarize_class)

    def params(self) -> dict[str, Any]:
        """What the samples are, without where the data lives: a rule's params (moving the data reruns nothing)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in DATA_LOCATION}

    @classmethod
    def from_params(cls, params: Mapping[str, Any], config: Mapping[str, Any]) -> SampleSet:
        """The sample set of :meth:`params` with the data location of ``config`` (the workflow's configuration)."""
        return cls(
            **params,
            data_dir=str(config.get("data_dir", "data")),
            download=bool(config.get("download", False)),
            imagefolders=config.get("imagefolders"),
            datasets=config.get("datasets"),
        )


def run_activations(config: Mapping, run: Mapping) -> dict:
    """The ``activations`` options of one configured run: the global section with the run's overrides applied.

    Examples
    --------
    >>> config = {"activations": {"split": "test", "n_samples": 1000}}
    >>> run_activations(config, {"network": "lenet", "activations": {"n_samples": 300}})
    {'split': 'test', 'n_samples': 300}
    """
    return copy.deepcopy({**config["activations"], **run.get("activations", {})})


def run_sample_set(run: Mapping, trial: int) -> SampleSet:
    """The sample set of a trial of a run, from the run's merged options (one entry of
    :func:`dnn_topology.workflow.config.run_table`: ``run``, ``training`` and ``activations`` sections).

    Examples
    --------
    >>> run = {
    ...     "run": {"dataset": "mnist5k"},
    ...     "activations": {"n_samples": 300, "split": "train"},
    ...     "training": {"subset": 0.5, "seed": 10, "binarize_class": None},
    ... }
    >>> run_sample_set(run, trial=2)
    SampleSet(dataset='mnist5k', n_samples=300, split='train', subset=0.5, seed=12, binarize_class=None, \
validation=0.0, data_dir='data', download=False, imagefolders=None, datasets=None)
    """
    training = run["training"]
    return SampleSet(
        dataset=run["run"]["dataset"],
        n_samples=int(run["activations"]["n_samples"]),
        split=run["activations"]["split"],
        subset=float(training["subset"]),
        seed=trial_seed(training["seed"], trial),
        binarize_class=training["binarize_class"],
        validation=float(training.get("validation", 0.0)),
    )
