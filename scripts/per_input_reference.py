"""Snakemake script of rule per_input_reference (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.samples import SampleSet
from dnn_topology.studies.adversarial.per_input import per_input_reference_stage

with log_to_file(snakemake.log[0]):
    per_input_reference_stage(
        checkpoint=snakemake.input.checkpoint,
        reference=snakemake.output.reference,
        network=snakemake.params.network,
        sample_set=SampleSet.from_params(snakemake.params.sample_set, snakemake.config),
        per_input=snakemake.params.per_input,
        device=snakemake.config["device"],
        threads=snakemake.threads,
    )
