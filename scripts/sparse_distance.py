"""Snakemake script of rule sparse_distance (see rules/functional_graph.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.topology.graph import sparse_distance_stage

with log_to_file(snakemake.log[0]):
    sparse_distance_stage(
        distance=snakemake.input.distance,
        sparse=snakemake.output.sparse,
        max_epsilon=snakemake.params.max_epsilon,
    )
