"""Snakemake script of rule per_input_aggregate (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.adversarial.per_input import per_input_aggregate_stage

with log_to_file(snakemake.log[0]):
    per_input_aggregate_stage(
        detection_csvs=snakemake.input.detection,
        transfer_csvs=snakemake.input.transfer,
        adaptive_csvs=snakemake.input.adaptive,
        detection=snakemake.output.detection,
        transfer=snakemake.output.transfer,
        adaptive=snakemake.output.get("adaptive"),
    )
