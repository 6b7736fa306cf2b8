"""Snakemake script of rule generalization_held_out (see rules/generalization.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.generalization.held_out import generalization_held_out_stage

with log_to_file(snakemake.log[0]):
    generalization_held_out_stage(
        study=snakemake.wildcards.study,
        table=snakemake.input.table,
        model=snakemake.input.model,
        held_out=snakemake.params.held_out,
        training=snakemake.input.training,
        summaries=snakemake.input.summaries,
        weights=snakemake.input.weights,
        diagrams=snakemake.input.diagrams,
        max_dim=snakemake.params.max_dim,
        min_persistence=snakemake.params.min_persistence,
        held_out_table=snakemake.output.held_out_table,
        predictions=snakemake.output.predictions,
        metrics_csv=snakemake.output.metrics,
        report=snakemake.output.report,
        report_html=snakemake.output.report_html,
        bootstrap=snakemake.params.bootstrap,
        seed=snakemake.params.seed,
    )
