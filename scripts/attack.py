"""Snakemake script of rule attack (see rules/adversarial.smk)."""
from dnn_topology.attacks import run_attack_stage
from dnn_topology.datasets import dataset_registry
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    p, o = snakemake.params, snakemake.output
    run_attack_stage(
        checkpoint=snakemake.input.checkpoint, network=p.network, dataset=p.dataset, attack_spec=p.attack_spec,
        activations=p.options, activations_npy=o.activations, nodes_csv=o.nodes, record_csv=o.record,
        inputs_npy=o.inputs, data_dir=snakemake.config["data_dir"], download=snakemake.config["download"],
        device=snakemake.config["device"], threads=snakemake.threads, binarize_class=p.binarize_class,
        subset=p.subset, training_seed=p.seed + int(snakemake.wildcards.trial),
        registry=dataset_registry(snakemake.config["imagefolders"]))
