"""Snakemake script of rule generalization_fit (see rules/generalization.smk)."""
from dnn_topology.generalization import run_study
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    o, study = snakemake.output, snakemake.params.study
    run_study(snakemake.input.table, snakemake.wildcards.study, study["features"], study["topology"], o.predictions,
              o.metrics, o.model, o.metrics_md, n_bootstrap=study["bootstrap"], seed=study["seed"])
