"""Snakemake script of rule evaluate (see rules/evaluate.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.evaluation import evaluate_stage
from dnn_topology.networks.samples import SampleSet

with log_to_file(snakemake.log[0]):
    evaluate_stage(
        checkpoint=snakemake.input.checkpoint,
        evaluation=snakemake.output.evaluation,
        network=snakemake.params.network,
        sample_set=SampleSet.from_params(snakemake.params.sample_set, snakemake.config),
        epoch=int(snakemake.wildcards.epoch),
        device=snakemake.config["device"],
        threads=snakemake.threads,
    )
