"""Where the workflow writes each result: the one place that builds and parses results and logs paths.

Every output of run ``<run>`` (one network trained on one dataset, or imported; a run's name is one
path component) lives under ``results/<run>/``, and every job's log under ``logs/`` in the same place::

    results/<run>/                                  run_file(name)
      betti_curves.csv, betti_summary.csv, training.csv, claims.csv, topology.json, weight_norms.csv, ...
      plots/<plot>.<ext>                            run_plot(plot, ext), plot in RUN_PLOTS (and claims)
      adversarial/<table>.csv                       adversarial_file(name)
      adversarial/plots/<plot>.<ext>                adversarial_plot(plot, ext), plot in ADVERSARIAL_PLOTS
      adversarial/per_input/<table>.csv             per_input_run_file(name), table in PER_INPUT_TABLES
      adversarial/per_input/trial_<T>/epoch_<E>/    per_input_file(name): reference.npz, detection.csv, ...
        <inputs>features.csv                        per_input_file("features.csv") (clean or attacked inputs)
        detectors/<detector>.npz                    detector_file()
      trial_<T>/                                    trial_file(name): training.csv, labels.csv, ...
        checkpoints/epoch_<E>.pt                    checkpoint()
        .train_state/                               train_state()
        epoch_<E>/<inputs><name>                    epoch_file(name): activations.npy, diagram.bin, ...
        epoch_<E>/<attack id>/<name>                attack_file(name): attack.csv, inputs.npy, ...
    results/comparisons/<comparison>/<name>         comparison_file(name)
    results/generalization/<study>/<name>           study_file(name), study_figure(figure, ext); name in STUDY_TABLES,
                                                    HELD_OUT_TABLES
    results/early_stopping/<stopping_study>/<name>  stopping_file(name), stopping_figure(ext): figures/<run>.<ext>
    logs/...                                        the same builders with ``root=LOGS``

(``root=""`` gives a pattern relative to a results folder, for one given elsewhere, e.g. by the command line.)

The *input set* ``<inputs>`` of a per-epoch file is ``""`` for the clean samples (the file lies directly in
``epoch_<E>/``) or ``"<attack id>/"`` for attacked copies of them (:func:`input_set`). An attack id is
``adv_<name>_eps<epsilon>`` (:func:`attack_id`): it starts with :data:`ATTACK_PREFIX`, which no run, trial or
epoch component can, so clean and attacked paths never collide.

Builders return **patterns**: strings with Snakemake wildcards (``{run}``, ``{trial}``, ``{epoch}``,
``{inputs}``, ``{attack}``, ``{comparison}``, ``{study}``, ``{stopping_study}``) that the rules use as they are, and that
:func:`fill` (``str.format``) turns into one path. :func:`parse_epoch_path` and :func:`parse_trial_path` read
run, trial, epoch and attack back from a path: no other module parses results paths.

This module imports nothing but the standard library: the workflow imports it while Snakemake parses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ADVERSARIAL_PLOTS",
    "ADVERSARIAL_TABLES",
    "ATTACK_PREFIX",
    "FIGURE_FORMATS",
    "HELD_OUT_TABLES",
    "LOGS",
    "RESERVED_RUN_NAMES",
    "RESULTS",
    "RUN_PLOTS",
    "RUN_TABLES",
    "STOPPING_TABLES",
    "STUDY_FIGURES",
    "STUDY_TABLES",
    "ResultPath",
    "adversarial_file",
    "adversarial_plot",
    "attack_file",
    "attack_id",
    "attack_of_input_set",
    "PER_INPUT_TABLES",
    "detector_file",
    "per_input_file",
    "per_input_run_file",
    "checkpoint",
    "comparison_file",
    "comparison_log",
    "epoch_file",
    "fill",
    "input_set",
    "input_set_pattern",
    "names_pattern",
    "path_name_problem",
    "parse_epoch_path",
    "parse_trial_path",
    "run_file",
    "run_name",
    "run_plot",
    "stopping_figure",
    "stopping_file",
    "study_figure",
    "study_file",
    "train_state",
    "trial_file",
    "wildcard_constraints",
]

RESULTS = "results"
LOGS = "logs"
RESERVED_RUN_NAMES = ("comparisons", "generalization", "early_stopping")
"""Folders of ``results/`` that hold no run: no run may take these names."""

FIGURE_FORMATS = ("png", "pdf")
RUN_TABLES = ("betti_curves", "betti_summary", "training")
"""The aggregated tables of a run (``results/<run>/<table>.csv``)."""
RUN_PLOTS = ("betti_curves_density", "betti_curves_epsilon", "persistence_diagrams", "summaries")
"""The figures of a run (:func:`dnn_topology.plots.run_figures.plot_stage`); the claims figure is the claims rule's."""
ADVERSARIAL_TABLES = ("attacks", "betti_curves", "betti_summary", "detection")
"""The tables of a run's adversarial study; ``detection`` only when the detector is enabled."""
ADVERSARIAL_PLOTS = (
    "betti_curves_density",
    "betti_curves_epsilon",
    "summaries_vs_epsilon",
    "accuracy_under_attack",
    "detection_auc",
)
"""The figures of a run's adversarial study (:mod:`dnn_topology.studies.adversarial.figures`); ``detection_auc``
only when the detector is enabled."""
PER_INPUT_TABLES = ("detection", "transfer", "adaptive")
"""The tables of a run's per-input detection study (``results/<run>/adversarial/per_input/<table>.csv``)."""
STUDY_TABLES = (
    "table.csv",
    "predictions.csv",
    "metrics.csv",
    "differences.csv",
    "metrics.md",
    "metrics.html",
    "model.json",
)
"""The files of a generalization study besides its figures."""
HELD_OUT_TABLES = (
    "held_out_table.csv",
    "held_out_predictions.csv",
    "held_out_metrics.csv",
    "held_out.md",
    "held_out.html",
)
"""The files of a generalization study's held-out evaluation (only a study with ``held_out`` sets writes them)."""
STUDY_FIGURES = ("gap_vs_features", "estimated_vs_true", "runs_over_epochs")
"""The figures of a generalization study (:mod:`dnn_topology.studies.generalization.figures`)."""
REPORT_CATEGORIES = {
    "training": "1. Training",
    "betti_curves_density": "2. Betti curves",
    "betti_curves_epsilon": "2. Betti curves",
    "persistence_diagrams": "3. Persistence diagrams",
    "summaries": "4. Summaries",
    "claims": "5. Claims",
    "comparisons": "6. Comparisons",
    "adversarial": "7. Adversarial inputs",
    "generalization": "8. Generalization (test error without a test set)",
    "early_stopping": "9. Early stopping",
}
"""The Snakemake report's categories, numbered in reading order (the report lists them sorted by name)."""
STOPPING_TABLES = ("series.csv", "stops.csv", "summary.csv", "differences.csv", "summary.md", "patience_sweep.csv")
"""The files of an early-stopping study besides its figures (:mod:`dnn_topology.studies.early_stopping.study`)."""

