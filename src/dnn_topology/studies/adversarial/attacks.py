"""Adversarial attacks against one epoch's checkpoint: FGSM and PGD, L-infinity, untargeted.

The attacks are foolbox's (``LinfFastGradientAttack`` without random start = FGSM, ``LinfPGD``), on the
network wrapped so that it takes **pixels in [0, 1]**: the dataset's normalisation ``(x - mean) / std``
is foolbox's preprocessing, so epsilon and PGD's step size are in pixel units and every adversarial
image is clipped to [0, 1] (see :mod:`dnn_topology.studies.adversarial.config`). The samples, stored normalised by
:func:`dnn_topology.networks.datasets.load_split`, are mapped back to pixels first.

Why foolbox: it installs next to this project's torch with one extra package (eagerpy), where
torchattacks 3.5.1 pins ``requests~=2.25.1`` and would downgrade requests, urllib3 and idna.

The attack record of one epoch and attack (:data:`RECORD_COLUMNS`): ``clean_acc_pct`` and
``adversarial_acc_pct`` on the fixed sample set (percent, as every accuracy of the package),
``success_rate_pct`` = the percentage of the correctly classified samples that the attack makes
misclassified, and the mean L-infinity and L2 norms of the perturbation in pixel units (over all
samples, L2 over all pixels and channels of an image).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ...io_utils import atomic_path, get_logger, write_csv
from ...networks.activations import fixed_samples, load_network, node_activations, save_activations
from ...networks.checkpoints import torch_setup
from ...networks.labels import binarize_labels
from ...networks.nodes import NodeSelection
from ...networks.samples import SampleSet
from .config import AttackSpec

RECORD_COLUMNS = [
    "attack",
    "method",
    "epsilon",
    "steps",
    "step_size",
    "n_samples",
    "clean_acc_pct",
    "adversarial_acc_pct",
    "success_rate_pct",
    "mean_linf",
    "mean_l2",
    "max_linf",
]


def _foolbox():
    with warnings.catch_warnings():  # foolbox 3.3 imports a deprecated scipy namespace
        warnings.simplefilter("ignore", DeprecationWarning)
        import foolbox

    return foolbox


def _channel_tensor(values, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, dtype=like.dtype, device=like.device).reshape(1, -1, 1, 1)


def to_pixels(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Normalised images (N, C, H, W) back to pixels, clipped to [0, 1] (undoes float rounding only)."""
    return (x * _channel_tensor(std, x) + _channel_tensor(mean, x)).clamp_(0.0, 1.0)


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Pixels (N, C, H, W) in [0, 1] to the network's normalised inputs."""
    return (x - _channel_tensor(mean, x)) / _channel_tensor(std, x)


