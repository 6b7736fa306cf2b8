"""Snakemake script of rule persistence (see rules/persistence.smk)."""
from dnn_topology.io_utils import log_to_file
from dnn_topology.persistence import compute_persistence_file

with log_to_file(snakemake.log[0]):
    p = snakemake.params
    compute_persistence_file(snakemake.input.sparse, snakemake.output.diagram, p.upper_dim,
                             engine=p.engine, n_threads=snakemake.threads, **p.engine_options)
