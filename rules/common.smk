# Configuration checks, target lists and input functions shared by every rule.

import os
import re
import threading

from snakemake.io import get_wildcard_names, is_flagged
from snakemake.utils import validate

from dnn_topology.studies.adversarial.config import adversarial_epochs, attack_table
from dnn_topology.studies.generalization.config import STUDY_FIGURES, held_out_runs, study_options, study_outputs
from dnn_topology.topology.persistence import engine_from_config
from dnn_topology.workflow.config import (
    check_config,
    config_datasets,
    export_package_path,
    run_table,
)

export_package_path(os.path.join(workflow.basedir, "src"))

validate(config, schema="../schemas/config.schema.yaml")
DATASETS = config_datasets(config)  # the built-in datasets and the config's imagefolders
check_config(config, DATASETS)

RUNS = run_table(config, DATASETS)  # run name -> merged per-run options
TRIALS = config["trials"]
EPOCHS = config["training"]["epochs"]
TOPOLOGY_EPOCHS = sorted(config["topology"]["epochs"])
MAX_DIM = config["topology"]["max_dim"]
ENGINE, ENGINE_OPTIONS = engine_from_config(config["topology"])
COMPARISONS = {
    c["name"]: {"runs": c["runs"], "epochs": c.get("epochs", TOPOLOGY_EPOCHS)} for c in config["comparisons"]
}
# trained runs make their sparse distance matrix from activations (rule functional_graph), imported runs from the
# original's full distance matrix (rule sparse_distance)
TRAINED_RUNS = [run for run in RUNS if not RUNS[run]["run"]["imported"]]
IMPORTED_RUNS = [run for run in RUNS if RUNS[run]["run"]["imported"]]
TRAINED_RUN_PATTERN = "|".join(re.escape(r) for r in TRAINED_RUNS) or "NO_TRAINED_RUN"
IMPORTED_RUN_PATTERN = "|".join(re.escape(r) for r in IMPORTED_RUNS) or "NO_IMPORTED_RUN"
STUDIES = study_options(config)  # generalization study name -> options with defaults
PLOTS = ["betti_curves_density", "betti_curves_epsilon", "persistence_diagrams", "summaries"]
# adversarial inputs: attack id -> AttackSpec, the epochs attacked, the detector's options
ATTACKS = attack_table(config["adversarial"])
ADV_EPOCHS = adversarial_epochs(config) if ATTACKS else []
DETECTION = config["adversarial"]["detection"]
ADV_PLOTS = ["betti_curves_density", "betti_curves_epsilon", "summaries_vs_epsilon", "accuracy_under_attack"]
ADV_PLOTS += ["detection_auc"] if DETECTION["enabled"] else []
ENV = "../envs/dnn_topology.yaml"


wildcard_constraints:
    run="|".join(re.escape(r) for r in RUNS),
    trial=r"\d+",
    epoch=r"\d+",
    comparison="|".join(re.escape(c) for c in COMPARISONS) or "NO_COMPARISON",
    # the input set of a per-epoch file: "" (clean, directly in epoch_<E>/) or "<attack id>/"
    inputs="(?:" + "|".join(re.escape(f"{a}/") for a in ATTACKS) + ")?",
    attack="|".join(re.escape(a) for a in ATTACKS) or "NO_ATTACK",
    study="|".join(re.escape(s) for s in STUDIES) or "NO_STUDY",


def kept_outputs(rule_, runs, epochs=None, inputs=("",)):
    """The files that ``rule_`` writes and the workflow keeps (its outputs not marked temp()), for ``runs``,
    every trial, comparison and attack, ``epochs`` (default: topology.epochs) and the input sets ``inputs``
    ("" for the clean samples, "<attack id>/" for attacked ones)."""
    values = {
        "run": runs,
        "trial": TRIALS,
        "epoch": TOPOLOGY_EPOCHS if epochs is None else epochs,
        "comparison": list(COMPARISONS),
        "attack": list(ATTACKS),
        "inputs": list(inputs),
    }
    files = []
    for pattern, declared in zip(rule_.output, rule_.rule.output):  # the proxy's patterns lose their flags
        if not is_flagged(declared, "temp"):
            files += expand(pattern, **{name: values[name] for name in get_wildcard_names(pattern)})
    return files


