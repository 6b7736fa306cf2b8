"""Adversarial attacks as the workflow names them: one *attack id* per (attack, epsilon).

This module is torch-free (the workflow imports it while parsing). The attacks themselves are in
:mod:`dnn_topology.studies.adversarial.attacks`, the detection study in :mod:`dnn_topology.studies.adversarial.detection`.

Units and conventions
---------------------
* ``epsilon`` is the L-infinity budget in **input pixel units**: pixels in [0, 1], *before* the
  dataset's normalisation ``(x - mean) / std``. FGSM with epsilon 0.1 moves each pixel by at most
  0.1 (26 of 255 grey levels), whatever the dataset's mean and std.
* PGD's ``step_size`` is in the same pixel units (foolbox's ``abs_stepsize``).
* An attack's results live under ``results/<run>/trial_<T>/epoch_<E>/<attack id>/``, with the attack
  id ``adv_<name>_eps<epsilon>`` (e.g. ``adv_fgsm_eps0.1``): the clean results stay where they are,
  directly under ``epoch_<E>/`` (see :mod:`dnn_topology.layout`, which builds and parses these paths).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from ...layout import attack_id
from ...networks.samples import SampleSet

METHODS = ("fgsm", "pgd")
PGD_KEYS = ("steps", "step_size", "random_start", "seed")
"""The keys of an attack that only PGD reads (an FGSM attack with one of them is refused)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


@dataclass(frozen=True)
class AttackSpec:
    """One attack at one budget.

    Parameters
    ----------
    name : str
        User-facing name of the attack (default: the method), part of the attack id.
    method : str
        ``fgsm`` (one signed-gradient step of size epsilon) or ``pgd`` (projected gradient descent,
        ``steps`` steps of ``step_size``, optionally from a uniform random start in the epsilon ball).
    epsilon : float
        L-infinity budget in pixel units ([0, 1] images, before normalisation).
    steps, step_size, random_start
        PGD only (an FGSM attack configured with one is refused).
    seed : int
        Seed of PGD's random start.
    """

    name: str
    method: str
    epsilon: float
    steps: int = 1
    step_size: float = 0.0
    random_start: bool = False
    seed: int = 0

    @property
    def attack_id(self) -> str:
        return attack_id(self.name, self.epsilon)

    def to_dict(self) -> dict:
        return asdict(self)


def attack_table(adversarial: dict | None) -> dict[str, AttackSpec]:
    """attack id -> :class:`AttackSpec` for every attack and epsilon of the ``adversarial`` config section.

    Raises ``ValueError`` naming the config key when a name is unusable or two entries give the same id.
    """
    table: dict[str, AttackSpec] = {}
    for i, attack in enumerate((adversarial or {}).get("attacks", [])):
        method = attack["method"]
        if method not in METHODS:
            raise ValueError(f"adversarial.attacks[{i}].method: {method!r} is not one of {list(METHODS)}")
        pgd_only = [k for k in PGD_KEYS if k in attack]
        if method != "pgd" and pgd_only:  # a key that would be silently ignored
            raise ValueError(
                f"adversarial.attacks[{i}].{pgd_only[0]}: applies to PGD only; {method.upper()} takes one step of "
                "size epsilon. Remove it, or use method: pgd"
            )
        name = attack.get("name") or method
        if not _NAME.match(name):
            raise ValueError(f"adversarial.attacks[{i}].name: {name!r} may hold only letters, digits, '.' and '-'")
        for eps in attack["epsilons"]:
            if not 0 < float(eps) <= 1:
                raise ValueError(f"adversarial.attacks[{i}].epsilons: {eps} is not in (0, 1] (pixel units)")
            if method == "pgd":
                spec = AttackSpec(
                    name,
                    method,
                    float(eps),
                    int(attack.get("steps", 20)),
                    float(attack.get("step_size", 2.5 * float(eps) / int(attack.get("steps", 20)))),
                    bool(attack.get("random_start", True)),
                    int(attack.get("seed", 0)),
                )
            else:
                spec = AttackSpec(name, method, float(eps))
            if spec.attack_id in table:
                raise ValueError(
                    f"adversarial.attacks[{i}]: attack id {spec.attack_id!r} is given twice "
                    "(give the attacks distinct names)"
                )
            table[spec.attack_id] = spec
    return table


def adversarial_epochs(config: dict) -> list[int]:
    """Epochs attacked: ``adversarial.epochs``, by default ``topology.epochs``."""
    return sorted(config.get("adversarial", {}).get("epochs") or config["topology"]["epochs"])


def check_adversarial(config: dict, test_split_sizes: dict[str, int | None]) -> None:
    """Check the ``adversarial`` section beyond its schema; ``ValueError`` naming the key.

    ``test_split_sizes``: run name -> samples in the test split of its dataset (None: not known before reading).
    """
    adversarial = config.get("adversarial", {})
    if not attack_table(adversarial):
        return
    late = sorted(set(adversarial_epochs(config)) - set(config["topology"]["epochs"]))
    if late:
        raise ValueError(f"adversarial.epochs: {late} are not in topology.epochs (the clean topology is the reference)")
    detection = adversarial.get("detection", {})
    if not detection.get("enabled", True):
        return
    n_pool, batch_size = detection.get("n_pool", 1000), detection.get("batch_size", 50)
    for run, size in test_split_sizes.items():
        if size is not None and n_pool > size:
            raise ValueError(
                f"adversarial.detection.n_pool: {n_pool} samples asked for, but the test split of run "
                f"{run!r} has {size}"
            )
    fit = (n_pool // 2) // batch_size
    wanted = detection.get("n_batches") or 2
    if fit < wanted:
        raise ValueError(
            f"adversarial.detection: halves of n_pool = {n_pool} samples hold {fit} batches of "
            f"batch_size {batch_size}, {wanted} are needed per half"
        )


def detection_pool(sample_set: SampleSet, detection: Mapping) -> SampleSet:
    """The detector's pool: the first ``n_pool`` test samples (never trained on) of ``sample_set``'s dataset,
    with its labels and data location (see :mod:`dnn_topology.studies.adversarial.detection`).

    ``detection`` is config section ``adversarial.detection``. The pool of a pool is the pool itself.

    Examples
    --------
    >>> detection_pool(SampleSet("mnist5k", 300, "train", subset=0.5, seed=3), {"n_pool": 1000})
    SampleSet(dataset='mnist5k', n_samples=1000, split='test', subset=1.0, seed=0, binarize_class=None, \
data_dir='data', download=False, imagefolders=None, datasets=None)
    """
    return dataclasses.replace(sample_set, n_samples=int(detection["n_pool"]), split="test", subset=1.0, seed=0)
