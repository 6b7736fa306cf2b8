"""Checkpoints: reading and writing them, DataParallel's ``module.`` prefixes, and the device.

A checkpoint is a ``torch.save``'d dict with at least ``'net'``, the network's state dict (float
tensors on the CPU, parameter names as in :mod:`dnn_topology.networks.models`). Ours add ``'epoch'``,
``'test_acc'`` (a fraction), ``'acc'`` (the original code's test accuracy, in percent) and
``'config'``; the original code's have ``'net'``, ``'acc'`` and ``'epoch'``, with ``module.``
prefixes when it trained under DataParallel. Training states (see :mod:`dnn_topology.networks.training`)
are written and read here too. Every file is read with :func:`read_checkpoint` and written
atomically with :func:`save_checkpoint`. Checkpoints are pickles, so they are read with
``torch.load(weights_only=True)``: tensors, numbers, strings and containers only; a file holding any
other object (which could run code while it is unpickled) is refused before that code runs.

Checkpoints trained elsewhere (config key ``runs[].checkpoints``, :func:`load_weights`) may be a plain
``state_dict`` or one wrapped as ``{"state_dict": ...}``, ``{"model": ...}``, ``{"model_state_dict": ...}`` or
``{"net": ...}`` (other entries, such as an optimizer's state, are ignored); ``module.`` (DataParallel,
DistributedDataParallel) and ``_orig_mod.`` (``torch.compile``) prefixes are removed. ``.safetensors`` files
are read with the safetensors package where it is installed (they hold tensors only). A state dict that does
not fit the network is refused naming the missing and unexpected keys and the shapes that differ.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io_utils import atomic_path
from .architectures import build
from .datasets import DatasetSpec
from .refs import NetworkRef

PathLike = str | Path


class CheckpointError(ValueError):
    """A checkpoint cannot be read, has no ``'net'`` state dict, or does not fit the network."""


class CheckpointRefusedError(CheckpointError):
    """A checkpoint holds more than weights (pickled objects that could run code): not read."""


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device of config key ``device``: ``auto`` picks CUDA when available, else the CPU.

    Parameters
    ----------
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:<index>"``.

    Returns
    -------
    torch.device
        The device; asking for CUDA where there is none raises ``RuntimeError``.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"config asks for device {device!r} but CUDA is not available")
    return dev


def torch_setup(device: str = "auto", threads: int = 1) -> torch.device:
    """Let torch use ``threads`` threads (at least one) and return the device of :func:`resolve_device`."""
    torch.set_num_threads(max(1, int(threads)))
    return resolve_device(device)


def cpu_state_dict(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``net`` detached and on the CPU, as checkpoints store it."""
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}


# The original code saved its test accuracy as a NumPy float64 scalar (np.mean of per-batch accuracies).
# Reading one needs these classes, which rebuild a number from its bytes and construct nothing else.
NUMPY_SCALAR_GLOBALS = [np._core.multiarray.scalar, np.dtype] + sorted(
    {
        type(np.dtype(t))
        for t in (
            np.bool_,
            np.int8,
            np.int16,
            np.int32,
            np.int64,
            np.uint8,
            np.uint16,
            np.uint32,
            np.uint64,
            np.float16,
            np.float32,
            np.float64,
            np.longdouble,
        )
    },
    key=str,
)


