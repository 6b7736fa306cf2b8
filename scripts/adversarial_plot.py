"""Snakemake script of rule adversarial_plot (see rules/adversarial.smk)."""
from dnn_topology.adversarial_plots import plot_adversarial
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    i = snakemake.input
    plot_adversarial(run=snakemake.wildcards.run, curves_csv=i.curves, summary_csv=i.summary, records_csv=i.records,
                     detection_csv=i.detection[0] if i.detection else None, outputs=dict(snakemake.output.items()))
