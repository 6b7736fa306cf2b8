# Configuration checks, target lists and input functions shared by every rule.

import os

from snakemake.io import get_wildcard_names, is_flagged

from dnn_topology import layout
from dnn_topology.networks.samples import run_sample_set
from dnn_topology.studies.adversarial.config import (
    DETECTOR_NAMES,
    adaptive_attacks,
    adversarial_epochs,
    attack_table,
    detection_pool,
    per_input_options,
    reference_samples,
)
from dnn_topology.studies.generalization.config import held_out_runs, study_options
from dnn_topology.studies.early_stopping.config import TOPOLOGY_SERIES, early_stopping_options
from dnn_topology.topology.persistence import engine_from_config
from dnn_topology.workflow import snakemake_compat
from dnn_topology.workflow.config import (
    apply_command_line_config,
    check_config,
    checkpoint_path,
    config_datasets,
    export_package_path,
    run_table,
    validate_config,
)
from dnn_topology.workflow.finish import finish_message

export_package_path(os.path.join(workflow.basedir, "src"))
# the Snakefile's onsuccess/onerror hooks reach into Snakemake's private objects: warn now if they changed
snakemake_compat.check_hooks(workflow)

# --config values inside lists and mappings arrive as strings: read them as YAML, as a config file is
apply_command_line_config(config, workflow.config_settings.config)
# the schema (defaults filled in), then the checks beyond it; an error names the key, in a line or two
validate_config(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))
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
# runs with checkpoints (trained by the workflow, or given by runs[].checkpoints and measured by rule evaluate) make
# their sparse distance matrix from activations (rule functional_graph), imported runs from the original's full
# distance matrix (rule sparse_distance)
TRAINED_RUNS = [run for run in RUNS if RUNS[run]["run"]["source"] == "train"]
CHECKPOINT_RUNS = [run for run in RUNS if RUNS[run]["run"]["source"] == "checkpoints"]
NETWORK_RUNS = TRAINED_RUNS + CHECKPOINT_RUNS
IMPORTED_RUNS = [run for run in RUNS if RUNS[run]["run"]["source"] == "imported"]
TRAINED_RUN_PATTERN = layout.names_pattern(TRAINED_RUNS, "NO_TRAINED_RUN")
CHECKPOINT_RUN_PATTERN = layout.names_pattern(CHECKPOINT_RUNS, "NO_CHECKPOINT_RUN")
NETWORK_RUN_PATTERN = layout.names_pattern(NETWORK_RUNS, "NO_NETWORK_RUN")
IMPORTED_RUN_PATTERN = layout.names_pattern(IMPORTED_RUNS, "NO_IMPORTED_RUN")
STUDIES = study_options(config)  # generalization study name -> options with defaults
# adversarial inputs: attack id -> AttackSpec, the epochs attacked, the detector's options
ATTACKS = attack_table(config["adversarial"])
ADV_EPOCHS = adversarial_epochs(config) if ATTACKS else []
DETECTION = config["adversarial"]["detection"]
ADV_PLOTS = [p for p in layout.ADVERSARIAL_PLOTS if DETECTION["enabled"] or p != "detection_auc"]
ADV_TABLES = [t for t in layout.ADVERSARIAL_TABLES if DETECTION["enabled"] or t != "detection"]
STOPPING_STUDIES = early_stopping_options(config)  # early-stopping study name -> options with defaults
# per-input detection: its options (deploy_attack resolved), the attacks attacked adaptively, its run tables
PER_INPUT = per_input_options(config["adversarial"], ATTACKS)
PER_INPUT_ON = bool(ATTACKS) and PER_INPUT["enabled"]
ADAPTIVE_ATTACKS = adaptive_attacks(ATTACKS, PER_INPUT) if PER_INPUT_ON else []
PER_INPUT_TABLES = [t for t in layout.PER_INPUT_TABLES if ADAPTIVE_ATTACKS or t != "adaptive"]
ENV = "../envs/dnn_topology.yaml"


