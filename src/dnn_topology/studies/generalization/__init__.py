"""Test accuracy without a test set (Corneanu et al., CVPR 2020): the study, its model and figures.

* :mod:`~dnn_topology.studies.generalization.config`   -- the ``generalization`` config section (parse-time)
* :mod:`~dnn_topology.studies.generalization.model`    -- study table, grouped cross-validation, the fitted model
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
        "generalization_plots_stage": "figures",
    },
)
