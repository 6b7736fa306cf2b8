# Generalization studies (CVPR 2020): estimate a network's test accuracy from the topology of a
# functional graph built from training samples, with grouped cross-validation against baselines.


rule diagram_topology:
    """The topology parameters of a run's diagrams (read by `dnn-topology estimate-test-error`)."""
    input:
        diagrams=per_epoch("diagram.bin"),
    output:
        parameters="results/{run}/topology.json",
    log:
        "logs/{run}/diagram_topology.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        activations=run_option("activations"),
        topology=config["topology"],
    script:
        "../scripts/diagram_topology.py"


rule generalization_table:
    """One row per (run, trial, epoch) of a study: diagram features, Betti summaries, train/test metrics."""
    input:
        training=study_files("training.csv"),
        summaries=study_files("betti_summary.csv"),
        diagrams=study_files("trial_{trial}/epoch_{epoch}/diagram.bin"),
        parameters=study_files("topology.json"),
    output:
        table="results/generalization/{study}/table.csv",
    log:
        "logs/generalization/{study}/table.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        runs=study_option("run_table"),
        max_dim=MAX_DIM,
        min_persistence=study_option("min_persistence"),
    script:
        "../scripts/generalization_table.py"


rule generalization_fit:
    """Grouped cross-validation of the topology model and the baselines; the model fitted on all rows."""
    input:
        table="results/generalization/{study}/table.csv",
    output:
        predictions="results/generalization/{study}/predictions.csv",
        metrics="results/generalization/{study}/metrics.csv",
        metrics_md="results/generalization/{study}/metrics.md",
        metrics_html=report(
            "results/generalization/{study}/metrics.html",
            caption="../report/generalization_metrics.rst",
            category=REPORT_CATEGORIES["generalization"],
            subcategory="{study}",
        ),
        model="results/generalization/{study}/model.json",
    log:
        "logs/generalization/{study}/fit.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        features=study_option("features"),
        topology=study_option("topology"),
        bootstrap=study_option("bootstrap"),
        seed=study_option("seed"),
    script:
        "../scripts/generalization_fit.py"


rule generalization_plots:
    """Figures of a study: gap vs features with the fit, estimated vs true test accuracy, runs over epochs."""
    input:
        table="results/generalization/{study}/table.csv",
        predictions="results/generalization/{study}/predictions.csv",
        model="results/generalization/{study}/model.json",
    output:
        **{
            f"{figure}_{ext}": (
                report(
                    f"results/generalization/{{study}}/figures/{figure}.{ext}",
                    caption=f"../report/{figure}.rst",
                    category=REPORT_CATEGORIES["generalization"],
                    subcategory="{study}",
                )
                if ext == "png"
                else f"results/generalization/{{study}}/figures/{figure}.{ext}"
            )
            for figure in STUDY_FIGURES
            for ext in ("png", "pdf")
        },
    log:
        "logs/generalization/{study}/plots.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../scripts/generalization_plots.py"
