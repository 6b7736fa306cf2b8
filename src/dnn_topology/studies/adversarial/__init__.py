"""Adversarial inputs (CVPR 2019's title): attacks in pixel units, the detector and the study's figures.

* :mod:`~dnn_topology.studies.adversarial.config`    -- attack ids and the ``adversarial`` config section (parse-time)
* :mod:`~dnn_topology.studies.adversarial.attacks`   -- FGSM/PGD attacks against a checkpoint, and the attack record
* :mod:`~dnn_topology.studies.adversarial.detection` -- batch-level detection of adversarial inputs, cross-validated
* :mod:`~dnn_topology.studies.adversarial.evaluation` -- AUC, detection rate, grouped folds, bootstrap, permutation tests
* :mod:`~dnn_topology.studies.adversarial.topological_uncertainty` -- Topological Uncertainty (Lacombe et al. 2021)
* :mod:`~dnn_topology.studies.adversarial.per_sample_graph` -- the original's per-sample graph, done correctly
* :mod:`~dnn_topology.studies.adversarial.baselines` -- max softmax, entropy, Mahalanobis, LID
* :mod:`~dnn_topology.studies.adversarial.per_input` -- per-input detection: features, protocol, detector files
* :mod:`~dnn_topology.studies.adversarial.adaptive` -- adaptive PGD against the differentiable detectors
* :mod:`~dnn_topology.studies.adversarial.figures`   -- figures of the adversarial study
"""

from ..._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "AttackSpec": "config",
        "attack_table": "config",
        "attack": "attacks",
        "attack_stage": "attacks",
        "detection_stage": "detection",
        "detect_one": "per_input",
        "per_input_detection_stage": "per_input",
        "adversarial_plot_stage": "figures",
    },
)
