"""Adversarial inputs (CVPR 2019's title): attacks in pixel units, the detector and the study's figures.

* :mod:`~dnn_topology.studies.adversarial.config`    -- attack ids and the ``adversarial`` config section (parse-time)
* :mod:`~dnn_topology.studies.adversarial.attacks`   -- FGSM/PGD attacks against a checkpoint, and the attack record
* :mod:`~dnn_topology.studies.adversarial.detection` -- batch-level detection of adversarial inputs, cross-validated
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
        "adversarial_plot_stage": "figures",
    },
)
