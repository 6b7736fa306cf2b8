# Generalization studies (CVPR 2020): estimate a network's test accuracy from the topology of a
# functional graph built from training samples, with grouped cross-validation against baselines.


rule diagram_topology:
    """The topology parameters of a run's diagrams (read by `dnn-topology estimate-test-error`)."""
    input:
        diagrams=per_epoch("diagram.bin"),
    output:
        parameters=layout.run_file("topology.json"),
    log:
        layout.run_file("diagram_topology.log", layout.LOGS),
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
        norms=layout.run_file("weight_norms.csv"),
    log:
        layout.run_file("weight_norms.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=run_option("resources", "train_mem_mb"),
        runtime=10,
    params:
        trial_epochs=checkpoint_trial_epochs,
        network=network_params,
        dataset=run_option("run", "dataset"),
        binarize_class=run_option("training", "binarize_class"),
    script:
        "../scripts/weight_norms.py"


rule generalization_table:
    """One row per (run, trial, epoch) of a study: diagram features, Betti summaries, train/test metrics."""
    input:
        training=study_files(layout.run_file("training.csv")),
        summaries=study_files(layout.run_file("betti_summary.csv")),
        weights=study_files(layout.run_file("weight_norms.csv")),
        diagrams=study_files(layout.epoch_file("diagram.bin", inputs=False)),
        parameters=study_files(layout.run_file("topology.json")),
    output:
        table=layout.study_file("table.csv"),
    log:
        layout.study_file("table.log", layout.LOGS),
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
        table=layout.study_file("table.csv"),
    output:
        predictions=layout.study_file("predictions.csv"),
        metrics=layout.study_file("metrics.csv"),
        differences=layout.study_file("differences.csv"),
        metrics_md=layout.study_file("metrics.md"),
        metrics_html=report(
            layout.study_file("metrics.html"),
            caption="../report/generalization_metrics.rst",
            category=layout.REPORT_CATEGORIES["generalization"],
            subcategory="{study}",
        ),
        model=layout.study_file("model.json"),
    log:
        layout.study_file("fit.log", layout.LOGS),
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
        table=layout.study_file("table.csv"),
        predictions=layout.study_file("predictions.csv"),
        model=layout.study_file("model.json"),
        held_out=held_out_predictions,
    output:
        **{
            f"{figure}_{ext}": (
                report(
                    layout.study_figure(figure, ext),
                    caption=f"../report/{figure}.rst",
                    category=layout.REPORT_CATEGORIES["generalization"],
                    subcategory="{study}",
                )
                if ext == "png"
                else layout.study_figure(figure, ext)
            )
            for figure in layout.STUDY_FIGURES
            for ext in layout.FIGURE_FORMATS
        },
    log:
        layout.study_file("plots.log", layout.LOGS),
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
        table=layout.study_file("table.csv"),
        model=layout.study_file("model.json"),
        training=study_files(layout.run_file("training.csv"), held_out=True),
        summaries=study_files(layout.run_file("betti_summary.csv"), held_out=True),
        weights=study_files(layout.run_file("weight_norms.csv"), held_out=True),
        diagrams=study_files(layout.epoch_file("diagram.bin", inputs=False), held_out=True),
        parameters=study_files(layout.run_file("topology.json"), held_out=True),
    output:
        held_out_table=layout.study_file("held_out_table.csv"),
        predictions=layout.study_file("held_out_predictions.csv"),
        metrics=layout.study_file("held_out_metrics.csv"),
        report=layout.study_file("held_out.md"),
        report_html=report(
            layout.study_file("held_out.html"),
            caption="../report/generalization_held_out.rst",
            category=layout.REPORT_CATEGORIES["generalization"],
            subcategory="{study}",
        ),
    log:
        layout.study_file("held_out.log", layout.LOGS),
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