def sample_pixels(samples: Dataset, mean, std, binarize_class: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of ``samples`` as pixels in [0, 1] and their labels (binarized like training when asked)."""
    xs, ys = zip(*((x, y) for x, y in DataLoader(samples, batch_size=1000, shuffle=False)))
    x, y = torch.cat(xs).float(), torch.cat(ys).long()
    if binarize_class is not None:
        y = torch.from_numpy(binarize_labels(y.numpy(), binarize_class)).long()
    return to_pixels(x, mean, std), y


def attack(
    net: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    spec: AttackSpec,
    mean,
    std,
    device: torch.device | str = "cpu",
    batch_size: int = 250,
) -> torch.Tensor:
    """Adversarial pixels for ``x`` (pixels in [0, 1]) with true labels ``y``, on the CPU.

    ``|x_adv - x|_inf <= spec.epsilon`` and ``0 <= x_adv <= 1`` hold for every sample (up to float32
    rounding). PGD's random start draws from torch's generator seeded with ``spec.seed``.
    """
    fb = _foolbox()
    net = net.eval().to(device)
    model = fb.PyTorchModel(
        net, bounds=(0.0, 1.0), device=device, preprocessing={"mean": list(mean), "std": list(std), "axis": -3}
    )
    if spec.method == "fgsm":
        method = fb.attacks.LinfFastGradientAttack(random_start=False)
    elif spec.method == "pgd":
        method = fb.attacks.LinfPGD(steps=spec.steps, abs_stepsize=spec.step_size, random_start=spec.random_start)
    else:
        raise ValueError(f"unknown attack method {spec.method!r}; use 'fgsm' or 'pgd'")
    torch.manual_seed(spec.seed)
    out = []
    for s in range(0, len(x), batch_size):
        xb, yb = x[s : s + batch_size].to(device), y[s : s + batch_size].to(device)
        _, clipped, _ = method(model, xb, yb, epsilons=spec.epsilon)
        out.append(clipped.detach().cpu())
    return torch.cat(out) if out else x.clone()


def logits_of(
    net: torch.nn.Module, x: torch.Tensor, mean, std, device: torch.device | str = "cpu", batch_size: int = 250
) -> torch.Tensor:
    """The network's outputs for pixels ``x``, on the CPU."""
    net = net.eval().to(device)
    with torch.no_grad():
        return torch.cat(
            [net(normalize(x[s : s + batch_size].to(device), mean, std)).cpu() for s in range(0, len(x), batch_size)]
        )


def attack_record(
    net: torch.nn.Module,
    x: torch.Tensor,
    x_adv: torch.Tensor,
    y: torch.Tensor,
    spec: AttackSpec,
    mean,
    std,
    device: torch.device | str = "cpu",
) -> dict:
    """One row of the attack record (:data:`RECORD_COLUMNS`), norms in pixel units."""
    clean_ok = (logits_of(net, x, mean, std, device).argmax(1) == y).numpy()
    adv_ok = (logits_of(net, x_adv, mean, std, device).argmax(1) == y).numpy()
    delta = (x_adv - x).reshape(len(x), -1).double()
    linf = delta.abs().amax(1).numpy() if len(x) else np.zeros(0)
    l2 = delta.norm(dim=1).numpy()
    return {
        "attack": spec.attack_id,
        "method": spec.method,
        "epsilon": spec.epsilon,
        "steps": spec.steps,
        "step_size": spec.step_size,
        "n_samples": int(len(x)),
        "clean_acc_pct": round(100.0 * float(clean_ok.mean()), 10),
        "adversarial_acc_pct": round(100.0 * float(adv_ok.mean()), 10),
        "success_rate_pct": round(100.0 * float((~adv_ok[clean_ok]).mean()), 10) if clean_ok.any() else float("nan"),
        "mean_linf": float(linf.mean()),
        "mean_l2": float(l2.mean()),
        "max_linf": float(linf.max()),
    }


def pixel_activations(
    net: torch.nn.Module, x: torch.Tensor, selection: NodeSelection, mean, std, device: torch.device
) -> np.ndarray:
    """Activations (n, N) of the selected nodes for pixels ``x`` (normalised as the network was trained)."""
    fake_labels = torch.zeros(len(x), dtype=torch.long)
    return node_activations(net, TensorDataset(normalize(x, mean, std), fake_labels), selection, device)


def attack_stage(
    *,
    checkpoint: str | Path,
    activations: str | Path,
    nodes: str | Path,
    record: str | Path,
    inputs: str | Path,
    network: str,
    sample_set: SampleSet,
    attack_spec: dict,
    node_selection: dict | None = None,
    device: str = "auto",
    threads: int = 1,
) -> pd.DataFrame:
    """Stage ``attack``: attack the fixed samples of one checkpoint and record the attacked samples' activations.

    Parameters
    ----------
    checkpoint : str or Path
        The checkpoint of one epoch.
    activations, nodes, record, inputs : str or Path
        Files to write (atomically): the attacked samples' (n_samples, N) float32 activations ``.npy`` and the
        node table (as the activations stage), the attack record (one row of :data:`RECORD_COLUMNS`) and the
        adversarial images (n_samples, C, H, W) in pixel units ``.npy``.
    network : str
        Config key ``runs[].network``.
    sample_set : SampleSet
        The samples of the activations stage (its binarized labels, if any, are the attack's labels).
    attack_spec : dict
        The attack (fields of :class:`dnn_topology.studies.adversarial.config.AttackSpec`).
    node_selection : dict, optional
        Config key ``activations.node_selection``: the same nodes as the clean activations.
    device, threads
        Config key ``device``; torch threads.

    Returns
    -------
    pandas.DataFrame
        The attack record.
    """
    dev = torch_setup(device, threads)
    spec = AttackSpec(**attack_spec)
    mean, std = sample_set.normalization
    net, selection = load_network(checkpoint, network, sample_set, node_selection, dev)
    x, y = sample_pixels(fixed_samples(sample_set)[0], mean, std, sample_set.binarize_class)
    x_adv = attack(net, x, y, spec, mean, std, dev)
    table = pd.DataFrame([attack_record(net, x, x_adv, y, spec, mean, std, dev)], columns=RECORD_COLUMNS)
    acts = pixel_activations(net, x_adv, selection, mean, std, dev)
    r = table.iloc[0]
    get_logger().info(
        "%s, %s: accuracy %.1f%% clean, %.1f%% under attack (success %.1f%%), mean Linf %.4f, L2 %.3f; "
        "%d samples x %d nodes",
        checkpoint,
        spec.attack_id,
        r.clean_acc_pct,
        r.adversarial_acc_pct,
        r.success_rate_pct,
        r.mean_linf,
        r.mean_l2,
        acts.shape[0],
        acts.shape[1],
    )
    save_activations(acts, selection.table, activations, nodes)
    with atomic_path(inputs) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, x_adv.numpy().astype(np.float32))
    write_csv(table, record)
    return table
