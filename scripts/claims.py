"""Snakemake script of rules claims and claims_comparison (see rules/claims.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.claims import claims_stage

with log_to_file(snakemake.log[0]):
    claims_stage(
        runs=snakemake.params.runs,
        summaries=snakemake.input.summaries,
        training=snakemake.input.training,
        permute_labels=snakemake.params.permute_labels,
        epochs=snakemake.params.epochs,
        max_dim=snakemake.params.max_dim,
        max_epsilon=snakemake.params.max_epsilon,
        outputs=dict(snakemake.output.items()),
        title=snakemake.params.title,
    )
