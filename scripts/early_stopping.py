"""Snakemake script of rule early_stopping (see rules/early_stopping.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.early_stopping.study import early_stopping_stage

with log_to_file(snakemake.log[0]):
    early_stopping_stage(
        study=snakemake.wildcards.stopping_study,
        runs=snakemake.params.runs,
        training=snakemake.input.training,
        summaries=snakemake.input.summaries,
        persistence=snakemake.input.persistence,
        labels=snakemake.input.labels,
        samples=snakemake.input.samples,
        epochs=snakemake.params.epochs,
        rules=snakemake.params.rules,
        patience=snakemake.params.patience,
        min_delta=snakemake.params.min_delta,
        patience_candidates=snakemake.params.patience_candidates,
        last_epoch=snakemake.params.last_epoch,
        confidence=snakemake.params.confidence,
        series=snakemake.output.series,
        stops=snakemake.output.stops,
        summary=snakemake.output.summary,
        differences=snakemake.output.differences,
        summary_md=snakemake.output.summary_md,
        sweep=snakemake.output.sweep,
    )
