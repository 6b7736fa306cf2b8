"""Snakemake script of rule detection_features (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.samples import SampleSet
from dnn_topology.studies.adversarial.detection import detection_features_stage

with log_to_file(snakemake.log[0]):
    detection_features_stage(
        checkpoint=snakemake.input.checkpoint,
        features=snakemake.output.features,
        network=snakemake.params.network,
        sample_set=SampleSet.from_params(snakemake.params.sample_set, snakemake.config),
        attack_spec=snakemake.params.attack_spec,
        detection=snakemake.params.detection,
        device=snakemake.config["device"],
        threads=snakemake.threads,
    )
