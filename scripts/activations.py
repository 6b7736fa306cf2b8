"""Snakemake script of rule activations (see rules/activations.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.activations import activations_stage

with log_to_file(snakemake.log[0]):
    activations_stage(
        checkpoint=snakemake.input.checkpoint,
        activations=snakemake.output.activations,
        nodes=snakemake.output.nodes,
        samples=snakemake.output.samples,
        network=snakemake.params.network,
        dataset=snakemake.params.dataset,
        n_samples=snakemake.params.options["n_samples"],
        split=snakemake.params.options["split"],
        node_selection=snakemake.params.options["node_selection"],
        binarize_class=snakemake.params.binarize_class,
        subset=snakemake.params.subset,
        seed=snakemake.params.seed,
        trial=int(snakemake.wildcards.trial),
        data_dir=snakemake.config["data_dir"],
        download=snakemake.config["download"],
        device=snakemake.config["device"],
        threads=snakemake.threads,
        imagefolders=snakemake.config["imagefolders"],
    )
