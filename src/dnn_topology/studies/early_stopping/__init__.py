"""When to stop training, told by topology alone (issue 23): stopping rules, their study and its figures.

* :mod:`~dnn_topology.studies.early_stopping.rules`              -- the rules and their patience (online and post hoc)
* :mod:`~dnn_topology.studies.early_stopping.neural_persistence` -- neural persistence of the weights (Rieck et al. 2019)
* :mod:`~dnn_topology.studies.early_stopping.monitor`            -- stop/continue from a model and a batch, in a training loop
* :mod:`~dnn_topology.studies.early_stopping.config`             -- the ``early_stopping`` config section (parse-time)
* :mod:`~dnn_topology.studies.early_stopping.study`              -- the study: stopping epochs against the baselines
* :mod:`~dnn_topology.studies.early_stopping.figures`            -- one figure per run

In a training loop::

    from dnn_topology.studies.early_stopping import TopologicalEarlyStopping

    stop = TopologicalEarlyStopping("beta1_peak_density", patience=3)
    for epoch in range(epochs):
        train_one_epoch(model)
        if stop(model, fixed_training_batch):
            break
"""

from ..._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "RULES": "rules",
        "PatienceCounter": "rules",
        "stopping_check": "rules",
        "neural_persistence": "neural_persistence",
        "neural_persistence_stage": "neural_persistence",
        "TopologicalEarlyStopping": "monitor",
        "activation_summary": "monitor",
        "monitored_value": "monitor",
        "early_stopping_stage": "study",
        "early_stopping_figure_stage": "figures",
    },
)
