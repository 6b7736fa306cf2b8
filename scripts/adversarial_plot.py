"""Snakemake script of rule adversarial_plot (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.studies.adversarial.figures import adversarial_plot_stage

with log_to_file(snakemake.log[0]):
    adversarial_plot_stage(
        run=snakemake.wildcards.run,
        curves_csv=snakemake.input.curves,
        summary_csv=snakemake.input.summary,
        records_csv=snakemake.input.records,
        detection_csv=snakemake.input.detection[0] if snakemake.input.detection else None,
        outputs=dict(snakemake.output.items()),
    )