ATTACK_PREFIX = "adv_"

PATH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
"""A name that becomes one path component (``results/<name>/``, ``logs/<name>/``): 1 to 128 letters, digits,
``_``, ``.`` and ``-``, starting with a letter or a digit (so neither ``..`` nor a hidden name, and no ``/``)."""


def path_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be one path component of results (:data:`PATH_NAME`), or None when it can.

    Every name that becomes part of a results or logs path (run names, explicit or default, ImageFolder dataset
    names, comparison and study names, ``dnn-topology import-original --run``) goes through this check, so that
    nothing is written outside ``results/`` and ``logs/``.

    Examples
    --------
    >>> path_name_problem("lenet_mnist5k") is None
    True
    >>> path_name_problem("../x")
    "'../x' becomes part of a file path; use 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or a digit"
    """
    if isinstance(name, str) and PATH_NAME.fullmatch(name):
        return None
    return (
        f"{name!r} becomes part of a file path; use 1 to 128 letters, digits, '_', '.' or '-', starting with a "
        "letter or a digit"
    )


def run_name(run: Mapping) -> str:
    """The name of a configured run: its ``name``, else ``<network>_<dataset>`` (of a network ``torchvision:<arch>``,
    ``torchvision_<arch>``; of ``<module or file>:<callable>``, the callable's name).

    Examples
    --------
    >>> run_name({"network": "lenet", "dataset": "mnist5k"})
    'lenet_mnist5k'
    >>> run_name({"name": "mine", "network": "lenet", "dataset": "mnist5k"})
    'mine'
    >>> run_name({"network": "torchvision:resnet18", "dataset": "cifar10"})
    'torchvision_resnet18_cifar10'
    >>> run_name({"network": "models/net.py:SmallCNN", "dataset": "mnist5k"})
    'SmallCNN_mnist5k'
    """
    network = run["network"].replace("torchvision:", "torchvision_", 1).rpartition(":")[2].rpartition(".")[2]
    return run.get("name") or f"{network}_{run['dataset']}"


# ------------------------------------------------------------------------------------------ building


def _under(root: str, rest: str) -> str:
    """``<root>/<rest>``; ``rest`` alone when ``root`` is empty (a pattern relative to a results folder)."""
    return f"{root}/{rest}" if root else rest


def run_file(name: str, root: str = RESULTS) -> str:
    """Pattern of file ``name`` of a run: ``<root>/{run}/<name>``.

    Examples
    --------
    >>> run_file("betti_curves.csv")
    'results/{run}/betti_curves.csv'
    >>> run_file("aggregate.log", LOGS)
    'logs/{run}/aggregate.log'
    >>> run_file("topology.json", root="")  # relative to a results folder
    '{run}/topology.json'
    """
    return _under(root, f"{{run}}/{name}")


def trial_file(name: str, root: str = RESULTS) -> str:
    """Pattern of file ``name`` of a trial: ``<root>/{run}/trial_{trial}/<name>``."""
    return run_file(f"trial_{{trial}}/{name}", root)


def epoch_file(name: str, root: str = RESULTS, *, inputs: bool = True) -> str:
    """Pattern of per-epoch file ``name``: ``<root>/{run}/trial_{trial}/epoch_{epoch}/{inputs}<name>``.

    ``{inputs}`` is the input set (``""`` or ``"<attack id>/"``, see :func:`input_set`); ``inputs=False``
    leaves it out, for the files of the clean samples only.

    Examples
    --------
    >>> epoch_file("diagram.bin")
    'results/{run}/trial_{trial}/epoch_{epoch}/{inputs}diagram.bin'
    >>> fill(epoch_file("diagram.bin"), run="r", trial=0, epoch=4)
    'results/r/trial_0/epoch_4/diagram.bin'
    >>> fill(epoch_file("diagram.bin"), run="r", trial=0, epoch=4, inputs=input_set("adv_fgsm_eps0.1"))
    'results/r/trial_0/epoch_4/adv_fgsm_eps0.1/diagram.bin'
    """
    return trial_file(f"epoch_{{epoch}}/{'{inputs}' if inputs else ''}{name}", root)


def attack_file(name: str, root: str = RESULTS) -> str:
    """Pattern of file ``name`` of an attack at one epoch: ``.../epoch_{epoch}/{attack}/<name>``."""
    return trial_file(f"epoch_{{epoch}}/{{attack}}/{name}", root)


def checkpoint(root: str = RESULTS) -> str:
    """Pattern of the checkpoint of one epoch: ``<root>/{run}/trial_{trial}/checkpoints/epoch_{epoch}.pt``."""
    return trial_file("checkpoints/epoch_{epoch}.pt", root)


def train_state(root: str = RESULTS) -> str:
    """Pattern of a trial's folder of resumable training states: ``<root>/{run}/trial_{trial}/.train_state``."""
    return trial_file(".train_state", root)


def run_plot(plot: str, ext: str, root: str = RESULTS) -> str:
    """Pattern of figure ``plot`` of a run as ``ext``: ``<root>/{run}/plots/<plot>.<ext>``."""
    return run_file(f"plots/{plot}.{ext}", root)


def adversarial_file(name: str, root: str = RESULTS) -> str:
    """Pattern of file ``name`` of a run's adversarial study: ``<root>/{run}/adversarial/<name>``."""
    return run_file(f"adversarial/{name}", root)


def adversarial_plot(plot: str, ext: str, root: str = RESULTS) -> str:
    """Pattern of figure ``plot`` of a run's adversarial study: ``<root>/{run}/adversarial/plots/<plot>.<ext>``."""
    return adversarial_file(f"plots/{plot}.{ext}", root)


def per_input_run_file(name: str, root: str = RESULTS) -> str:
    """Pattern of file ``name`` of a run's per-input detection study: ``<root>/{run}/adversarial/per_input/<name>``."""
    return adversarial_file(f"per_input/{name}", root)


def per_input_file(name: str, root: str = RESULTS, *, inputs: bool = False) -> str:
    """Pattern of per-epoch file ``name`` of the per-input detection study:
    ``<root>/{run}/adversarial/per_input/trial_{trial}/epoch_{epoch}/[{inputs}]<name>``.

    ``inputs=True`` puts the input set (``""`` or ``"<attack id>/"``) in front of the name, for the files of the
    clean and the attacked inputs (``features.csv``). :func:`parse_epoch_path` reads these paths too.

    Examples
    --------
    >>> fill(per_input_file("features.csv", inputs=True), run="r", trial=0, epoch=4, inputs="adv_pgd_eps0.1/")
    'results/r/adversarial/per_input/trial_0/epoch_4/adv_pgd_eps0.1/features.csv'
    >>> parse_epoch_path("results/r/adversarial/per_input/trial_0/epoch_4/detection.csv").run
    'r'
    """
    return per_input_run_file(f"trial_{{trial}}/epoch_{{epoch}}/{'{inputs}' if inputs else ''}{name}", root)


def detector_file(root: str = RESULTS) -> str:
    """Pattern of a fitted per-input detector: ``.../per_input/trial_{trial}/epoch_{epoch}/detectors/{detector}.npz``."""
    return per_input_file("detectors/{detector}.npz", root)


def comparison_file(name: str, root: str = RESULTS) -> str:
    """Pattern of file ``name`` of a comparison: ``<root>/comparisons/{comparison}/<name>``."""
    return _under(root, f"comparisons/{{comparison}}/{name}")


def comparison_log(suffix: str = "") -> str:
    """Pattern of the log of a comparison's job: ``logs/comparisons/{comparison}<suffix>.log``."""
    return f"{LOGS}/comparisons/{{comparison}}{suffix}.log"


def study_file(name: str, root: str = RESULTS) -> str:
    """Pattern of file ``name`` of a generalization study: ``<root>/generalization/{study}/<name>``."""
    return _under(root, f"generalization/{{study}}/{name}")


def study_figure(figure: str, ext: str) -> str:
    """Pattern of figure ``figure`` of a generalization study: ``results/generalization/{study}/figures/...``."""
    return study_file(f"figures/{figure}.{ext}")


def stopping_file(name: str, root: str = RESULTS) -> str:
    """Pattern of file ``name`` of an early-stopping study: ``<root>/early_stopping/{stopping_study}/<name>``."""
    return _under(root, f"early_stopping/{{stopping_study}}/{name}")


def stopping_figure(ext: str) -> str:
    """Pattern of the figure of one run of an early-stopping study: ``.../{stopping_study}/figures/{run}.<ext>``.

    Examples
    --------
    >>> fill(stopping_figure("png"), stopping_study="s", run="r")
    'results/early_stopping/s/figures/r.png'
    """
    return stopping_file(f"figures/{{run}}.{ext}")


def fill(pattern: str, **wildcards) -> str:
    """The path of ``pattern`` for the given wildcard values (``inputs`` defaults to the clean samples, ``""``).

    Examples
    --------
    >>> fill(checkpoint(), run="lenet_mnist5k", trial=1, epoch=8)
    'results/lenet_mnist5k/trial_1/checkpoints/epoch_8.pt'
    """
    try:
        return pattern.format(**{"inputs": "", **wildcards})
    except KeyError as err:
        raise ValueError(f"pattern {pattern!r} needs a value for wildcard {err.args[0]!r}") from None


# ------------------------------------------------------------------------------------------ attacks


def attack_id(name: str, epsilon: float) -> str:
    """The attack id of attack ``name`` at budget ``epsilon`` (pixel units): ``adv_<name>_eps<epsilon>``.

    Examples
    --------
    >>> attack_id("fgsm", 0.1)
    'adv_fgsm_eps0.1'
    """
    return f"{ATTACK_PREFIX}{name}_eps{epsilon:g}"


def input_set(attack: str | None) -> str:
    """The ``{inputs}`` path component of an input set: ``''`` for clean inputs, ``'<attack id>/'`` otherwise."""
    return f"{attack}/" if attack else ""


def attack_of_input_set(inputs: str) -> str | None:
    """Inverse of :func:`input_set`: the attack id, or None for the clean inputs."""
    inputs = inputs.strip("/")
    return inputs or None


# ------------------------------------------------------------------------------------------ wildcards


def names_pattern(names: Iterable[str], none: str) -> str:
    """Regex matching exactly one of ``names``; ``none`` (a name no path holds) when there are none."""
    return "|".join(re.escape(n) for n in names) or none


def input_set_pattern(attacks: Iterable[str]) -> str:
    """Regex of the ``{inputs}`` wildcard: empty (the clean samples) or ``<attack id>/`` of one of ``attacks``."""
    return "(?:" + "|".join(re.escape(input_set(a)) for a in attacks) + ")?"


def wildcard_constraints(
    runs: Iterable[str],
    comparisons: Iterable[str],
    attacks: Iterable[str],
    studies: Iterable[str],
    stopping_studies: Iterable[str] = (),
) -> dict[str, str]:
    """The workflow's global wildcard constraints: each name wildcard matches one configured name only.

    Examples
    --------
    >>> wildcard_constraints(["lenet_mnist5k"], [], ["adv_fgsm_eps0.1"], [])["inputs"]
    '(?:adv_fgsm_eps0\\\\.1/)?'
    """
    attacks = list(attacks)
    return {
        "run": names_pattern(runs, "NO_RUN"),
        "trial": r"\d+",
        "epoch": r"\d+",
        "comparison": names_pattern(comparisons, "NO_COMPARISON"),
        "inputs": input_set_pattern(attacks),
        "attack": names_pattern(attacks, "NO_ATTACK"),
        "study": names_pattern(studies, "NO_STUDY"),
        "stopping_study": names_pattern(stopping_studies, "NO_STOPPING_STUDY"),
    }


# ------------------------------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class ResultPath:
    """What a results path says: its run (None when the path does not show it), trial, epoch (None for a file
    of the trial itself), attack id (None for the clean samples) and file name."""

    run: str | None
    trial: int
    epoch: int | None
    attack: str | None
    name: str


# the end of a path: [<run>/[adversarial/per_input/]]trial_<T>/[epoch_<E>/[<attack id>/]]<name>
_RESULT_PATH = re.compile(
    r"(?:^|/)(?:(?P<run>[^/]+)/(?:adversarial/per_input/)?)?trial_(?P<trial>\d+)/"
    rf"(?:epoch_(?P<epoch>\d+)/(?:(?P<attack>{re.escape(ATTACK_PREFIX)}[^/]+)/)?)?(?P<name>[^/]+)$"
)


def _parse(path: str | Path) -> ResultPath | None:
    found = _RESULT_PATH.search(Path(path).as_posix())
    if found is None:
        return None
    epoch = found["epoch"]
    return ResultPath(
        found["run"], int(found["trial"]), None if epoch is None else int(epoch), found["attack"], found["name"]
    )


def parse_epoch_path(path: str | Path) -> ResultPath:
    """Run, trial, epoch and attack of a per-epoch file ``.../<run>/trial_<T>/epoch_<E>/[<attack id>/]<name>``.

    Examples
    --------
    >>> parse_epoch_path("results/r/trial_1/epoch_4/adv_fgsm_eps0.1/betti_curves.csv")
    ResultPath(run='r', trial=1, epoch=4, attack='adv_fgsm_eps0.1', name='betti_curves.csv')
    >>> parse_epoch_path("results/r/trial_1/epoch_4/betti_curves.csv").attack is None
    True
    """
    parsed = _parse(path)
    if parsed is None or parsed.epoch is None:
        raise ValueError(
            f"cannot tell trial and epoch from path {path} (expected .../trial_<T>/epoch_<E>/[<attack id>/]<file>)"
        )
    return parsed


def parse_trial_path(path: str | Path) -> ResultPath:
    """Run and trial of a file of a trial itself, ``.../<run>/trial_<T>/<name>`` (e.g. its ``training.csv``).

    Examples
    --------
    >>> parse_trial_path("results/r/trial_2/training.csv").trial
    2
    """
    parsed = _parse(path)
    if parsed is None or parsed.epoch is not None:
        raise ValueError(f"cannot tell the trial from path {path} (expected .../trial_<T>/<file>)")
    return parsed
