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


rule generalization_table:
    """One row per (run, trial, epoch) of a study: diagram features, Betti summaries, train/test metrics."""
    input:
        training=study_files(layout.run_file("training.csv")),
        summaries=study_files(layout.run_file("betti_summary.csv")),
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
