"""Snakemake script of rule generalization_plots (see rules/generalization.smk)."""
from dnn_topology.generalization_plots import plot_study
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    i = snakemake.input
    plot_study(i.table, i.predictions, i.model, dict(snakemake.output.items()))
