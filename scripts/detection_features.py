"""Snakemake script of rule detection_features (see rules/adversarial.smk)."""
from dnn_topology.datasets import dataset_registry
from dnn_topology.detection import run_detection_features_stage
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    p = snakemake.params
    run_detection_features_stage(
        features_csv=snakemake.output.features, checkpoint=snakemake.input.checkpoint, network=p.network,
        dataset=p.dataset, attack_spec=p.attack_spec, detection=p.detection, data_dir=snakemake.config["data_dir"],
        download=snakemake.config["download"], device=snakemake.config["device"], threads=snakemake.threads,
        binarize_class=p.binarize_class, registry=dataset_registry(snakemake.config["imagefolders"]))
