"""Snakemake script of rule persistence (see rules/persistence.smk)."""
import time
from pathlib import Path

from dnn_topology.io_utils import log_to_file
from dnn_topology.persistence import compute_persistence_file

with log_to_file(snakemake.log[0]) as log:
    p = snakemake.params
    options = dict(p.engine_options)
    if p.engine == "dipha":  # default lookup dipha/build/dipha: in this checkout, then the working directory
        options["search_dirs"] = [Path(snakemake.scriptdir).parent]
    start = time.perf_counter()
    diagram = compute_persistence_file(snakemake.input.sparse, snakemake.output.diagram, p.upper_dim,
                                       engine=p.engine, n_threads=snakemake.threads, **options)
    log.info("engine %s, %d threads, %.2f s: %s", p.engine, snakemake.threads, time.perf_counter() - start,
             diagram.summary())
