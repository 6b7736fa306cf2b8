"""The ``dnn-topology`` command line.

Subcommands:

``full-to-sparse MAX_EPS INPUT OUTPUT``
    DIPHA's ``full_to_sparse_distance_matrix``, byte for byte.
``dipha --upper_dim D [--dual] [--benchmark] [--threads N] [--engine E] INPUT OUTPUT``
    Drop-in for ``mpiexec -n N dipha --upper_dim D [--dual] INPUT OUTPUT`` on DISTANCE_MATRIX and
    SPARSE_DISTANCE_MATRIX inputs; the output file is identical to DIPHA's.
``import-original --original-root DIR --net NET --dataset DS --trial T --results DIR --run NAME``
    Copy/convert the original code's checkpoints, distance matrices and diagrams into our layout.
``layers NETWORK [--dataset DS] [--network-kwargs JSON] [--input-shape C H W] [--num-classes N]``
    The layers of any network that config key ``runs[].layers`` may name (module names and torchvision's
    feature-extraction node names), with their output shape and node count.
``check-config FILE...``
    Check workflow configuration files as the workflow does at start-up; a YAML syntax error names its line.
``estimate-test-error --model MODEL.json --train-acc PCT (--diagram FILE [--topology FILE] | --checkpoint FILE)``
    A network's test accuracy estimated from the topology of its training-sample graph with a
    model fitted by a generalization study, and its prediction interval. No test sample is used.
    An estimate outside 0..100 % is clipped and flagged as an extrapolation; a --train-acc at or below 1
    (a fraction?) is warned about.
``detect --detector FILE --checkpoint FILE --image FILE``
    Is this input adversarial? One image's score under a per-input detector fitted by the workflow
    (``results/<run>/adversarial/per_input/trial_<T>/epoch_<E>/detectors/<detector>.npz``) and its decision.

``dnn-topology --version`` prints the package's version.

Errors are reported as ``dnn-topology: error: ...`` (naming the file) with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, layout
from .networks.original import ImportOriginalError, import_original, summarize
from .topology import dipha_files as dio
from .topology import persistence as pers
from .topology.graph import sparse_distance_stage

PROG = "dnn-topology"
THREAD_ENV_VARS = ("DNN_TOPOLOGY_THREADS", "OMP_NUM_THREADS")


class CliError(Exception):
    """An error to report as ``dnn-topology: error: <message>`` with exit status 2."""


class _UsageError(CliError):
    """A command-line usage error (argparse); the usage line is printed as well."""

    def __init__(self, message: str, usage: str):
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so that ``main`` returns the status."""

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(message, self.format_usage())


# --------------------------------------------------------------------------- helpers


def parse_max_eps(text: str) -> float:
    """Parse MAX_EPS like DIPHA's ``std::stod`` with the whole argument consumed."""
    try:
        value = float(text)
    except ValueError:
        raise CliError(f"MAX_EPS must be a number, got {text!r}") from None
    if "_" in text or text != text.strip() or value != value:
        raise CliError(f"MAX_EPS must be a number, got {text!r}")
    return value


def resolve_threads(requested: int | None, environ: dict[str, str] | None = None) -> int:
    """``--threads`` if given, else ``DNN_TOPOLOGY_THREADS``, else ``OMP_NUM_THREADS``, else 1."""
    if requested is not None:
        if requested < 1:
            raise CliError(f"--threads must be >= 1, got {requested}")
        return requested
    environ = os.environ if environ is None else environ
    for var in THREAD_ENV_VARS:
        raw = environ.get(var, "").strip()
        if raw:
            try:
                value = int(raw)
            except ValueError:
                raise CliError(f"environment variable {var}={raw!r} is not a positive integer") from None
            if value < 1:
                raise CliError(f"environment variable {var}={raw!r} is not a positive integer")
            return value
    return 1


def output_path(path: Path) -> Path:
    """``path`` as an output: its directory must exist (a mistyped directory is not created)."""
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise CliError(f"{path}: {parent} is not a directory")
    if not parent.is_dir():
        raise CliError(f"{path}: directory {parent} does not exist (create it first)")
    return path


# --------------------------------------------------------------------------- subcommands