def all_targets():
    """Every file the workflow keeps, not only the final tables and figures.

    Snakemake accepts a missing intermediate file as long as the files made from it are up to date.
    But when a job fails, Snakemake removes its outputs (and records the failed job's inputs and
    params as if it had run, snakemake/snakemake#3808): the next run would find the downstream files
    up to date and report success on results made from the previous inputs. Asked for here, a
    missing file (removed after a failure, or deleted) is always rebuilt, and with it everything
    downstream: a failed job is retried on every run until it succeeds. temp() files are left out:
    they are meant to disappear.
    """
    trained, imported = TRAINED_RUNS, IMPORTED_RUNS
    per_run = [rules.train, rules.activations, rules.functional_graph]
    # imported runs start from DIPHA files: the sparse distance matrix from their full one, then the same stages
    from_dipha = [rules.persistence, rules.betti_curves]
    # attacked samples (inputs "<attack id>/") go through the same stages at the attacked epochs
    per_epoch_topology = [rules.functional_graph, *from_dipha]
    attacked = [f"{a}/" for a in ATTACKS]
    return [
        *expand("results/{run}/{table}.csv", run=trained, table=["betti_curves", "betti_summary", "training"]),
        *expand("results/{run}/plots/{plot}.{ext}", run=trained, plot=PLOTS, ext=["png", "pdf"]),
        # imported runs have no training log: their per-epoch curves only
        *expand(
            "results/{run}/trial_{trial}/epoch_{epoch}/betti_curves.csv",
            run=imported,
            trial=TRIALS,
            epoch=TOPOLOGY_EPOCHS,
        ),
        *adversarial_targets(trained),
        *expand("results/{run}/claims.csv", run=trained),
        *expand("results/comparisons/{comparison}/claims.csv", comparison=COMPARISONS),
        *expand(
            "results/comparisons/{comparison}/betti_curves_{x}.{ext}",
            comparison=COMPARISONS,
            x=["density", "epsilon"],
            ext=["png", "pdf"],
        ),
        # every intermediate file the workflow keeps (see the docstring)
        *(f for rule_ in per_run for f in kept_outputs(rule_, trained)),
        *kept_outputs(rules.sparse_distance, imported),
        *(f for rule_ in from_dipha for f in kept_outputs(rule_, trained + imported)),
        *kept_outputs(rules.attack, trained, ADV_EPOCHS),
        *(f for rule_ in per_epoch_topology for f in kept_outputs(rule_, trained, ADV_EPOCHS, attacked)),
        *(kept_outputs(rules.detection_features, trained, ADV_EPOCHS, ["", *attacked]) if DETECTION["enabled"] else []),
        # generalization studies: the topology.json of their runs (fitted and held out), the tables, the model,
        # the figures and the held-out evaluation
        *expand("results/{run}/topology.json", run=sorted({r for s in STUDIES.values() for r in study_runs(s)})),
        *(f"results/generalization/{s}/{f}" for s, options in STUDIES.items() for f in study_outputs(options)),
    ]


def full_distance_matrix(path):
    """Output of the full distance matrix, ``{"distance": path}``, only with topology.keep_distance_matrix: by
    default the functional_graph job never writes it (its sparse cut is what the later stages read)."""
    return {"distance": path} if config["topology"]["keep_distance_matrix"] else {}


def forget_failed_jobs():
    """onerror: erase what Snakemake recorded about the failed jobs' missing outputs.

    Snakemake records a failed job's params and input checksums as if it had run
    (snakemake/snakemake#3808). For a temp() output, which all_targets() cannot ask for, the next run
    would take the failed job's inputs for inputs it has processed, and skip it. Without the record, the
    job is judged by file dates alone: its input is newer than the files made after it, so it is retried.
    Outputs that exist (e.g. of the jobs of a SLURM group that did succeed) keep their records.
    """
    for job in workflow.scheduler.failed:
        for f in job.output:
            if not os.path.exists(f):
                workflow.persistence.cleanup_metadata(f)


def cancel_rate_limiter_timers():
    """onsuccess/onerror: cancel the scheduler's pending re-evaluation timers, so the run ends with its last job.

    Snakemake's job rate limiter (``--max-jobs-per-timespan``, default 100/1s) starts a non-daemon
    ``threading.Timer`` of one timespan after every scheduling round, and Python waits for it at exit: each
    run went on for up to a second (the timespan) after its last job, doing nothing. Once the run is over
    no job is scheduled again, so nothing needs them.
    """
    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and "JobScheduler." in getattr(function, "__qualname__", ""):
            thread.cancel()


def run_option(section, key=None):
    """Input/param function: option ``section.key`` of the job's run (per-run overrides applied),
    or the whole ``section`` when no key is given."""
    if key is None:
        return lambda wildcards: RUNS[wildcards.run][section]
    return lambda wildcards: RUNS[wildcards.run][section][key]


def comparison_option(key):
    """Input/param function: ``key`` (``runs`` or ``epochs``) of the job's comparison."""
    return lambda wildcards: COMPARISONS[wildcards.comparison][key]


def study_option(key):
    """Param function: option ``key`` of the job's generalization study (defaults applied)."""
    return lambda wildcards: STUDIES[wildcards.study][key]


