"""Snakemake script of rule adversarial_aggregate (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.aggregate import adversarial_aggregate_stage

with log_to_file(snakemake.log[0]):
    adversarial_aggregate_stage(
        run=snakemake.wildcards.run,
        attacks=snakemake.params.attacks,
        curve_csvs=snakemake.input.curves,
        summary_csvs=snakemake.input.summaries,
        record_csvs=snakemake.input.records,
        curves=snakemake.output.curves,
        summary=snakemake.output.summary,
        records=snakemake.output.records,
    )
