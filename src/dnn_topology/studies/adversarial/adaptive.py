"""Adaptive attacks: PGD against the network *and* a detector the attacker knows (Carlini & Wagner 2017).

Carlini & Wagner ("Adversarial examples are not easily detected: bypassing ten detection methods", AISec 2017)
showed that detectors which hold against a fixed attack fall to an attacker who includes the detector in the
loss. Where a detector is differentiable, the attacker here does that, with the *selective* loss of Bryniarski,
Hingun, Pachuca, Wang and Carlini ("Evading adversarial example detectors: a game theoretic perspective", ICLR
2022): at each projected signed-gradient step, an input the network still classifies correctly follows the
gradient of the margin ``-(z_y - max_{j != y} z_j)`` (z the network's output, logits or log-probabilities; y the
true class), a misclassified one follows the gradient of ``-d(x')``, the fitted detector's logit (its logistic
regression on standardised features; higher = flagged); ``|x' - x|_inf <= epsilon`` and ``0 <= x' <= 1`` throughout.
Steps, step size, random start and epsilon are the configured PGD attack's (pixel units). Of all iterates,
each input keeps the misclassified one with the lowest detector logit (the last iterate when none is
misclassified). A weighted sum of the two losses (Carlini & Wagner's form) lets the larger gradient win
everywhere under signed steps; the selective form needs no weight.

The differentiable detectors (:data:`~dnn_topology.studies.adversarial.per_input.DIFFERENTIABLE`):
``max_softmax`` (its feature, the largest softmax probability, is a function of the output) and ``mahalanobis``
(the smallest squared Mahalanobis distance to a class mean at each representation layer). The topological
features (spanning trees, sorted gaps) and LID (nearest neighbours) are piecewise differentiable at best; no
adaptive attack against them is run here, which is *not* evidence that they would hold.

Protocol (:func:`adaptive_table`): the fixed inputs are split in two halves (:func:`~dnn_topology.studies.
adversarial.evaluation.pair_folds` with 2 folds); the detector is fitted on one half against the configured PGD
attack (:func:`~dnn_topology.studies.adversarial.per_input.fit_detector`), with its threshold at 5% false
positives on that half's clean inputs; the other half is attacked by the plain PGD attack (attacker ``pgd``: the
inputs of rule ``attack``) and adaptively (attacker ``adaptive``). Reported per attacker: success rate (of the inputs classified correctly when clean), the detector's AUC on the successful
attacked inputs vs their clean versions (pair bootstrap interval), its detection rate at the threshold, the
false-positive rate realised on the clean half, and the **undetected success rate**: the fraction of correctly
classified inputs whose attacked copy is misclassified and not flagged.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ...io_utils import get_logger, write_csv
from ...layout import parse_epoch_path
from ...networks.samples import SampleSet
from .config import AttackSpec
from .evaluation import pair_auc, pair_bootstrap, pair_folds
from .per_input import (
    DIFFERENTIABLE,
    dense_weights,
    features_of,
    fit_detector,
    forward_representations,
    load_arrays,
    network_and_samples,
    network_arrays,
    population,
)

ADAPTIVE_COLUMNS = [
    "trial",
    "epoch",
    "attack",
    "epsilon",
    "detector",
    "attacker",
    "n_inputs",
    "success_rate",
    "n_pairs",
    "auc",
    "auc_low",
    "auc_high",
    "detection_rate",
    "clean_flag_rate",
    "undetected_success_rate",
]


def detector_logit(detector: str, model, columns: Sequence[str], reps: dict, reference: Mapping[str, np.ndarray]):
    """The fitted detector's logit as a torch function of :func:`~dnn_topology.studies.adversarial.per_input.
    forward_representations` (with ``grad``): differentiable in the input."""
    import torch

    out = reps["output"]
    feats = {}
    if detector == "max_softmax":
        feats["msp"] = torch.softmax(out, dim=1).max(dim=1).values
    elif detector == "mahalanobis":
        layers = {**{f"{k}.in": v for k, v in reps["dense"].items()}, "output": out}
        for layer, f in layers.items():
            means = torch.as_tensor(reference[f"maha_means__{layer}"], dtype=f.dtype, device=f.device)
            precision = torch.as_tensor(reference[f"maha_precision__{layer}"], dtype=f.dtype, device=f.device)
            diff = f[:, None, :] - means[None, :, :]
            feats[f"maha_{layer}"] = torch.einsum("ncd,de,nce->nc", diff, precision, diff).min(dim=1).values
    else:
        raise ValueError(f"detector {detector!r} is not differentiable here (one of {list(DIFFERENTIABLE)})")
    scaler, lr = model.named_steps["standardscaler"], model.named_steps["logisticregression"]
    x = torch.stack([feats[c] for c in columns], dim=1)
    like = dict(dtype=x.dtype, device=x.device)
    z = (x - torch.as_tensor(scaler.mean_, **like)) / torch.as_tensor(scaler.scale_, **like)
    return z @ torch.as_tensor(lr.coef_[0], **like) + float(lr.intercept_[0])


def _logit(detector, model, columns, reference, reps):
    return detector_logit(detector, model, columns, reps, reference)


def adaptive_pgd(net, x, y, spec: AttackSpec, mean, std, logit_fn, device, batch_size: int = 250):
    """The adaptive PGD of the module docstring against the detector logit ``logit_fn`` (a function of
    :func:`~dnn_topology.studies.adversarial.per_input.forward_representations`); adversarial pixels on the CPU.

    ``|x' - x|_inf <= epsilon`` and ``0 <= x' <= 1`` hold for every input.
    """
    import torch

    from .attacks import normalize

    net = net.eval().to(device)
    g = torch.Generator().manual_seed(int(spec.seed))
    out = []
    for s in range(0, len(x), batch_size):
        x0, yb = x[s : s + batch_size].to(device), y[s : s + batch_size].to(device)
        xa = x0.clone()
        if spec.random_start:
            noise = (torch.rand(tuple(x0.shape), generator=g) * 2 - 1) * spec.epsilon
            xa = (xa + noise.to(device)).clamp(0.0, 1.0)
        best, best_logit = xa.clone(), torch.full((len(xa),), float("inf"), device=device)
        for step in range(spec.steps + 1):
            xa.requires_grad_(True)
            reps = forward_representations(net, normalize(xa, mean, std), grad=True)
            z = reps["output"]
            true = z.gather(1, yb[:, None])[:, 0]
            other = z.masked_fill(torch.nn.functional.one_hot(yb, z.shape[1]).bool(), float("-inf")).max(dim=1).values
            margin = true - other
            logit = logit_fn(reps)
            with torch.no_grad():  # keep, per input, the misclassified iterate the detector scores lowest
                better = (margin < 0) & (logit < best_logit)
                best[better], best_logit[better] = xa[better].detach(), logit[better].detach()
            if step == spec.steps:
                break
            loss = torch.where(margin >= 0, -margin, -logit).sum()  # selective: one objective per input
            (grad,) = torch.autograd.grad(loss, xa)
            with torch.no_grad():
                xa = xa + spec.step_size * grad.sign()
                xa = torch.min(torch.max(xa, x0 - spec.epsilon), x0 + spec.epsilon).clamp(0.0, 1.0)
        never = torch.isinf(best_logit)
        best[never] = xa.detach()[never]
        out.append(best.detach().cpu())
    return torch.cat(out)


def adaptive_table(
    *,
    net,
    x,
    y,
    clean: pd.DataFrame,
    attacked: Mapping[str, pd.DataFrame],
    attacks: Mapping[str, Mapping],
    reference: Mapping[str, np.ndarray],
    sample_set: SampleSet,
    per_input: Mapping,
    device,
) -> pd.DataFrame:
    """The adaptive-attack rows (:data:`ADAPTIVE_COLUMNS` without trial and epoch) for every PGD attack in
    ``attacked`` and every differentiable detector (see the module docstring)."""
    mean, std = sample_set.normalization
    halves = pair_folds(len(clean), 2, int(per_input["seed"]))
    train, test = np.flatnonzero(halves == 0), np.flatnonzero(halves == 1)
    clean_test = clean.iloc[test].reset_index(drop=True)
    rows = []
    for attack_id, table in attacked.items():
        spec = AttackSpec(**attacks[attack_id])
        for detector in DIFFERENTIABLE:
            model, cols, threshold, _, _ = fit_detector(clean, table, detector, per_input, rows=train)
            s_clean = model.decision_function(clean_test[cols].to_numpy(float))
            for attacker in ("pgd", "adaptive"):
                if attacker == "pgd":  # the plain attack: rule attack's inputs
                    adv = table.iloc[test].reset_index(drop=True)
                else:
                    logit_fn = functools.partial(_logit, detector, model, cols, reference)
                    x_adv = adaptive_pgd(net, x[test], y[test], spec, mean, std, logit_fn, device)
                    arrays = network_arrays(net, x_adv, mean, std, device)
                    adv = features_of(arrays, dense_weights(net), reference, per_input, [detector])
                    adv["correct"] = (adv["predicted"].to_numpy() == y[test].numpy()).astype(int)
                s_adv = model.decision_function(adv[cols].to_numpy(float))
                ok = clean_test["correct"].to_numpy() == 1
                fooled = ok & (adv["correct"].to_numpy() == 0)
                idx = population(clean_test, adv, "successful")
                row = {
                    "attack": attack_id,
                    "epsilon": spec.epsilon,
                    "detector": detector,
                    "attacker": attacker,
                    "n_inputs": len(test),
                    "success_rate": float(fooled.sum() / max(ok.sum(), 1)),
                    "n_pairs": len(idx),
                    "clean_flag_rate": float((s_clean > threshold).mean()),
                    "undetected_success_rate": float((fooled & (s_adv <= threshold)).sum() / max(ok.sum(), 1)),
                }
                if len(idx) >= 10:
                    row["auc"] = pair_auc(s_clean[idx], s_adv[idx])
                    ci = pair_bootstrap(s_clean[idx], s_adv[idx], int(per_input["n_bootstrap"]), int(per_input["seed"]))
                    row.update(auc_low=ci["auc_low"], auc_high=ci["auc_high"])
                    row["detection_rate"] = float((s_adv[idx] > threshold).mean())
                rows.append(row)
                get_logger().info(
                    "%s, %s, %s attacker: success %.3f, AUC %s, undetected success %.3f",
                    attack_id,
                    detector,
                    attacker,
                    row["success_rate"],
                    f"{row['auc']:.3f}" if "auc" in row else "n/a",
                    row["undetected_success_rate"],
                )
    return pd.DataFrame(rows, columns=[c for c in ADAPTIVE_COLUMNS if c not in ("trial", "epoch")])


def per_input_adaptive_stage(
    *,
    checkpoint,
    reference,
    clean_csv,
    attacked_csvs: Sequence,
    adaptive,
    network: str,
    sample_set: SampleSet,
    attacks: Mapping[str, Mapping],
    per_input: Mapping,
    device: str = "auto",
    threads: int = 1,
) -> pd.DataFrame:
    """Stage ``per_input_adaptive``: the adaptive-attack table of one trial and epoch (:func:`adaptive_table`).

    Parameters
    ----------
    checkpoint, reference : path
        The epoch's checkpoint and per-input reference.
    clean_csv, attacked_csvs : path, sequence of paths
        Features of the clean inputs and of the PGD attacks (trial, epoch and attack read from the paths).
    adaptive : path
        The CSV to write (:data:`ADAPTIVE_COLUMNS`).
    network, sample_set
        Config key ``runs[].network``; the run's fixed samples.
    attacks : mapping
        attack id -> attack spec (dict).
    per_input : mapping
        Config section ``adversarial.per_input``.
    device, threads
        Config key ``device``; torch threads.
    """
    where = parse_epoch_path(clean_csv)
    net, _, x, y, dev = network_and_samples(checkpoint, network, sample_set, None, device, threads)
    ref, _ = load_arrays(reference)
    table = adaptive_table(
        net=net,
        x=x,
        y=y,
        clean=pd.read_csv(clean_csv),
        attacked={parse_epoch_path(p).attack: pd.read_csv(p) for p in attacked_csvs},
        attacks=attacks,
        reference=ref,
        sample_set=sample_set,
        per_input=per_input,
        device=dev,
    )
    table.insert(0, "epoch", where.epoch)
    table.insert(0, "trial", where.trial)
    write_csv(table, adaptive)
    return table
