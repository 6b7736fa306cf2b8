"""Snakemake script of rule functional_graph (see rules/functional_graph.smk)."""
from dnn_topology.dipha_io import write_distance_matrix
from dnn_topology.functional_graph import distance_matrix, load_activations
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]) as log:
    distances = distance_matrix(load_activations(snakemake.input.activations))
    write_distance_matrix(snakemake.output.distance, distances)
    log.info("%d x %d distance matrix -> %s", *distances.shape, snakemake.output.distance)
