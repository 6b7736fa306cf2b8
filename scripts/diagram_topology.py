"""Snakemake script of rule diagram_topology (see rules/generalization.smk)."""
from dnn_topology.generalization import record_diagram_topology
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    p = snakemake.params
    record_diagram_topology(snakemake.output.parameters, p.activations, p.topology, run=snakemake.wildcards.run)