def _add_full_to_sparse(sub) -> None:
    p = sub.add_parser(
        "full-to-sparse",
        help="DIPHA's full_to_sparse_distance_matrix",
        description="Keep the off-diagonal distances d <= 2*MAX_EPS of a DISTANCE_MATRIX "
        "(byte-identical to DIPHA's full_to_sparse_distance_matrix).",
    )
    p.add_argument("max_eps", metavar="MAX_EPS", help="cut-off in DIPHA's filtration units (distance / 2)")
    p.add_argument("input", metavar="INPUT", type=Path, help="DIPHA DISTANCE_MATRIX file")
    p.add_argument("output", metavar="OUTPUT", type=Path, help="DIPHA SPARSE_DISTANCE_MATRIX file to write")
    p.set_defaults(func=_run_full_to_sparse)


def _run_full_to_sparse(args: argparse.Namespace) -> int:
    output_path(args.output)
    sparse_distance_stage(distance=args.input, sparse=args.output, max_epsilon=parse_max_eps(args.max_eps))
    return 0


def _add_dipha(sub) -> None:
    p = sub.add_parser(
        "dipha",
        help="drop-in for 'mpiexec -n N dipha --upper_dim D IN OUT'",
        description="Vietoris-Rips persistence of a DIPHA (sparse) distance matrix; writes "
        "the same PERSISTENCE_DIAGRAM file as DIPHA.",
    )
    p.add_argument(
        "--upper_dim",
        "--upper-dim",
        dest="upper_dim",
        type=int,
        metavar="D",
        help="build simplices up to dimension D and report H0..H(D-1) (mandatory, as in DIPHA); the workflow's "
        "topology.max_dim K is --upper_dim K+1 (the default max_dim 3, H0..H3: --upper_dim 4)",
    )
    p.add_argument("--dual", action="store_true", help="accepted for compatibility (same results)")
    p.add_argument("--benchmark", action="store_true", help="print read/compute/write timings")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="threads (giotto) or MPI processes (dipha); default: $DNN_TOPOLOGY_THREADS, $OMP_NUM_THREADS, 1",
    )
    p.add_argument(
        "--engine",
        choices=pers.ENGINES,
        default=pers.DEFAULT_ENGINE,
        help=f"persistence engine (default {pers.DEFAULT_ENGINE})",
    )
    p.add_argument("--no-collapse", action="store_true", help="giotto: do not use edge collapse")
    p.add_argument(
        "--collapser",
        choices=pers.COLLAPSERS,
        default="auto",
        help="giotto: edge collapser (auto: gudhi when installed, for sparse input; else giotto)",
    )
    p.add_argument(
        "--dipha-binary",
        metavar="PATH",
        help="engine dipha: the DIPHA executable (default dipha/build/dipha, then PATH)",
    )
    p.add_argument("--mpiexec", metavar="PATH", help="engine dipha: MPI launcher (used when N > 1 or given)")
    p.add_argument("input", metavar="INPUT", type=Path, help="DISTANCE_MATRIX or SPARSE_DISTANCE_MATRIX file")
    p.add_argument("output", metavar="OUTPUT", type=Path, help="PERSISTENCE_DIAGRAM file to write")
    p.set_defaults(func=_run_dipha)


def _engine_options(args: argparse.Namespace) -> dict:
    if args.engine == "giotto":
        return {"collapse_edges": not args.no_collapse, "collapser": args.collapser}
    if args.engine == "dipha":
        return {"binary": args.dipha_binary, "mpiexec": args.mpiexec, "dual": args.dual}
    return {}


def _run_dipha(args: argparse.Namespace) -> int:
    if args.upper_dim is None:
        raise CliError(
            f"--upper_dim is required for distance-matrix input {args.input} "
            "(DIPHA reports H0..H(D-1) for --upper_dim D)"
        )
    if args.upper_dim < 1:
        raise CliError(f"--upper_dim must be >= 1, got {args.upper_dim}")
    output_path(args.output)
    threads = resolve_threads(args.threads)
    timings: dict[str, float] = {}
    pers.persistence_stage(
        distance=args.input,
        diagram=args.output,
        upper_dim=args.upper_dim,
        engine=args.engine,
        threads=threads,
        engine_options=_engine_options(args),
        timings=timings,
    )
    if args.benchmark:
        print(
            f"input {args.input}, engine {args.engine}, threads {threads}, "
            f"upper_dim {args.upper_dim} (H0..H{args.upper_dim - 1})"
        )
        for label, seconds in [*timings.items(), ("total", sum(timings.values()))]:
            print(f"{label:<10} {seconds:10.3f} s")
    return 0


