"""Snakemake script of rule diagram_topology (see rules/generalization.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.generalization.model import diagram_topology_stage

with log_to_file(snakemake.log[0]):
    diagram_topology_stage(
        parameters=snakemake.output.parameters,
        activations=snakemake.params.activations,
        topology=snakemake.params.topology,
        run=snakemake.wildcards.run,
    )
