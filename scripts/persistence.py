"""Snakemake script of rule persistence (see rules/persistence.smk)."""

from pathlib import Path

from dnn_topology.io_utils import log_to_file
from dnn_topology.topology.persistence import persistence_stage

with log_to_file(snakemake.log[0]):
    persistence_stage(
        distance=snakemake.input.sparse,
        diagram=snakemake.output.diagram,
        upper_dim=snakemake.params.upper_dim,
        engine=snakemake.params.engine,
        threads=snakemake.threads,
        engine_options=snakemake.params.engine_options,
        # engine dipha: dipha/build/dipha of this checkout, then of the working directory
        search_dirs=[Path(snakemake.scriptdir).parent],
    )
