"""Snakemake script of rule train (see rules/train.smk)."""
from dnn_topology.datasets import dataset_registry
from dnn_topology.io_utils import log_to_file
from dnn_topology.training import TrainConfig, train

with log_to_file(snakemake.log[0]):
    p = snakemake.params
    options = dict(p.training)
    options["seed"] = options["seed"] + int(snakemake.wildcards.trial)
    data = {k: snakemake.config[k] for k in ("data_dir", "download")}  # not params: moving data reruns nothing
    cfg = TrainConfig(network=p.network, dataset=p.dataset, **options, **data)
    train(cfg, snakemake.output.checkpoints, snakemake.output.metrics, p.state_dir,
          device=snakemake.config["device"], threads=snakemake.threads, labels_csv=snakemake.output.labels,
          registry=dataset_registry(snakemake.config["imagefolders"]))
