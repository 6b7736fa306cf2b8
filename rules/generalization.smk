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


rule weight_norms:
    """The L2 norm of the weights of a run's analysed checkpoints (the norm-based baseline of the studies)."""
    input:
        checkpoints=per_epoch_checkpoints,
    output:
        norms="results/{run}/weight_norms.csv",
    log:
        "logs/{run}/weight_norms.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=run_option("resources", "train_mem_mb"),
        runtime=10,
    params:
        network=run_option("run", "network"),
        dataset=run_option("run", "dataset"),
        binarize_class=run_option("training", "binarize_class"),
    script:
        "../scripts/weight_norms.py"


rule generalization_table:
    """One row per (run, trial, epoch) of a study: diagram features, Betti summaries, train/test metrics."""
    input:
        training=study_files("training.csv"),
        summaries=study_files("betti_summary.csv"),
        weights=study_files("weight_norms.csv"),
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
        differences="results/generalization/{study}/differences.csv",
        metrics_md="results/generalization/{study}/metrics.md",
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
        held_out=held_out_predictions,
    output:
        **{
            f"{figure}_{ext}": (
                report(
                    f"results/generalization/{{study}}/figures/{figure}.{ext}",
                    caption=f"../report/{figure}.rst",
                    category="generalization {study}",
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


rule generalization_held_out:
    """The fitted model (through `dnn-topology estimate-test-error`) and the baselines on the held-out runs."""
    input:
        table="results/generalization/{study}/table.csv",
        model="results/generalization/{study}/model.json",
        training=study_files("training.csv", held_out=True),
        summaries=study_files("betti_summary.csv", held_out=True),
        weights=study_files("weight_norms.csv", held_out=True),
        diagrams=study_files("trial_{trial}/epoch_{epoch}/diagram.bin", held_out=True),
        parameters=study_files("topology.json", held_out=True),
    output:
        held_out_table="results/generalization/{study}/held_out_table.csv",
        predictions="results/generalization/{study}/held_out_predictions.csv",
        metrics="results/generalization/{study}/held_out_metrics.csv",
        report="results/generalization/{study}/held_out.md",
    log:
        "logs/generalization/{study}/held_out.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        held_out=study_option("held_out_table"),
        max_dim=MAX_DIM,
        min_persistence=study_option("min_persistence"),
        bootstrap=study_option("bootstrap"),
        seed=study_option("seed"),
    script:
        "../scripts/generalization_held_out.py"
