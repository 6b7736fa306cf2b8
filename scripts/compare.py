"""Snakemake script of rule compare (see rules/compare.smk)."""
from dnn_topology.io_utils import log_to_file
from dnn_topology.plots import plot_comparison_files

with log_to_file(snakemake.log[0]):
    o = snakemake.output
    plot_comparison_files(snakemake.wildcards.comparison, dict(zip(snakemake.params.runs, snakemake.input.curves)),
                          snakemake.params.epochs, {"density_png": o.density, "density_pdf": o.density_pdf,
                                                    "epsilon_png": o.epsilon, "epsilon_pdf": o.epsilon_pdf})
