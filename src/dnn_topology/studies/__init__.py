"""Studies built on a run's topology: its tables, the papers' claims, adversarial inputs, test error.

* :mod:`~dnn_topology.studies.aggregate`      -- per-run tables (Betti curves, summaries, training)
* :mod:`~dnn_topology.studies.claims`         -- the 2019 paper's claims checked on a run or a comparison
* :mod:`~dnn_topology.studies.adversarial`    -- attacks, the adversarial detector and their figures
* :mod:`~dnn_topology.studies.generalization` -- test accuracy without a test set (CVPR 2020) and its figures
* :mod:`~dnn_topology.studies.early_stopping` -- when to stop training, told by topology alone, against the baselines
* :mod:`~dnn_topology.studies.study_runs`     -- configuration checks shared by the studies of several runs
"""

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "aggregate_stage": "aggregate",
        "claims_tables": "claims",
        "claims_stage": "claims",
    },
)
