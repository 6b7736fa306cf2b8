"""Adversarial attacks as the workflow names them: one *attack id* per (attack, epsilon).

This module is torch-free (the workflow imports it while parsing). The attacks themselves are in
:mod:`dnn_topology.studies.adversarial.attacks`, the batch detector in :mod:`dnn_topology.studies.adversarial.detection`,
the per-input detectors in :mod:`dnn_topology.studies.adversarial.per_input`.

Units and conventions
---------------------
* ``epsilon`` is the L-infinity budget in **input pixel units**: pixels in [0, 1], *before* the
  dataset's normalisation ``(x - mean) / std``. FGSM with epsilon 0.1 moves each pixel by at most
  0.1 (26 of 255 grey levels), whatever the dataset's mean and std.
* PGD's ``step_size`` is in the same pixel units (foolbox's ``abs_stepsize``).
* The **noise control** (method ``noise``, attack id ``adv_noise_eps<epsilon>``) is not an attack: every pixel
  moves by +epsilon or -epsilon with probability 1/2 each (a random vertex of the L-infinity ball, clipped to
  [0, 1]), so it has the attacks' L-infinity norm without their direction. With ``adversarial.noise_control``
  (default true) :func:`attack_table` adds it at every epsilon of the configured attacks: a detector that flags it
  detects perturbation, not adversarial perturbation.
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

METHODS = ("fgsm", "pgd", "noise")
PGD_KEYS = ("steps", "step_size", "random_start", "seed")
"""The keys of an attack that only PGD reads (an FGSM attack with one of them is refused; the noise control reads
``seed``, of its signs)."""
DETECTOR_NAMES = ("topological_uncertainty", "per_sample_graph", "max_softmax", "entropy", "mahalanobis", "lid")
"""The per-input detectors (:data:`dnn_topology.studies.adversarial.per_input.DETECTORS`), one file each."""
NOISE = "noise"
"""The method (and default name) of the noise control."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


