"""Snakemake script of rule generalization_plots (see rules/generalization.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.generalization.figures import generalization_plots_stage

with log_to_file(snakemake.log[0]):
    generalization_plots_stage(
        table=snakemake.input.table,
        predictions=snakemake.input.predictions,
        model=snakemake.input.model,
        held_out=list(snakemake.input.held_out),
        outputs=dict(snakemake.output.items()),
    )
