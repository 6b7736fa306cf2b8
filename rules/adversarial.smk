# Adversarial inputs (issue 13): attacked copies of the fixed samples go through the same per-epoch stages
# (functional_graph, persistence, betti_curves) under epoch_<E>/<attack id>/; a batch-level
# detector compares the topology of clean and attacked batches with non-topological baselines.


rule attack:
    """FGSM/PGD on the fixed samples of one epoch's checkpoint: attack record and the attacked samples' activations."""
    input:
        checkpoint=checkpoint_of,
    output:
        activations=layout.attack_file("activations.npy"),
        nodes=layout.attack_file("nodes.csv"),
        record=layout.attack_file("attack.csv"),
        inputs=layout.attack_file("inputs.npy"),
    log:
        layout.attack_file("attack.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=run_option("resources", "activations_mem_mb"),
        runtime=15,
    params:
        network=network_params,
        sample_set=sample_set_params,
        node_selection=run_option("activations", "node_selection"),
        attack_spec=attack_spec,
    script:
        "../scripts/attack.py"


rule detection_features:
    """Per-batch topological and baseline features of one half of the detection pool (clean or attacked)."""
    input:
        checkpoint=checkpoint_of,
    output:
        features=layout.epoch_file("detection_features.csv"),
    log:
        layout.epoch_file("detection_features.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        network=network_params,
        sample_set=detection_pool_params,
        attack_spec=attack_spec,
        detection=DETECTION,
    script:
        "../scripts/detection_features.py"


rule adversarial_aggregate:
    """Betti curves and summaries of clean and attacked inputs, and the attack records, one table each."""
    input:
        curves=per_attacked_epoch("betti_curves.csv"),
        summaries=per_attacked_epoch("betti_summary.csv"),
        records=per_attacked_epoch("attack.csv", clean=False),
    output:
        curves=layout.adversarial_file("betti_curves.csv"),
        summary=layout.adversarial_file("betti_summary.csv"),
        records=layout.adversarial_file("attacks.csv"),
    log:
        layout.adversarial_file("aggregate.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        attacks={a: spec.to_dict() for a, spec in ATTACKS.items()},
    script:
        "../scripts/adversarial_aggregate.py"


rule detection:
    """Cross-validated ROC AUC of the logistic-regression detector per trial, epoch, attack and feature set."""
    input:
        clean=per_attacked_epoch("detection_features.csv", attacked=False),
        attacked=per_attacked_epoch("detection_features.csv", clean=False),
    output:
        table=layout.adversarial_file("detection.csv"),
    log:
        layout.adversarial_file("detection.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        attacks={a: spec.to_dict() for a, spec in ATTACKS.items()},
        detection=DETECTION,
    script:
        "../scripts/detection.py"


rule adversarial_plot:
    """Figures of the adversarial study of a run (PNG and PDF)."""
    input:
        curves=layout.adversarial_file("betti_curves.csv"),
        summary=layout.adversarial_file("betti_summary.csv"),
        records=layout.adversarial_file("attacks.csv"),
        detection=[layout.adversarial_file("detection.csv")] if DETECTION["enabled"] else [],
    output:
        **{
            f"{plot}_{ext}": (
                report(
                    layout.adversarial_plot(plot, ext),
                    caption=f"../report/adversarial_{plot}.rst",
                    category=layout.REPORT_CATEGORIES["adversarial"],
                    subcategory="{run}",
                )
                if ext == "png"
                else layout.adversarial_plot(plot, ext)
            )
            for plot in ADV_PLOTS
            for ext in layout.FIGURE_FORMATS
        },
        tables_html=report(
            layout.adversarial_file("tables.html"),
            caption="../report/adversarial_tables.rst",
            category=layout.REPORT_CATEGORIES["adversarial"],
            subcategory="{run}",
        ),
    log:
        layout.adversarial_file("plot.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../scripts/adversarial_plot.py"
