"""Snakemake script of rule neural_persistence (see rules/early_stopping.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.early_stopping.neural_persistence import neural_persistence_stage

with log_to_file(snakemake.log[0]):
    neural_persistence_stage(checkpoints=snakemake.input.checkpoints, table=snakemake.output.table)
