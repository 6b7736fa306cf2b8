"""What the Snakemake workflow needs while it parses: configuration checks and resource requests.

* :mod:`~dnn_topology.workflow.config`    -- reading and checking the configuration, the per-run option table
* :mod:`~dnn_topology.workflow.resources` -- the resource requests (threads, memory, runtime) of each job
* :mod:`~dnn_topology.workflow.snakemake_compat` -- the Snakefile's hooks into Snakemake's private objects,
  each checked against the installed Snakemake (imported by the Snakefile only: it imports Snakemake)
* :mod:`~dnn_topology.workflow.finish`    -- what a finished run says: where its figures are

Parse-time modules import no torch, pandas or matplotlib (every ``snakemake`` call, and every
cluster job, parses the workflow): checked by import-linter (``make lint``) and ``tests/test_parse.py``.
"""

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "ConfigError": "config",
        "read_config_file": "config",
        "check_config": "config",
        "run_table": "config",
        "resources": "resources",
        "finish_message": "finish",
    },
)
