"""Snakemake script of rule activations (see rules/activations.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.activations import activations_stage
from dnn_topology.networks.samples import SampleSet

with log_to_file(snakemake.log[0]):
    activations_stage(
        checkpoint=snakemake.input.checkpoint,
        activations=snakemake.output.activations,
        nodes=snakemake.output.nodes,
        samples=snakemake.output.samples,
        network=snakemake.params.network,
        sample_set=SampleSet.from_params(snakemake.params.sample_set, snakemake.config),
        node_selection=snakemake.params.node_selection,
        device=snakemake.config["device"],
        threads=snakemake.threads,
        batch_size=snakemake.config["activations"]["batch_size"],  # memory, not results: not a param
    )
