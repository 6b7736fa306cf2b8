"""Snakemake script of rule activations (see rules/activations.smk)."""
from dnn_topology.activations import compute_activations, save_activations
from dnn_topology.datasets import dataset_registry
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    p = snakemake.params
    acts, nodes, samples = compute_activations(
        snakemake.input.checkpoint, p.network, p.dataset, p.options["n_samples"],
        node_selection=p.options["node_selection"], split=p.options["split"],
        data_dir=snakemake.config["data_dir"], download=snakemake.config["download"],
        binarize_class=p.binarize_class, subset=p.subset, training_seed=p.seed + int(snakemake.wildcards.trial),
        registry=dataset_registry(snakemake.config["imagefolders"]),
        device=snakemake.config["device"], threads=snakemake.threads)
    save_activations(acts, nodes, snakemake.output.activations, snakemake.output.nodes, samples,
                     snakemake.output.samples)
