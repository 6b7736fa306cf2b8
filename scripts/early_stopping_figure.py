"""Snakemake script of rule early_stopping_figure (see rules/early_stopping.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.early_stopping.figures import early_stopping_figure_stage

with log_to_file(snakemake.log[0]):
    early_stopping_figure_stage(
        series=snakemake.input.series,
        stops=snakemake.input.stops,
        run=snakemake.wildcards.run,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
