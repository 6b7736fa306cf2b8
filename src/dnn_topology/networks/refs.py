"""References to networks and data in the configuration, parsed and checked without running any code.

A run's ``network`` (config key ``runs[].network``) is one of

* a **built-in** name (:data:`BUILTIN_NETWORKS`, see :mod:`dnn_topology.networks.models`);
* ``torchvision:<name>`` -- an architecture of ``torchvision.models``, built without weights and with the
  dataset's number of classes (the weights come from the checkpoints);
* ``<module>:<callable>`` -- a callable in an importable module (the working directory is searched too);
* ``<file.py>:<callable>`` -- a callable defined in a Python file (a path relative to the working directory,
  or absolute);

the last two are called as ``callable(**network_kwargs)`` and must return a ``torch.nn.Module``. A dataset of
config key ``datasets`` names its loader the same way (``<module>:<callable>`` or ``<file.py>:<callable>``).

**Importing a module or a file runs its code**, as Snakemake runs a Snakefile: the configuration decides which
code runs. Nothing else executes code that comes with data: checkpoints are read with
``torch.load(weights_only=True)``. This module only parses references and checks that a file or module is
there (:func:`check_callable_ref`); :func:`load_callable` imports it, and only jobs call it.

A :class:`NetworkRef` is a run's network as one value: the reference, the factory's keyword arguments
(``runs[].network_kwargs``) and the layers whose nodes are recorded (``runs[].layers``; None: a built-in
network's declared feature layers). Rules pass it as params (:meth:`NetworkRef.params`).

Torch-free: the workflow parses references while it parses its rules.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "BUILTIN_NETWORKS",
    "TORCHVISION_PREFIX",
    "CallableRef",
    "NetworkRef",
    "check_callable_ref",
    "load_callable",
    "parse_callable_ref",
]

BUILTIN_NETWORKS: tuple[str, ...] = (
    "alexnet",
    "conv_2",
    "conv_4",
    "conv_6",
    "lenet",
    "lenet_300_100",
    "resnet18",
    "resnet34",
    "resnet50",
    "vgg16",
)
"""The networks of :data:`dnn_topology.networks.models.NETWORKS`, known without torch (``tests/test_refs.py``)."""

TORCHVISION_PREFIX = "torchvision:"


@dataclass(frozen=True)
class CallableRef:
    """``<module>:<callable>`` or ``<file.py>:<callable>``: where a user's callable is defined.

    ``target`` is the module name or the file path (as written: relative to the working directory, or
    absolute), ``attr`` the callable's name in it (dots reach into classes or submodules' attributes).
    """

    target: str
    attr: str

    @property
    def is_file(self) -> bool:
        """Whether :attr:`target` is a Python file (``.py``) rather than a module name."""
        return self.target.endswith(".py")

    def __str__(self) -> str:
        return f"{self.target}:{self.attr}"


def parse_callable_ref(text: str, key: str) -> CallableRef:
    """The :class:`CallableRef` of ``text``; ``ValueError`` naming config key ``key`` when it is not one.

    Examples
    --------
    >>> parse_callable_ref("models/net.py:SmallCNN", "runs[0].network")
    CallableRef(target='models/net.py', attr='SmallCNN')
    >>> parse_callable_ref("mypackage.nets:build", "runs[0].network").is_file
    False
    """
    target, sep, attr = str(text).rpartition(":")
    if not sep or not target or not attr or not all(part.isidentifier() for part in attr.split(".")):
        raise ValueError(
            f"{key}: {text!r} is not a reference to a callable; write <module>:<callable> or <file.py>:<callable>"
        )
    if not target.endswith(".py") and not all(part.isidentifier() for part in target.split(".")):
        raise ValueError(f"{key}: {target!r} in {text!r} is neither a module name nor a .py file")
    return CallableRef(target, attr)


def _module_search_path() -> None:
    """Let ``<module>:<callable>`` find modules of the working directory (a job's script runs elsewhere)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)


def check_callable_ref(ref: CallableRef, key: str) -> None:
    """Raise ``ValueError`` naming ``key`` when the file of ``ref`` does not exist, or its top-level module
    cannot be found. Nothing is imported (no code runs)."""
    if ref.is_file:
        if not Path(ref.target).is_file():
            raise ValueError(f"{key}: file {ref.target} (of {ref}) not found (relative to {os.getcwd()})")
        return
    _module_search_path()
    top = ref.target.split(".")[0]
    if top not in sys.modules and importlib.util.find_spec(top) is None:
        raise ValueError(
            f"{key}: module {top!r} (of {ref}) not found on the Python path or in the working directory {os.getcwd()}"
        )


def _import_file(path: Path):
    """Import the Python file ``path`` once per process, as module ``dnn_topology_user_<stem>_<hash>``.

    Its folder goes first on ``sys.path``, as when the file is run as a script, so that it can import its
    neighbours.
    """
    path = path.resolve()
    name = f"dnn_topology_user_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling look their module up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_callable(ref: CallableRef | str, key: str = "reference") -> Callable[..., Any]:
    """Import the module or file of ``ref`` (**this runs its code**) and return the callable it names.

    Errors name ``key`` (the config key) and the reference.
    """
    if isinstance(ref, str):
        ref = parse_callable_ref(ref, key)
    check_callable_ref(ref, key)
    try:
        obj: Any = _import_file(Path(ref.target)) if ref.is_file else importlib.import_module(ref.target)
    except Exception as err:
        raise ValueError(f"{key}: importing {ref.target} (of {ref}) failed: {type(err).__name__}: {err}") from err
    for part in ref.attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{key}: {ref.target} defines no {ref.attr!r} (of {ref})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{key}: {ref} is a {type(obj).__name__}, not a callable")
    return obj


@dataclass(frozen=True)
class NetworkRef:
    """A run's network: what to build, with which keyword arguments, and which layers to record.

    Parameters
    ----------
    name : str
        Config key ``runs[].network`` (see the module docstring).
    kwargs : mapping
        Config key ``runs[].network_kwargs``: keyword arguments of a ``torchvision:`` builder or of a user's
        callable (none for the built-in networks).
    layers : sequence of str, optional
        Config key ``runs[].layers``: module names (``named_modules()``) or torchvision feature-extraction
        node names whose outputs are recorded, in this order. None: the built-in network's declared layers.

    Examples
    --------
    >>> NetworkRef("torchvision:resnet18", layers=["layer3", "layer4"]).kind
    'torchvision'
    >>> NetworkRef.of({"name": "lenet", "kwargs": {}, "layers": None}) == NetworkRef.of("lenet")
    True
    >>> NetworkRef("lenet").params()
    'lenet'
    """

    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    layers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs or {})))
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(str(layer) for layer in self.layers))

    @property
    def kind(self) -> str:
        """``builtin``, ``torchvision`` or ``callable``."""
        if self.name in BUILTIN_NETWORKS:
            return "builtin"
        if self.name.startswith(TORCHVISION_PREFIX):
            return "torchvision"
        return "callable"

    @property
    def is_builtin(self) -> bool:
        """A built-in network: it outputs log-probabilities; the others output logits."""
        return self.kind == "builtin"

    @property
    def torchvision_name(self) -> str:
        """The architecture of a ``torchvision:<name>`` reference."""
        return self.name[len(TORCHVISION_PREFIX) :]

    def callable_ref(self, key: str = "runs[].network") -> CallableRef:
        """The :class:`CallableRef` of a user's network."""
        return parse_callable_ref(self.name, key)

    def check(self, key: str = "runs[].network") -> None:
        """Raise ``ValueError`` naming ``key`` if the reference cannot be built (checked without running code)."""
        if self.kind == "builtin":
            if self.kwargs:
                raise ValueError(
                    f"{key}_kwargs: built-in network {self.name!r} takes no keyword arguments "
                    f"(it is built for the run's dataset)"
                )
            return
        if self.kind == "torchvision":
            if not self.torchvision_name.isidentifier():
                raise ValueError(f"{key}: {self.name!r}: write torchvision:<architecture>, e.g. torchvision:resnet18")
            return
        if ":" not in self.name:
            raise ValueError(
                f"{key}: unknown network {self.name!r}; choose one of {list(BUILTIN_NETWORKS)}, "
                "torchvision:<name>, <module>:<callable> or <file.py>:<callable>"
            )
        check_callable_ref(self.callable_ref(key), key)

    def params(self) -> str | dict[str, Any]:
        """A plain value (rule params): the bare name when there are neither ``kwargs`` nor ``layers`` (so that the
        params of a built-in network's jobs are those of earlier versions, and nothing reruns), else a dict of
        ``name``, ``kwargs`` and ``layers``."""
        if not self.kwargs and self.layers is None:
            return self.name
        return {
            "name": self.name,
            "kwargs": dict(self.kwargs),
            "layers": None if self.layers is None else list(self.layers),
        }

    @classmethod
    def of(cls, network: NetworkRef | Mapping[str, Any] | str) -> NetworkRef:
        """``network`` as a NetworkRef: itself, from :meth:`params`, or a bare name (a built-in network)."""
        if isinstance(network, NetworkRef):
            return network
        if isinstance(network, str):
            return cls(network)
        return cls(network["name"], network.get("kwargs") or {}, network.get("layers"))

    @classmethod
    def from_run(cls, run: Mapping[str, Any]) -> NetworkRef:
        """The network of a configured run (``network``, ``network_kwargs``, ``layers``)."""
        return cls(run["network"], run.get("network_kwargs") or {}, run.get("layers"))
