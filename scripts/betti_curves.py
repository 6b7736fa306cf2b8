"""Snakemake script of rule betti_curves (see rules/betti_curves.smk)."""
from dnn_topology.betti_curves import curves_from_files
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    p = snakemake.params
    curves_from_files(snakemake.input.diagram, snakemake.input.sparse, p.max_dim, p.max_epsilon, p.n_points,
                      snakemake.output.curves, snakemake.output.summary)
