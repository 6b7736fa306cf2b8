"""Snakemake script of rule compare (see rules/compare.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.plots.run_figures import compare_stage

with log_to_file(snakemake.log[0]):
    compare_stage(
        comparison=snakemake.wildcards.comparison,
        runs=snakemake.params.runs,
        curves=snakemake.input.curves,
        epochs=snakemake.params.epochs,
        outputs=dict(snakemake.output.items()),
    )
