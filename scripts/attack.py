"""Snakemake script of rule attack (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.samples import SampleSet
from dnn_topology.studies.adversarial.attacks import attack_stage

with log_to_file(snakemake.log[0]):
    attack_stage(
        checkpoint=snakemake.input.checkpoint,
        activations=snakemake.output.activations,
        nodes=snakemake.output.nodes,
        record=snakemake.output.record,
        inputs=snakemake.output.inputs,
        network=snakemake.params.network,
        sample_set=SampleSet.from_params(snakemake.params.sample_set, snakemake.config),
        attack_spec=snakemake.params.attack_spec,
        node_selection=snakemake.params.node_selection,
        device=snakemake.config["device"],
        threads=snakemake.threads,
    )
