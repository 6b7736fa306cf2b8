"""Snakemake script of rule attack (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.adversarial.attacks import attack_stage

with log_to_file(snakemake.log[0]):
    attack_stage(
        checkpoint=snakemake.input.checkpoint,
        activations=snakemake.output.activations,
        nodes=snakemake.output.nodes,
        record=snakemake.output.record,
        inputs=snakemake.output.inputs,
        network=snakemake.params.network,
        dataset=snakemake.params.dataset,
        attack_spec=snakemake.params.attack_spec,
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
