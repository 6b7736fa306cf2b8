"""Snakemake script of rule sparse_distance (see rules/functional_graph.smk)."""
from dnn_topology.dipha_io import full_to_sparse, read_distance_matrix, write_sparse_distance_matrix
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]) as log:
    sparse = full_to_sparse(read_distance_matrix(snakemake.input.distance), snakemake.params.max_epsilon)
    write_sparse_distance_matrix(snakemake.output.sparse, sparse)
    log.info("kept %d directed entries with distance <= %g", len(sparse.values), 2 * snakemake.params.max_epsilon)
