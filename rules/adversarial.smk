# Adversarial inputs (issue 13): attacked copies of the fixed samples go through the same per-epoch stages
# (functional_graph, persistence, betti_curves) under epoch_<E>/<attack id>/; a batch-level
# detector compares the topology of clean and attacked batches with non-topological baselines.


rule attack:
    """FGSM/PGD on the fixed samples of one epoch's checkpoint: attack record and the attacked samples' activations."""
    input:
        checkpoint=checkpoint_of,
    output:
        activations="results/{run}/trial_{trial}/epoch_{epoch}/{attack}/activations.npy",
        nodes="results/{run}/trial_{trial}/epoch_{epoch}/{attack}/nodes.csv",
        record="results/{run}/trial_{trial}/epoch_{epoch}/{attack}/attack.csv",
        inputs="results/{run}/trial_{trial}/epoch_{epoch}/{attack}/inputs.npy",
    log:
        "logs/{run}/trial_{trial}/epoch_{epoch}/{attack}/attack.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=run_option("resources", "activations_mem_mb"),
        runtime=15,
    params:
        network=run_option("run", "network"),
        dataset=run_option("run", "dataset"),
        attack_spec=attack_spec,
        options=run_option("activations"),
        binarize_class=run_option("training", "binarize_class"),
        subset=run_option("training", "subset"),
        seed=run_option("training", "seed"),
    script:
        "../scripts/attack.py"


rule detection_features:
    """Per-batch topological and baseline features of one half of the detection pool (clean or attacked)."""
    input:
        checkpoint=checkpoint_of,
    output:
        features="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}detection_features.csv",
    log:
        "logs/{run}/trial_{trial}/epoch_{epoch}/{inputs}detection_features.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        network=run_option("run", "network"),
        dataset=run_option("run", "dataset"),
        attack_spec=attack_spec,
        detection=DETECTION,
        binarize_class=run_option("training", "binarize_class"),
    script:
        "../scripts/detection_features.py"


rule adversarial_aggregate:
    """Betti curves and summaries of clean and attacked inputs, and the attack records, one table each."""
    input:
        curves=per_attacked_epoch("betti_curves.csv"),
        summaries=per_attacked_epoch("betti_summary.csv"),
        records=per_attacked_epoch("attack.csv", clean=False),
    output:
        curves="results/{run}/adversarial/betti_curves.csv",
        summary="results/{run}/adversarial/betti_summary.csv",
        records="results/{run}/adversarial/attacks.csv",
    log:
        "logs/{run}/adversarial/aggregate.log",
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
        table="results/{run}/adversarial/detection.csv",
    log:
        "logs/{run}/adversarial/detection.log",
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
        curves="results/{run}/adversarial/betti_curves.csv",
        summary="results/{run}/adversarial/betti_summary.csv",
        records="results/{run}/adversarial/attacks.csv",
        detection=["results/{run}/adversarial/detection.csv"] if DETECTION["enabled"] else [],
    output:
        **{
            f"{plot}_{ext}": (
                report(
                    f"results/{{run}}/adversarial/plots/{plot}.{ext}",
                    caption=f"../report/adversarial_{plot}.rst",
                    category=REPORT_CATEGORIES["adversarial"],
                    subcategory="{run}",
                )
                if ext == "png"
                else f"results/{{run}}/adversarial/plots/{plot}.{ext}"
            )
            for plot in ADV_PLOTS
            for ext in ("png", "pdf")
        },
        tables_html=report(
            "results/{run}/adversarial/tables.html",
            caption="../report/adversarial_tables.rst",
            category=REPORT_CATEGORIES["adversarial"],
            subcategory="{run}",
        ),
    log:
        "logs/{run}/adversarial/plot.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../scripts/adversarial_plot.py"
