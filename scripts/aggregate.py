"""Snakemake script of rule aggregate (see rules/aggregate.smk)."""
from dnn_topology.aggregate import aggregate_run
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    aggregate_run(snakemake.wildcards.run, i.curves, i.summaries, i.training, o.curves, o.summary, o.training)
