"""Snakemake script of rule plot (see rules/plot.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.plots.run_figures import plot_stage

with log_to_file(snakemake.log[0]):
    plot_stage(
        run=snakemake.wildcards.run,
        curves=snakemake.input.curves,
        summary=snakemake.input.summary,
        training=snakemake.input.training,
        epochs=snakemake.params.epochs,
        diagrams=snakemake.input.diagrams,
        max_epsilon=snakemake.params.max_epsilon,
        outputs=dict(snakemake.output.items()),
        trial=snakemake.params.trial,
    )
