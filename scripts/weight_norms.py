"""Snakemake script of rule weight_norms (see rules/generalization.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.generalization.weights import weight_norms_stage

with log_to_file(snakemake.log[0]):
    weight_norms_stage(
        checkpoints=snakemake.input.checkpoints,
        trial_epochs=snakemake.params.trial_epochs,
        network=snakemake.params.network,
        dataset=snakemake.params.dataset,
        binarize_class=snakemake.params.binarize_class,
        imagefolders=snakemake.config["imagefolders"],
        datasets=snakemake.config.get("datasets"),
        norms=snakemake.output.norms,
    )