# run, comparison, attack and study match the configured names only; inputs (the input set of a per-epoch
# file) is "" (clean, directly in epoch_<E>/) or "<attack id>/"
wildcard_constraints:
    **layout.wildcard_constraints(RUNS, COMPARISONS, ATTACKS, STUDIES, STOPPING_STUDIES),


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
    networks, imported = NETWORK_RUNS, IMPORTED_RUNS
    per_run = [rules.activations, rules.functional_graph]
    # imported runs start from DIPHA files: the sparse distance matrix from their full one, then the same stages
    from_dipha = [rules.persistence, rules.betti_curves]
    # attacked samples (inputs "<attack id>/") go through the same stages at the attacked epochs
    per_epoch_topology = [rules.functional_graph, *from_dipha]
    attacked = [f"{a}/" for a in ATTACKS]
    return [
        *expand(layout.run_file("{table}.csv"), run=networks, table=layout.RUN_TABLES),
        *expand(layout.run_plot("{plot}", "{ext}"), run=networks, plot=layout.RUN_PLOTS, ext=layout.FIGURE_FORMATS),
        *expand(layout.run_plot("epochs", "html"), run=networks),
        # imported runs have no training log: their per-epoch curves only
        *expand(
            layout.epoch_file("betti_curves.csv", inputs=False),
            run=imported,
            trial=TRIALS,
            epoch=TOPOLOGY_EPOCHS,
        ),
        *adversarial_targets(networks),
        *expand(layout.run_file("claims.csv"), run=networks),
        *expand(layout.comparison_file("claims.csv"), comparison=COMPARISONS),
        *expand(
            layout.comparison_file("betti_curves_{x}.{ext}"),
            comparison=COMPARISONS,
            x=["density", "epsilon"],
            ext=layout.FIGURE_FORMATS,
        ),
        # every intermediate file the workflow keeps (see the docstring)
        *kept_outputs(rules.train, TRAINED_RUNS),
        *kept_outputs(rules.evaluate, CHECKPOINT_RUNS),
        *(f for rule_ in per_run for f in kept_outputs(rule_, networks)),
        *kept_outputs(rules.sparse_distance, imported),
        *(f for rule_ in from_dipha for f in kept_outputs(rule_, networks + imported)),
        *kept_outputs(rules.attack, networks, ADV_EPOCHS),
        *(f for rule_ in per_epoch_topology for f in kept_outputs(rule_, networks, ADV_EPOCHS, attacked)),
        *(
            kept_outputs(rules.detection_features, networks, ADV_EPOCHS, ["", *attacked])
            if DETECTION["enabled"]
            else []
        ),
        *(per_input_kept_outputs(networks, attacked) if PER_INPUT_ON else []),
        # generalization studies: the topology.json of their runs (fitted and held out), the tables, the model,
        # the figures and the held-out evaluation
        *expand(layout.run_file("topology.json"), run=sorted({r for s in STUDIES.values() for r in study_runs(s)})),
        *expand(layout.study_file("{file}"), study=STUDIES, file=layout.STUDY_TABLES),
        *expand(
            layout.study_figure("{figure}", "{ext}"),
            study=STUDIES,
            figure=layout.STUDY_FIGURES,
            ext=layout.FIGURE_FORMATS,
        ),
        *expand(
            layout.study_file("{file}"),
            study=[s for s, options in STUDIES.items() if options["held_out"]],
            file=layout.HELD_OUT_TABLES,
        ),
        *stopping_targets(),
    ]


def full_distance_matrix(path):
    """Output of the full distance matrix, ``{"distance": path}``, only with topology.keep_distance_matrix: by
    default the functional_graph job never writes it (its sparse cut is what the later stages read)."""
    return {"distance": path} if config["topology"]["keep_distance_matrix"] else {}


def say_where_the_figures_are():
    """onsuccess: end a run by saying where its figures and claims are, and how to make the report."""
    from snakemake.logging import logger

    logger.info(finish_message(TRAINED_RUNS, COMPARISONS, STUDIES))


def run_option(section, key=None):
    """Input/param function: option ``section.key`` of the job's run (per-run overrides applied),
    or the whole ``section`` when no key is given."""
    if key is None:
        return lambda wildcards: RUNS[wildcards.run][section]
    return lambda wildcards: RUNS[wildcards.run][section][key]


def sample_set_params(wildcards):
    """Param function: what the samples of the job's run and trial are (``SampleSet.params()``); the script adds
    where the data lives from the config (``SampleSet.from_params``), so moving the data reruns nothing."""
    return run_sample_set(RUNS[wildcards.run], int(wildcards.trial)).params()


def detection_pool_params(wildcards):
    """Param function (detection_features): the adversarial detector's pool of the job's run, as
    :func:`sample_set_params` (it depends on the run's dataset and labels only, not on its activations options)."""
    return detection_pool(run_sample_set(RUNS[wildcards.run], int(wildcards.trial)), DETECTION).params()


def comparison_option(key):
    """Input/param function: ``key`` (``runs`` or ``epochs``) of the job's comparison."""
    return lambda wildcards: COMPARISONS[wildcards.comparison][key]


