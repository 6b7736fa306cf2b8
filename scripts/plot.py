"""Snakemake script of rule plot (see rules/aggregate.smk)."""
from dnn_topology.io_utils import log_to_file
from dnn_topology.plots import plot_run

with log_to_file(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    plot_run(snakemake.wildcards.run, i.curves, i.summary, i.training, dict(zip(snakemake.params.epochs, i.diagrams)),
             snakemake.params.max_epsilon, {k: v for k, v in o.items()}, snakemake.params.trial)
