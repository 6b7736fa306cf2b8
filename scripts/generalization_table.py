"""Snakemake script of rule generalization_table (see rules/generalization.smk)."""
from dnn_topology.generalization import build_study_table
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    build_study_table(p.runs, i.training, i.summaries, i.diagrams, p.max_dim, p.min_persistence, snakemake.output.table)