@dataclass(frozen=True)
class AttackSpec:
    """One attack at one budget.

    Parameters
    ----------
    name : str
        User-facing name of the attack (default: the method), part of the attack id.
    method : str
        ``fgsm`` (one signed-gradient step of size epsilon), ``pgd`` (projected gradient descent,
        ``steps`` steps of ``step_size``, optionally from a uniform random start in the epsilon ball) or
        ``noise`` (the control: each pixel moved by +-epsilon at random, see the module docstring).
    epsilon : float
        L-infinity budget in pixel units ([0, 1] images, before normalisation).
    steps, step_size, random_start
        PGD only (an FGSM attack configured with one is refused).
    seed : int
        Seed of PGD's random start and of the noise control's signs.
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

    @property
    def is_control(self) -> bool:
        """True for the noise control (not an attack)."""
        return self.method == NOISE

    def to_dict(self) -> dict:
        return asdict(self)


def attack_table(adversarial: dict | None) -> dict[str, AttackSpec]:
    """attack id -> :class:`AttackSpec` for every attack and epsilon of the ``adversarial`` config section, then
    the noise control at every epsilon of the attacks (``adversarial.noise_control``, default true) where the
    section does not list it itself.

    Raises ``ValueError`` naming the config key when a name is unusable or two entries give the same id.

    Examples
    --------
    >>> list(attack_table({"attacks": [{"method": "fgsm", "epsilons": [0.1, 0.2]}]}))
    ['adv_fgsm_eps0.1', 'adv_fgsm_eps0.2', 'adv_noise_eps0.1', 'adv_noise_eps0.2']
    >>> list(attack_table({"attacks": [{"method": "fgsm", "epsilons": [0.1]}], "noise_control": False}))
    ['adv_fgsm_eps0.1']
    """
    adversarial = adversarial or {}
    table: dict[str, AttackSpec] = {}
    for i, attack in enumerate(adversarial.get("attacks", [])):
        method = attack["method"]
        if method not in METHODS:
            raise ValueError(f"adversarial.attacks[{i}].method: {method!r} is not one of {list(METHODS)}")
        pgd_only = [k for k in PGD_KEYS if k in attack and not (method == NOISE and k == "seed")]
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
            elif method == NOISE:
                spec = AttackSpec(name, method, float(eps), seed=int(attack.get("seed", 0)))
            else:
                spec = AttackSpec(name, method, float(eps))
            if spec.attack_id in table:
                raise ValueError(
                    f"adversarial.attacks[{i}]: attack id {spec.attack_id!r} is given twice "
                    "(give the attacks distinct names)"
                )
            table[spec.attack_id] = spec
    if adversarial.get("noise_control", True):
        listed = {s.epsilon for s in table.values() if s.is_control}
        for eps in sorted({s.epsilon for s in table.values() if not s.is_control} - listed):
            spec = AttackSpec(NOISE, NOISE, eps)
            if spec.attack_id in table:
                raise ValueError(
                    f"adversarial.noise_control: the control's id {spec.attack_id!r} is an attack's too "
                    "(rename that attack)"
                )
            table[spec.attack_id] = spec
    return table


def default_deploy_attack(attacks: Mapping[str, AttackSpec]) -> str | None:
    """The attack the deployed per-input detectors are fitted on by default: the PGD attack with the largest
    epsilon, else the attack with the largest epsilon (None without attacks).

    Examples
    --------
    >>> default_deploy_attack(attack_table({"attacks": [{"method": "pgd", "epsilons": [0.1, 0.2]}]}))
    'adv_pgd_eps0.2'
    """
    real = [(s.method == "pgd", s.epsilon, a) for a, s in attacks.items() if not s.is_control]
    return max(real)[2] if real else None


def per_input_options(adversarial: Mapping | None, attacks: Mapping[str, AttackSpec]) -> dict:
    """Config section ``adversarial.per_input`` with ``deploy_attack`` resolved (:func:`default_deploy_attack`)."""
    options = dict((adversarial or {}).get("per_input") or {})
    options["deploy_attack"] = options.get("deploy_attack") or default_deploy_attack(attacks)
    return options


def adaptive_attacks(attacks: Mapping[str, AttackSpec], per_input: Mapping) -> list[str]:
    """The attacks of the adaptive-attack table: every PGD attack (noise controls are not attacks), when
    ``adversarial.per_input.adaptive.enabled``."""
    if not per_input.get("adaptive", {}).get("enabled", True):
        return []
    return [a for a, s in attacks.items() if s.method == "pgd"]


def reference_samples(sample_set: SampleSet, per_input: Mapping) -> SampleSet:
    """The training inputs the per-input detectors' references are fitted on: ``n_reference`` of the training
    samples the network was trained on (drawn as the activations stage draws training samples).

    Examples
    --------
    >>> reference_samples(SampleSet("mnist5k", 1000, "test", seed=3), {"n_reference": 500}).split
    'train'
    """
    return dataclasses.replace(sample_set, split="train", n_samples=int(per_input["n_reference"]))


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
    check_per_input(config)
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


def check_per_input(config: Mapping) -> None:
    """Check ``adversarial.per_input`` beyond its schema; ``ValueError`` naming the key."""
    adversarial = config.get("adversarial", {})
    per_input = adversarial.get("per_input", {})
    if not per_input.get("enabled", True):
        return
    attacks = attack_table(adversarial)
    deploy = per_input.get("deploy_attack")
    if deploy is not None and (deploy not in attacks or attacks[deploy].is_control):
        real = [a for a, s in attacks.items() if not s.is_control]
        raise ValueError(f"adversarial.per_input.deploy_attack: {deploy!r} is not one of the attack ids {real}")
    k, ref, n_ref = per_input.get("lid_k", 20), per_input.get("lid_reference", 100), per_input.get("n_reference", 1000)
    if not k < ref <= n_ref:
        raise ValueError(
            f"adversarial.per_input: LID needs lid_k < lid_reference <= n_reference, got lid_k {k}, "
            f"lid_reference {ref}, n_reference {n_ref}"
        )
    splits = [config.get("activations", {}).get("split", "test")]
    splits += [r.get("activations", {}).get("split") for r in config.get("runs", [])]
    if "train" in splits:
        raise ValueError(
            "adversarial.per_input: the per-input detectors are evaluated on the fixed samples, which must be test "
            "samples (activations.split: test); the references are fitted on training samples (set "
            "adversarial.per_input.enabled: false to attack training samples)"
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
