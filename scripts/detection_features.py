"""Snakemake script of rule detection_features (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.adversarial.detection import detection_features_stage

with log_to_file(snakemake.log[0]):
    detection_features_stage(
        checkpoint=snakemake.input.checkpoint,
        features=snakemake.output.features,
        network=snakemake.params.network,
        dataset=snakemake.params.dataset,
        attack_spec=snakemake.params.attack_spec,
        detection=snakemake.params.detection,
        binarize_class=snakemake.params.binarize_class,
        data_dir=snakemake.config["data_dir"],
        download=snakemake.config["download"],
        device=snakemake.config["device"],
        threads=snakemake.threads,
        imagefolders=snakemake.config["imagefolders"],
    )