def study_option(key):
    """Param function: option ``key`` of the job's generalization study (defaults applied)."""
    return lambda wildcards: STUDIES[wildcards.study][key]


def per_epoch(name):
    """Input function: file ``name`` of the clean samples' epoch directory, for every trial and topology epoch."""

    def files(wildcards):
        return expand(
            layout.epoch_file(name, inputs=False),
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


def comparison_files(name):
    """Input function: file ``name`` of each run (``results/<run>/<name>``) of the job's comparison."""
    return lambda wildcards: expand(layout.run_file(name), run=COMPARISONS[wildcards.comparison]["runs"])


def checkpoint_of(wildcards):
    """Input function: the checkpoint of the job's run, trial and epoch (a file of runs[].checkpoints, or the
    train rule's)."""
    return checkpoint_file(wildcards.run, int(wildcards.trial), int(wildcards.epoch))


def checkpoint_file(run, trial, epoch):
    """The checkpoint of ``run``'s ``trial`` and ``epoch``: a file of runs[].checkpoints, or the train rule's."""
    pattern = RUNS[run]["run"]["checkpoints"]
    if pattern:
        return checkpoint_path(pattern, trial, epoch)
    if epoch > EPOCHS:
        raise ValueError(f"epoch {epoch} was requested but training.epochs is {EPOCHS}")
    return layout.fill(layout.checkpoint(), run=run, trial=trial, epoch=epoch)


def network_params(wildcards):
    """Param function: the job's run's network, its keyword arguments and recorded layers (``NetworkRef.params()``)."""
    return RUNS[wildcards.run]["network"]


def training_logs(wildcards):
    """Input function (aggregate): the training logs of the job's run, one per trial, or for a run of checkpoints
    trained elsewhere the evaluation of each trial's topology epochs (rule evaluate), in the same columns."""
    if RUNS[wildcards.run]["run"]["source"] == "checkpoints":
        return per_epoch("evaluation.csv")(wildcards)
    return expand(layout.trial_file("training.csv"), run=wildcards.run, trial=TRIALS)


def plotted_diagrams(wildcards):
    """Input function (plot): the diagrams of the first trial, one per topology epoch."""
    return expand(
        layout.epoch_file("diagram.bin", inputs=False),
        run=wildcards.run,
        trial=TRIALS[0],
        epoch=TOPOLOGY_EPOCHS,
    )


# ---------------------------------------------------------------------------------------------- adversarial


def adversarial_targets(runs):
    """The adversarial study's tables and figures of ``runs`` (nothing when no attack is configured)."""
    if not ATTACKS:
        return []
    return [
        *expand(layout.adversarial_file("{table}.csv"), run=runs, table=ADV_TABLES),
        *expand(layout.adversarial_plot("{plot}", "{ext}"), run=runs, plot=ADV_PLOTS, ext=layout.FIGURE_FORMATS),
        *(expand(layout.per_input_run_file("{table}.csv"), run=runs, table=PER_INPUT_TABLES) if PER_INPUT_ON else []),
    ]


def per_input_kept_outputs(runs, attacked):
    """The per-input rules' kept files of ``runs`` at every trial and attacked epoch (see all_targets)."""
    per_epoch = [rules.per_input_reference, rules.per_input_detection]
    per_epoch += [rules.per_input_adaptive] if ADAPTIVE_ATTACKS else []
    return [
        *(f for rule_ in per_epoch for f in kept_outputs(rule_, runs, ADV_EPOCHS)),
        *kept_outputs(rules.per_input_features, runs, ADV_EPOCHS, ["", *attacked]),
    ]


def reference_sample_params(wildcards):
    """Param function (per_input_reference): the training inputs of the job's run and trial that the per-input
    detectors' references are fitted on, as :func:`sample_set_params`."""
    return reference_samples(run_sample_set(RUNS[wildcards.run], int(wildcards.trial)), PER_INPUT).params()


def attacked_inputs(wildcards):
    """Input function (per_input_features): the attacked images of the job's input set (none for the clean one)."""
    attack = layout.attack_of_input_set(wildcards.inputs)
    if attack is None:
        return []
    return [layout.fill(layout.attack_file("inputs.npy"), **dict(wildcards.items()), attack=attack)]


def per_input_features_of(attacks):
    """Input function: the per-input features of each of ``attacks`` at the job's run, trial and epoch."""

    def files(wildcards):
        pattern = layout.per_input_file("features.csv", inputs=True)
        return [layout.fill(pattern, **dict(wildcards.items()), inputs=layout.input_set(a)) for a in attacks]

    return files


def per_attacked_trial_epoch(pattern):
    """Input function: ``pattern`` (with {run}, {trial}, {epoch}) for every trial and attacked epoch of the job's run."""
    return lambda wildcards: expand(pattern, run=wildcards.run, trial=TRIALS, epoch=ADV_EPOCHS)


def per_attacked_epoch(name, clean=True, attacked=True):
    """Input function: file ``name`` in the epoch directory of every trial and attacked epoch, for the clean
    inputs (``epoch_<E>/<name>``) and/or every attack (``epoch_<E>/<attack id>/<name>``)."""
    input_sets = [layout.input_set(a) for a in ([None] if clean else []) + (list(ATTACKS) if attacked else [])]

    def files(wildcards):
        return expand(
            layout.epoch_file(name),
            run=wildcards.run,
            trial=TRIALS,
            epoch=ADV_EPOCHS,
            inputs=input_sets,
        )

    return files


def attack_spec(wildcards):
    """Param function: the attack of the job's input set (None for the clean inputs)."""
    attack = wildcards.get("attack") or layout.attack_of_input_set(wildcards.get("inputs", ""))
    return ATTACKS[attack].to_dict() if attack else None


# ---------------------------------------------------------------------------------------------- generalization


def study_runs(study):
    """Every run of a study: the fitted ones, then the held-out ones."""
    return [*study["runs"], *held_out_runs(study)]


def study_files(pattern, held_out=False):
    """Input function: ``pattern`` (a run's file, e.g. ``layout.run_file(name)``) for every run of the study (its
    held-out runs with ``held_out``), in the study's run order; a pattern with ``{trial}`` and ``{epoch}`` is
    expanded over trials and study epochs."""

    def files(wildcards):
        study = STUDIES[wildcards.study]
        runs = held_out_runs(study) if held_out else study["runs"]
        return files_of_study({**study, "runs": runs}, pattern)

    return files


def files_of_study(study, pattern):
    """``pattern`` for every run of ``study`` (options with ``runs`` and ``epochs``), in its run order, expanded
    over trials and the study's epochs; a pattern without ``{trial}``/``{epoch}`` once per run."""
    return list(dict.fromkeys(expand(pattern, run=study["runs"], trial=TRIALS, epoch=study["epochs"])))


def checkpoint_trial_epochs(wildcards):
    """Param function (weight_norms): (trial, epoch) of every trial and topology epoch, in that order."""
    return [[trial, epoch] for trial in TRIALS for epoch in TOPOLOGY_EPOCHS]


def per_epoch_checkpoints(wildcards):
    """Input function (weight_norms): the run's checkpoints (:func:`checkpoint_file`) of every trial and topology
    epoch, in the order of :func:`checkpoint_trial_epochs`."""
    return [checkpoint_file(wildcards.run, trial, epoch) for trial, epoch in checkpoint_trial_epochs(wildcards)]


def held_out_predictions(wildcards):
    """Input function (generalization_plots): the study's held-out estimates, when it has held-out runs."""
    if not STUDIES[wildcards.study]["held_out"]:
        return []
    return [layout.fill(layout.study_file("held_out_predictions.csv"), study=wildcards.study)]


# ---------------------------------------------------------------------------------------------- early stopping


def stopping_targets():
    """The early-stopping studies' tables and figures, and the neural persistence of their runs' trials."""
    files = []
    for name, study in STOPPING_STUDIES.items():
        files += expand(layout.stopping_file("{file}"), stopping_study=name, file=layout.STOPPING_TABLES)
        files += expand(
            layout.stopping_figure("{ext}"), stopping_study=name, run=study["runs"], ext=layout.FIGURE_FORMATS
        )
        files += expand(layout.trial_file("neural_persistence.csv"), run=study["runs"], trial=TRIALS)
    return list(dict.fromkeys(files))


def stopping_study_option(key):
    """Param function: option ``key`` of the job's early-stopping study (defaults applied)."""
    return lambda wildcards: STOPPING_STUDIES[wildcards.stopping_study][key]


def stopping_study_files(pattern, reads_samples=False):
    """Input function: ``pattern`` (a run's file) for every run of the job's early-stopping study, expanded over
    trials and check epochs; with ``reads_samples`` only when one of the study's rules reads activations."""

    def files(wildcards):
        study = STOPPING_STUDIES[wildcards.stopping_study]
        if reads_samples and not any(r in TOPOLOGY_SERIES for r in study["rules"]):
            return []
        return files_of_study(study, pattern)

    return files
