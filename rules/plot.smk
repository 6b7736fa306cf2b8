rule plot:
    """Figures of a run (PNG and PDF)."""
    input:
        curves=layout.run_file("betti_curves.csv"),
        summary=layout.run_file("betti_summary.csv"),
        training=layout.run_file("training.csv"),
        diagrams=plotted_diagrams,
    output:
        **{
            f"{plot}_{ext}": (
                report(
                    layout.run_plot(plot, ext),
                    caption=f"../report/{plot}.rst",
                    category=layout.REPORT_CATEGORIES[plot],
                    subcategory="{run}",
                )
                if ext == "png"
                else layout.run_plot(plot, ext)
            )
            for plot in layout.RUN_PLOTS
            for ext in layout.FIGURE_FORMATS
        },
        epochs_html=report(
            layout.run_plot("epochs", "html"),
            caption="../report/epochs.rst",
            category=layout.REPORT_CATEGORIES["training"],
            subcategory="{run}",
        ),
    log:
        layout.run_file("plot.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        max_epsilon=config["topology"]["max_epsilon"],
        epochs=TOPOLOGY_EPOCHS,
        trial=TRIALS[0],
    script:
        "../scripts/plot.py"
