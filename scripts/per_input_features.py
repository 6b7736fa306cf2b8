"""Snakemake script of rule per_input_features (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.samples import SampleSet
from dnn_topology.studies.adversarial.per_input import per_input_features_stage

with log_to_file(snakemake.log[0]):
    per_input_features_stage(
        checkpoint=snakemake.input.checkpoint,
        reference=snakemake.input.reference,
        inputs=snakemake.input.inputs[0] if snakemake.input.inputs else None,
        features=snakemake.output.features,
        network=snakemake.params.network,
        sample_set=SampleSet.from_params(snakemake.params.sample_set, snakemake.config),
        node_selection=snakemake.params.node_selection,
        per_input=snakemake.params.per_input,
        device=snakemake.config["device"],
        threads=snakemake.threads,
    )
