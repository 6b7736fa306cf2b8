"""Snakemake script of rule generalization_fit (see rules/generalization.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.generalization.model import generalization_fit_stage

with log_to_file(snakemake.log[0]):
    generalization_fit_stage(
        table=snakemake.input.table,
        study=snakemake.wildcards.study,
        features=snakemake.params.features,
        topology=snakemake.params.topology,
        predictions=snakemake.output.predictions,
        metrics_csv=snakemake.output.metrics,
        metrics_md=snakemake.output.metrics_md,
        differences_csv=snakemake.output.differences,
        metrics_html=snakemake.output.metrics_html,
        model=snakemake.output.model,
        bootstrap=snakemake.params.bootstrap,
        seed=snakemake.params.seed,
    )
