rule plot:
    """Figures of a run (PNG and PDF)."""
    input:
        curves="results/{run}/betti_curves.csv",
        summary="results/{run}/betti_summary.csv",
        training="results/{run}/training.csv",
        diagrams=plotted_diagrams,
    output:
        **{
            f"{plot}_{ext}": (
                report(
                    f"results/{{run}}/plots/{plot}.{ext}",
                    caption=f"../report/{plot}.rst",
                    category=REPORT_CATEGORIES[plot],
                    subcategory="{run}",
                )
                if ext == "png"
                else f"results/{{run}}/plots/{plot}.{ext}"
            )
            for plot in PLOTS
            for ext in ("png", "pdf")
        },
        epochs_html=report(
            "results/{run}/plots/epochs.html",
            caption="../report/epochs.rst",
            category=REPORT_CATEGORIES["training"],
            subcategory="{run}",
        ),
    log:
        "logs/{run}/plot.log",
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
