"""Snakemake script of rule functional_graph (see rules/functional_graph.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.topology.graph import functional_graph_stage

with log_to_file(snakemake.log[0]):
    functional_graph_stage(
        activations=snakemake.input.activations,
        sparse=snakemake.output.sparse,
        max_epsilon=snakemake.params.max_epsilon,
        distance=snakemake.output.get("distance"),  # only with topology.keep_distance_matrix
        device=snakemake.config["device"],  # CUDA when present (auto): the same result to 1e-12
    )