def _add_import_original(sub) -> None:
    p = sub.add_parser(
        "import-original",
        help="import the original code's checkpoints and DIPHA files",
        description="Copy/convert checkpoint/<net>_<dataset>/ckpt_trial_<T>_epoch_<E>.t7, "
        "adj_epc<E>_trl<T>.bin and adj_epc<E>_trl<T>[_<eps>].bin.out into "
        "<results>/<run>/trial_<T>/.",
    )
    p.add_argument(
        "--original-root",
        required=True,
        type=Path,
        metavar="DIR",
        help="directory holding the original's checkpoint/ and adjacency folders",
    )
    p.add_argument("--net", required=True, help="network name, e.g. lenet")
    p.add_argument("--dataset", required=True, help="dataset name, e.g. mnist")
    p.add_argument("--trial", required=True, type=int, metavar="T")
    p.add_argument("--results", required=True, type=Path, metavar="DIR", help="our results directory")
    p.add_argument("--run", required=True, metavar="NAME", help="run name under --results")
    p.add_argument("--epochs", type=int, nargs="+", metavar="E", help="only these epochs (default: all found)")
    p.add_argument(
        "--adjacency-dir",
        type=Path,
        metavar="DIR",
        help="folder with adj_epc*.bin[.out] (default: searched under --original-root)",
    )
    p.add_argument("--max-eps", metavar="EPS", help="pick adj_epc<E>_trl<T>_<EPS>.bin.out when several exist")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(func=_run_import_original)


def _run_import_original(args: argparse.Namespace) -> int:
    problem = layout.path_name_problem(args.run)
    if problem:  # it becomes <results>/<run>/: checked as the workflow checks its run names
        raise CliError(f"--run: {problem}")
    imported = import_original(
        args.original_root,
        args.net,
        args.dataset,
        args.trial,
        args.results,
        args.run,
        epochs=args.epochs,
        adjacency_dir=args.adjacency_dir,
        max_eps=args.max_eps,
        overwrite=args.overwrite,
    )
    print(summarize(imported))
    return 0


def _add_check_config(sub) -> None:
    p = sub.add_parser(
        "check-config",
        help="check workflow configuration files, naming the file, line and key",
        description="Check each FILE as the workflow does at start-up: YAML syntax (a syntax error is "
        "reported with its line, which Snakemake's own message for --configfile lacks), "
        "then the schema and the checks that name the key.",
    )
    p.add_argument("files", metavar="FILE", type=Path, nargs="+", help="configuration file (YAML or JSON)")
    p.set_defaults(func=_run_check_config)


def _run_check_config(args: argparse.Namespace) -> int:
    # Snakemake and the configuration checks (~50 ms): this command's alone, the DIPHA drop-ins start without them
    from .workflow import config as wc

    schema = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
    for path in args.files:
        config = wc.read_config_file(path)
        try:
            wc.validate_config(config, schema)
            wc.check_config(config)
        except wc.ConfigError as err:
            raise CliError(f"{path}: {err}") from None
        print(f"{path}: ok")
    return 0


