"""Snakemake script of rule train (see rules/train.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.training import train_stage

with log_to_file(snakemake.log[0], keep=f"{snakemake.params.state_dir}/train.log"):  # kept across attempts
    train_stage(
        network=snakemake.params.network,
        dataset=snakemake.params.dataset,
        training=snakemake.params.training,
        trial=int(snakemake.wildcards.trial),
        checkpoints=snakemake.output.checkpoints,
        metrics=snakemake.output.metrics,
        labels=snakemake.output.labels,
        state_dir=snakemake.params.state_dir,
        # from the config, not params: moving the data reruns nothing
        data_dir=snakemake.config["data_dir"],
        download=snakemake.config["download"],
        device=snakemake.config["device"],
        threads=snakemake.threads,
        imagefolders=snakemake.config["imagefolders"],
        label=f"{snakemake.wildcards.run} trial {snakemake.wildcards.trial}",  # tells parallel jobs' lines apart
        datasets=snakemake.config["datasets"],
    )