def read_checkpoint(path: PathLike, numpy_scalars: bool = False) -> dict:
    """Read a checkpoint (or training state) written by ``torch.save``, onto the CPU.

    Only tensors, numbers, strings and containers of them are read (``torch.load(weights_only=True)``):
    a file that would construct any other object, i.e. run code while it is read, is refused with
    :class:`CheckpointRefusedError`, and its code never runs.

    Parameters
    ----------
    path : str or Path
        The file.
    numpy_scalars : bool
        Also read NumPy numbers (:data:`NUMPY_SCALAR_GLOBALS`), as in the original code's checkpoints.

    Returns
    -------
    dict
        The checkpoint. Raises :class:`CheckpointError` naming ``path`` when it cannot be read or is not a dict.
    """
    path = Path(path)
    try:
        with torch.serialization.safe_globals(NUMPY_SCALAR_GLOBALS if numpy_scalars else []):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # what weights_only=True raises for anything but weights, and for garbage
        found = [
            line.split("error:")[-1].split(". Please")[0].strip()
            for line in str(err).splitlines()
            if "Unsupported global" in line
        ]
        if not found:  # not an object refused but bytes that are no pickle (random, or cut short)
            raise CheckpointError(_unreadable(path, err)) from err
        raise CheckpointRefusedError(
            f"checkpoint {path}: refused, it holds objects other than tensors, numbers and strings, which could "
            f"run code when read; only weights are read (torch.load(weights_only=True)). {found[0]}"
        ) from err
    except (FileNotFoundError, IsADirectoryError, PermissionError) as err:
        raise CheckpointError(f"checkpoint {path}: cannot read it: {err.strerror}") from err
    except Exception as err:  # torch raises many types for a bad file (OSError EINVAL, RuntimeError, EOFError, ...)
        raise CheckpointError(_unreadable(path, err)) from err
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path}: not a checkpoint (a dict with a 'net' state dict)")
    return state


ZIP_START, ZIP_END = b"PK\x03\x04", b"PK\x05\x06"  # a zip archive's first local header, its end record


def _unreadable(path: Path, err: BaseException) -> str:
    """Why ``path`` is no checkpoint that ``torch.load`` reads, in words (``err``: what torch raised).

    ``torch.save`` writes a zip archive (its end record in the last bytes) or, in the old format of the
    original code, a pickle; a file cut short loses the end record, so it is told apart from other bytes.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(max(0, size - 65_557))  # the end record: 22 bytes and a comment of at most 65,535
            tail = fh.read()
    except OSError as os_err:
        return f"checkpoint {path}: cannot read it: {os_err}"
    if size == 0:
        return f"checkpoint {path}: the file is empty (0 bytes), not a checkpoint"
    if head == ZIP_START and ZIP_END not in tail:
        return (
            f"checkpoint {path}: the file is truncated ({size} bytes): a torch.save archive without its end, as "
            "left by a copy or a write cut short; copy it again, or delete it and rerun what writes it"
        )
    text = str(err).split("WeightsUnpickler error:")[-1]  # torch's advice before it is beside the point
    first = ([line.strip() for line in text.splitlines() if line.strip()] or [type(err).__name__])[0][:160]
    return (
        f"checkpoint {path}: not a checkpoint, or a truncated or corrupted one: torch.load cannot read its "
        f"{size} bytes ({type(err).__name__}: {first})"
    )


def save_checkpoint(path: PathLike, state: dict) -> None:
    """Write ``state`` with ``torch.save``, atomically (a failed write leaves no file behind)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: a full disk raises OSError(ENOSPC)
        torch.save(state, fh)


STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "net")
"""Keys under which a checkpoint may wrap its state dict, in the order they are tried."""

PREFIXES = ("module.", "_orig_mod.")
"""Prefixes that wrappers add to every key (DataParallel/DistributedDataParallel, torch.compile)."""


