"""Snakemake script of rule aggregate (see rules/aggregate.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.aggregate import aggregate_stage

with log_to_file(snakemake.log[0]):
    aggregate_stage(
        run=snakemake.wildcards.run,
        curve_csvs=snakemake.input.curves,
        summary_csvs=snakemake.input.summaries,
        training_csvs=snakemake.input.training,
        curves=snakemake.output.curves,
        summary=snakemake.output.summary,
        training=snakemake.output.training,
    )
