"""Snakemake script of rule betti_curves (see rules/betti_curves.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.topology.betti import betti_curves_stage

with log_to_file(snakemake.log[0]):
    betti_curves_stage(
        diagram=snakemake.input.diagram,
        sparse=snakemake.input.sparse,
        curves=snakemake.output.curves,
        summary=snakemake.output.summary,
        max_dim=snakemake.params.max_dim,
        max_epsilon=snakemake.params.max_epsilon,
        n_points=snakemake.params.n_points,
    )