def _is_state_dict(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(isinstance(v, torch.Tensor) for v in value.values())


def state_dict_of(checkpoint: Mapping[str, Any], path: PathLike = "checkpoint") -> dict[str, torch.Tensor]:
    """The state dict in ``checkpoint``: itself, or under one of :data:`STATE_DICT_KEYS`, with :data:`PREFIXES` that
    every key carries removed.

    Examples
    --------
    >>> import torch
    >>> state_dict_of({"epoch": 3, "model": {"module.fc.weight": torch.zeros(2, 2)}})
    {'fc.weight': tensor([[0., 0.],
            [0., 0.]])}
    """
    found = checkpoint if _is_state_dict(checkpoint) else None
    for key in STATE_DICT_KEYS:
        if found is None and _is_state_dict(checkpoint.get(key)):
            found = checkpoint[key]
    if found is None:
        raise CheckpointError(
            f"checkpoint {path}: no state dict in it (a mapping of parameter names to tensors, as such or under one "
            f"of the keys {list(STATE_DICT_KEYS)}); its keys are {sorted(map(str, checkpoint))[:10]}"
        )
    weights = dict(found)
    for prefix in PREFIXES:
        if all(k.startswith(prefix) for k in weights):
            weights = {k[len(prefix) :]: v for k, v in weights.items()}
    return weights


def read_weights(path: PathLike) -> dict[str, torch.Tensor]:
    """The state dict of checkpoint file ``path``: a ``torch.save``'d file read with ``weights_only=True``
    (:func:`read_checkpoint`, then :func:`state_dict_of`) or a ``.safetensors`` file."""
    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file  # optional: the safetensors extra
        except ImportError:
            raise CheckpointError(
                f"checkpoint {path}: reading .safetensors files needs the safetensors package "
                "(pip install 'dnn-topology[safetensors]')"
            ) from None
        try:
            return state_dict_of(load_file(str(path), device="cpu"), path)
        except CheckpointError:
            raise
        except Exception as err:  # safetensors raises its own error types for a bad file
            raise CheckpointError(f"checkpoint {path}: cannot read it: {err}") from err
    return state_dict_of(read_checkpoint(path), path)


def _listed(keys: list[str], limit: int = 8) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def load_weights(net: torch.nn.Module, weights: Mapping[str, torch.Tensor], path: PathLike, network: str) -> None:
    """Load ``weights`` into ``net``; a :class:`CheckpointError` names the missing and unexpected keys and the
    tensors whose shapes differ when they do not fit."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    shapes = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and tuple(weights[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        parts = [f"missing keys ({len(missing)}): {_listed(missing)}"] if missing else []
        parts += [f"unexpected keys ({len(unexpected)}): {_listed(unexpected)}"] if unexpected else []
        parts += [f"shapes differ (checkpoint vs network): {_listed(shapes)}"] if shapes else []
        raise CheckpointError(f"checkpoint {path} does not fit network {network!r}: " + "; ".join(parts))
    net.load_state_dict(dict(weights))


def load_checkpoint(
    path: PathLike,
    network: NetworkRef | Mapping[str, Any] | str,
    spec: DatasetSpec,
    device: torch.device | str = "cpu",
    numpy_scalars: bool = False,
) -> tuple[torch.nn.Module, dict]:
    """Build ``network`` for ``spec`` and load the weights of checkpoint ``path`` (ours, the original's, or one
    trained elsewhere: see the module docstring).

    Parameters
    ----------
    path : str or Path
        The checkpoint file.
    network : NetworkRef, mapping or str
        The network (config keys ``runs[].network`` and ``runs[].network_kwargs``), see
        :func:`dnn_topology.networks.architectures.build`.
    spec : DatasetSpec
        Shape of the dataset the network was trained on (2 classes when labels were binarized).
    device : torch.device or str
        Where the network goes.
    numpy_scalars : bool
        Also read NumPy numbers (the original code's ``'acc'``), see :func:`read_checkpoint`.

    Returns
    -------
    net : torch.nn.Module
        The network in evaluation mode on ``device``.
    state : dict
        The whole checkpoint as read (the tensors alone for a ``.safetensors`` file).
    """
    path = Path(path)
    ref = NetworkRef.of(network)
    if path.suffix == ".safetensors":
        weights = read_weights(path)
        state: dict = dict(weights)
    else:
        state = read_checkpoint(path, numpy_scalars)
        weights = state_dict_of(state, path)
    net = build(ref, spec)
    load_weights(net, weights, path, ref.name)
    return net.to(device).eval(), state