def _add_estimate_test_error(sub) -> None:
    p = sub.add_parser(
        "estimate-test-error",
        help="estimate a network's test accuracy without a test set",
        description="Estimate a network's test accuracy as train accuracy - g(features of its "
        "training-sample diagram), with the linear model g fitted by a generalization "
        "study (results/generalization/<study>/model.json), and a prediction interval "
        "from that study's leave-one-run-out errors.",
    )
    p.add_argument(
        "--model",
        type=Path,
        metavar="MODEL.json",
        help="fitted model of a generalization study (results/generalization/<study>/model.json)",
    )
    p.add_argument(
        "--train-acc", required=True, type=float, metavar="PCT", help="the network's train accuracy in percent (0-100)"
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--diagram", type=Path, metavar="FILE", help="DIPHA PERSISTENCE_DIAGRAM of the network's training-sample graph"
    )
    src.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="the network's checkpoint: its diagram is computed under the model's parameters",
    )
    p.add_argument(
        "--topology",
        type=Path,
        metavar="FILE",
        help="with --diagram: the topology parameters it was computed under (default: the "
        "topology.json of its run folder, written by the workflow)",
    )
    p.add_argument("--network", help="with --checkpoint: network name (default: from the checkpoint)")
    p.add_argument("--dataset", help="with --checkpoint: dataset name (default: from the checkpoint)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        metavar="DIR",
        help="with --checkpoint: where torchvision datasets live (default data)",
    )
    p.add_argument(
        "--threads", type=int, metavar="N", help="threads (default: $DNN_TOPOLOGY_THREADS, $OMP_NUM_THREADS, 1)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_run_estimate_test_error)


HOW_TO_FIT_A_MODEL = (
    "a model is fitted by a generalization study of the workflow, e.g. `snakemake --cores 2 --configfile "
    "config/generalization_gap.yaml`, which writes results/generalization/<study>/model.json (config key "
    "generalization; docs/studies/generalization.md)"
)


def _run_estimate_test_error(args: argparse.Namespace) -> int:
    # pandas (and torch for --checkpoint): this command's alone, every other one starts without them
    from .networks.datasets import DatasetUnavailableError
    from .studies.generalization import estimate as est
    from .studies.generalization.model import read_model

    if args.model is None:
        raise CliError(f"--model MODEL.json is required: {HOW_TO_FIT_A_MODEL}")
    if not args.model.is_file():
        raise CliError(f"--model {args.model}: no such file; {HOW_TO_FIT_A_MODEL}")
    model = read_model(args.model)
    if 0 < args.train_acc <= 1:
        print(
            f"{PROG}: warning: --train-acc {args.train_acc:g} is read as {args.train_acc:g} %; if it is a fraction "
            f"of 1 (an accuracy in 0..1), the percentage is {100 * args.train_acc:g} (training.csv's train_acc_pct is "
            "in percent)",
            file=sys.stderr,
        )
    if args.diagram is not None:
        if args.network or args.dataset:
            raise CliError("--network and --dataset go with --checkpoint, not --diagram")
        result = est.from_diagram(model, args.diagram, args.train_acc, args.topology)
    else:
        if args.topology is not None:
            raise CliError(
                "--topology goes with --diagram: a checkpoint's diagram is computed under the model's parameters"
            )
        try:
            result = est.from_checkpoint(
                model,
                args.checkpoint,
                args.train_acc,
                network=args.network,
                dataset=args.dataset,
                data_dir=args.data_dir,
                threads=resolve_threads(args.threads),
            )
        except DatasetUnavailableError as err:
            raise CliError(
                f"--checkpoint {args.checkpoint}: {err} (this command reads --data-dir {args.data_dir})"
            ) from None
    if args.json:
        print(
            json.dumps({**result, "train_acc_pct": args.train_acc, "model": str(args.model)}, indent=2, allow_nan=False)
        )
    else:
        print(est.report(result, model, args.train_acc))
    return 0


def _add_layers(sub) -> None:
    p = sub.add_parser(
        "layers",
        help="list the layers of a network that runs[].layers may name, with shapes and node counts",
        description="Build NETWORK (a built-in name, torchvision:<name>, <module>:<callable> or <file.py>:<callable>; "
        "importing a module or file runs its code) and list what config key runs[].layers may name: its modules "
        "and the nodes of torchvision's feature-extraction graph, with the output shape of one sample and its "
        "number of nodes. One forward pass on an input of the dataset's shape.",
    )
    p.add_argument("network", metavar="NETWORK", help="as config key runs[].network")
    p.add_argument("--dataset", help="a built-in dataset (default: mnist5k), or one of --config's")
    p.add_argument(
        "--config", type=Path, metavar="FILE", help="a workflow configuration: its imagefolders and datasets"
    )
    p.add_argument("--network-kwargs", metavar="JSON", default="{}", help="as config key runs[].network_kwargs")
    p.add_argument("--input-shape", type=int, nargs="+", metavar="D", help="one sample's shape, e.g. 3 224 224")
    p.add_argument("--num-classes", type=int, metavar="N", help="classes (default: the dataset's)")
    p.set_defaults(func=_run_layers)


def _run_layers(args: argparse.Namespace) -> int:
    # torch, and the user's code: this command's alone
    import torch

    from .networks import datasets as dsets
    from .networks.architectures import build
    from .networks.recording import candidate_layers
    from .networks.refs import NetworkRef
    from .workflow.config import ConfigError, config_datasets, read_config_file

    try:
        kwargs = json.loads(args.network_kwargs)
    except json.JSONDecodeError as err:
        raise CliError(f"--network-kwargs: not JSON: {err}") from None
    try:
        registry = config_datasets(read_config_file(args.config)) if args.config else dsets.BUILTIN
    except ConfigError as err:
        raise CliError(str(err)) from None
    spec = registry.spec(args.dataset or "mnist5k")
    if args.num_classes is not None:
        spec = dsets.DatasetSpec(spec.name, spec.in_channels, spec.input_size, args.num_classes)
    if args.input_shape:
        shape = tuple(args.input_shape)
    elif spec.in_channels and spec.input_size:
        shape = (spec.in_channels, spec.input_size, spec.input_size)
    else:
        shape = tuple(dsets.load_split(spec.name, "test", registry=registry)[0][0].shape)
    if args.input_shape and len(shape) == 3:
        spec = dsets.DatasetSpec(spec.name, shape[0], shape[1], spec.num_classes)
    ref = NetworkRef(args.network, kwargs)
    try:
        ref.check("NETWORK")
    except ValueError as err:
        raise CliError(str(err)) from None
    rows = candidate_layers(build(ref, spec), torch.zeros(1, *shape))
    print(f"{args.network} on inputs of shape {shape} ({spec.num_classes} classes)")
    print(f"{'name':<40} {'kind':<12} {'output shape':<20} {'nodes':>10}")
    for row in rows:
        if "error" in row:
            print(f"graph nodes: {row['error']}; name modules")
            continue
        note = f"  ran {row['calls']} times: name a graph node" if row.get("calls", 1) > 1 else ""
        shape_text = str(row["shape"]) if row["shape"] is not None else "-"
        nodes = row["nodes"] if row["nodes"] is not None else "-"
        print(f"{row['name']:<40} {row['kind']:<12} {shape_text:<20} {nodes:>10}{note}")
    return 0


def _add_detect(sub) -> None:
    p = sub.add_parser(
        "detect",
        help="is this input adversarial? score one image with a per-input detector",
        description="Score one image with a per-input adversarial detector fitted by the workflow "
        "(results/<run>/adversarial/per_input/trial_<T>/epoch_<E>/detectors/<detector>.npz), under the "
        "checkpoint it was fitted for; print the score, the detector's threshold (at its false-positive rate on "
        "clean inputs) and the decision. The detector file is read as data (numpy, no pickles).",
    )
    p.add_argument("--detector", required=True, type=Path, metavar="FILE", help="a detector file (.npz)")
    p.add_argument(
        "--checkpoint", required=True, type=Path, metavar="FILE", help="the checkpoint the detector was fitted for"
    )
    p.add_argument(
        "--image",
        required=True,
        type=Path,
        metavar="FILE",
        help="the input: .npy of pixels in [0, 1], shape (H, W) or (C, H, W), or an image file (PNG, JPEG, ...)",
    )
    p.add_argument("--device", default="auto", help="torch device: auto (CUDA when present), cpu, cuda[:N]")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_run_detect)


