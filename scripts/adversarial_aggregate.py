"""Snakemake script of rule adversarial_aggregate (see rules/adversarial.smk)."""
from dnn_topology.aggregate import aggregate_adversarial
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    aggregate_adversarial(run=snakemake.wildcards.run, attacks=snakemake.params.attacks, curve_paths=i.curves,
                          summary_paths=i.summaries, record_paths=i.records, out_curves=o.curves,
                          out_summary=o.summary, out_records=o.records)