def per_epoch(pattern):
    """Input function: ``pattern`` (relative to an epoch directory) for every trial and topology epoch."""

    def files(wildcards):
        return expand(
            f"results/{{run}}/trial_{{trial}}/epoch_{{epoch}}/{pattern}",
            run=wildcards.run,
            trial=TRIALS,
            epoch=TOPOLOGY_EPOCHS,
        )

    return files


def this_run(wildcards):
    """Param function: the job's run, as a list of one (like ``comparison_option("runs")``)."""
    return [wildcards.run]


def labels_permuted(runs):
    """Param function: ``training.permute_labels`` of each run that ``runs(wildcards)`` names."""
    return lambda wildcards: [RUNS[run]["training"]["permute_labels"] for run in runs(wildcards)]


def comparison_files(pattern):
    """Input function: ``pattern`` (with ``{run}``) for every run of the job's comparison."""
    return lambda wildcards: expand(pattern, run=COMPARISONS[wildcards.comparison]["runs"])


def checkpoint_of(wildcards):
    if int(wildcards.epoch) > EPOCHS:
        raise ValueError(f"epoch {wildcards.epoch} was requested but training.epochs is {EPOCHS}")
    return f"results/{wildcards.run}/trial_{wildcards.trial}/checkpoints/epoch_{wildcards.epoch}.pt"


def plotted_diagrams(wildcards):
    """Input function (plot): the diagrams of the first trial, one per topology epoch."""
    return expand(
        "results/{run}/trial_{trial}/epoch_{epoch}/diagram.bin",
        run=wildcards.run,
        trial=TRIALS[0],
        epoch=TOPOLOGY_EPOCHS,
    )


def comparison_curves(wildcards):
    """Input function (compare): the aggregated Betti curves of each run compared."""
    return expand("results/{run}/betti_curves.csv", run=COMPARISONS[wildcards.comparison]["runs"])


# ---------------------------------------------------------------------------------------------- adversarial


def adversarial_targets(runs):
    """The adversarial study's tables and figures of ``runs`` (nothing when no attack is configured)."""
    if not ATTACKS:
        return []
    tables = ["attacks", "betti_curves", "betti_summary"] + (["detection"] if DETECTION["enabled"] else [])
    return [
        *expand("results/{run}/adversarial/{table}.csv", run=runs, table=tables),
        *expand("results/{run}/adversarial/plots/{plot}.{ext}", run=runs, plot=ADV_PLOTS, ext=["png", "pdf"]),
    ]


def per_attacked_epoch(pattern, clean=True, attacked=True):
    """Input function: ``pattern`` in the epoch directory of every trial and attacked epoch, for the clean
    inputs (``epoch_<E>/pattern``) and/or every attack (``epoch_<E>/<attack id>/pattern``)."""
    input_sets = ([""] if clean else []) + ([f"{a}/" for a in ATTACKS] if attacked else [])

    def files(wildcards):
        return expand(
            f"results/{{run}}/trial_{{trial}}/epoch_{{epoch}}/{{inputs}}{pattern}",
            run=wildcards.run,
            trial=TRIALS,
            epoch=ADV_EPOCHS,
            inputs=input_sets,
        )

    return files


def attack_spec(wildcards):
    """Param function: the attack of the job's input set (None for the clean inputs)."""
    attack = wildcards.get("attack") or wildcards.get("inputs", "").strip("/")
    return ATTACKS[attack].to_dict() if attack else None


# ---------------------------------------------------------------------------------------------- generalization


def study_runs(study):
    """Every run of a study: the fitted ones, then the held-out ones."""
    return [*study["runs"], *held_out_runs(study)]


def study_files(pattern, held_out=False):
    """Input function: ``pattern`` (relative to ``results/<run>/``) for every run of the study (its held-out
    runs with ``held_out``), in the study's run order; a pattern with ``{trial}`` and ``{epoch}`` is expanded
    over trials and study epochs."""

    def files(wildcards):
        study = STUDIES[wildcards.study]
        runs = held_out_runs(study) if held_out else study["runs"]
        paths = expand(f"results/{{run}}/{pattern}", run=runs, trial=TRIALS, epoch=study["epochs"])
        return list(dict.fromkeys(paths))  # a pattern without {trial}/{epoch}: once per run

    return files


def per_epoch_checkpoints(wildcards):
    """Input function (weight_norms): the run's checkpoints of every trial and topology epoch."""
    return expand(
        "results/{run}/trial_{trial}/checkpoints/epoch_{epoch}.pt",
        run=wildcards.run,
        trial=TRIALS,
        epoch=TOPOLOGY_EPOCHS,
    )


def held_out_predictions(wildcards):
    """Input function (generalization_plots): the study's held-out estimates, when it has held-out runs."""
    if not STUDIES[wildcards.study]["held_out"]:
        return []
    return [f"results/generalization/{wildcards.study}/held_out_predictions.csv"]
