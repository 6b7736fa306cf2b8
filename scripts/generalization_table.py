"""Snakemake script of rule generalization_table (see rules/generalization.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.generalization.model import generalization_table_stage

with log_to_file(snakemake.log[0]):
    generalization_table_stage(
        runs=snakemake.params.runs,
        training=snakemake.input.training,
        summaries=snakemake.input.summaries,
        weights=snakemake.input.weights,
        diagrams=snakemake.input.diagrams,
        max_dim=snakemake.params.max_dim,
        min_persistence=snakemake.params.min_persistence,
        table=snakemake.output.table,
    )
