"""Test accuracy without a test set (Corneanu et al., CVPR 2020): the study, its model and figures.

* :mod:`~dnn_topology.studies.generalization.config`   -- the ``generalization`` config section (parse-time)
* :mod:`~dnn_topology.studies.generalization.model`    -- study table, grouped cross-validation, the fitted model
* :mod:`~dnn_topology.studies.generalization.weights`  -- L2 norm of the weights (the norm-based baseline)
* :mod:`~dnn_topology.studies.generalization.held_out` -- the fitted model and the baselines on held-out runs
* :mod:`~dnn_topology.studies.generalization.estimate` -- one network's test accuracy from a fitted model
* :mod:`~dnn_topology.studies.generalization.figures`  -- figures of the study
"""

from ..._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "fit_model": "model",
        "read_model": "model",
        "generalization_table_stage": "model",
        "generalization_fit_stage": "model",
        "generalization_held_out_stage": "held_out",
        "weight_norms_stage": "weights",
        "generalization_plots_stage": "figures",
    },
)
