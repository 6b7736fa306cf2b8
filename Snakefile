# dnn-topology: how a deep network learns, seen through the topology of its activations
# (Corneanu et al., CVPR 2019 / 2020). See README.md.

import os
import sys

from snakemake.utils import min_version

min_version("8.0")

# the workflow and its scripts use the dnn_topology package of this checkout (also inside conda envs)
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from dnn_topology.workflow.config import read_config_file

# the embedded default, unless a study's own file is given with --configfile (no silent merging)
if not workflow.overwrite_configfiles:
    # read first: a YAML syntax error is then named with its file and line (Snakemake's message names neither)
    read_config_file(os.path.join(workflow.basedir, "config", "config.yaml"))

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/activations.smk"
include: "rules/functional_graph.smk"
include: "rules/persistence.smk"
include: "rules/betti_curves.smk"
include: "rules/aggregate.smk"
include: "rules/plot.smk"
include: "rules/compare.smk"
include: "rules/adversarial.smk"
include: "rules/claims.smk"
include: "rules/generalization.smk"
include: "rules/early_stopping.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# see dnn_topology.workflow.snakemake_compat: the run ends with its last job, and a failed job is retried
onsuccess:
    snakemake_compat.cancel_rate_limiter_timers()
    say_where_the_figures_are()


onerror:
    snakemake_compat.forget_failed_jobs(workflow)
    snakemake_compat.cancel_rate_limiter_timers()
