"""Snakemake script of rules claims_run and claims_comparison (see rules/claims.smk)."""
from dnn_topology.claims import check_claims
from dnn_topology.io_utils import log_to_file

with log_to_file(snakemake.log[0]):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    check_claims(summaries=dict(zip(p.runs, i.summaries)), training=dict(zip(p.runs, i.training)),
                 permute_labels=dict(zip(p.runs, p.permute_labels)), epochs=p.epochs, max_dim=p.max_dim,
                 max_epsilon=p.max_epsilon, claims_csv=o.claims, evidence_csv=o.evidence, figure_png=o.png,
                 figure_pdf=o.pdf, title=p.title)