def _run_detect(args: argparse.Namespace) -> int:
    # torch and pandas: this command's alone
    from .studies.adversarial.per_input import detect_one

    for flag, path in (("--detector", args.detector), ("--checkpoint", args.checkpoint), ("--image", args.image)):
        if not path.is_file():
            raise CliError(f"{flag} {path}: no such file")
    result = detect_one(args.detector, args.checkpoint, args.image, device=args.device)
    if args.json:
        print(json.dumps({**result, "image": str(args.image), "detector_file": str(args.detector)}, indent=2))
        return 0
    verdict = "ADVERSARIAL" if result["adversarial"] else "clean"
    relation = ">" if result["adversarial"] else "<="
    print(
        f"{args.image}: {verdict} (score {result['score']:.4g} {relation} threshold {result['threshold']:.4g}, "
        f"{result['fpr']:.0%} false positives on clean inputs); predicted class {result['predicted_class']}; "
        f"detector {result['detector']} fitted on {result['trained_on']} at epoch {result['epoch']}"
    )
    return 0


SUBCOMMANDS = (
    _add_full_to_sparse,
    _add_dipha,
    _add_import_original,
    _add_check_config,
    _add_layers,
    _add_estimate_test_error,
    _add_detect,
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Topology of deep-network activations: DIPHA-compatible tools.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


# --------------------------------------------------------------------------- entry point


def _os_error_message(err: OSError) -> str:
    name = err.filename if err.filename is not None else "?"
    return f"{name}: {err.strerror or err}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args))
    except SystemExit as exit_:  # --help / --version
        return int(exit_.code or 0)
    except _UsageError as err:
        sys.stderr.write(err.usage)
        return _fail(str(err))
    except (CliError, dio.DiphaFormatError, pers.PersistenceError, ImportOriginalError) as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(_os_error_message(err))
    except ValueError as err:
        return _fail(str(err))


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
