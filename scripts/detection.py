"""Snakemake script of rule detection (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.adversarial.detection import detection_stage

with log_to_file(snakemake.log[0]):
    detection_stage(
        clean_csvs=snakemake.input.clean,
        attacked_csvs=snakemake.input.attacked,
        table=snakemake.output.table,
        attacks=snakemake.params.attacks,
        detection=snakemake.params.detection,
    )
