"""Snakemake script of rule per_input_adaptive (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.samples import SampleSet
from dnn_topology.studies.adversarial.adaptive import per_input_adaptive_stage

with log_to_file(snakemake.log[0]):
    per_input_adaptive_stage(
        checkpoint=snakemake.input.checkpoint,
        reference=snakemake.input.reference,
        clean_csv=snakemake.input.clean,
        attacked_csvs=snakemake.input.attacked,
        adaptive=snakemake.output.adaptive,
        network=snakemake.params.network,
        sample_set=SampleSet.from_params(snakemake.params.sample_set, snakemake.config),
        attacks=snakemake.params.attacks,
        per_input=snakemake.params.per_input,
        device=snakemake.config["device"],
        threads=snakemake.threads,
    )
