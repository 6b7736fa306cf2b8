rule aggregate:
    """All trials' and epochs' curves, summaries and training metrics of a run, one table each."""
    input:
        curves=per_epoch("betti_curves.csv"),
        summaries=per_epoch("betti_summary.csv"),
        training=expand(RESULTS + "/{{run}}/trial_{trial}/training.csv", trial=TRIALS),
    output:
        curves=RESULTS + "/{run}/betti_curves.csv",
        summary=RESULTS + "/{run}/betti_summary.csv",
        training=RESULTS + "/{run}/training.csv",
    log:
        LOGS + "/{run}/aggregate.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/aggregate.py"


rule plot:
    """Figures of a run (PNG and PDF)."""
    input:
        curves=RESULTS + "/{run}/betti_curves.csv",
        summary=RESULTS + "/{run}/betti_summary.csv",
        training=RESULTS + "/{run}/training.csv",
        diagrams=lambda wildcards: expand(
            RESULTS + "/{run}/trial_{trial}/epoch_{epoch}/diagram.bin",
            run=wildcards.run,
            trial=TRIALS[0],
            epoch=TOPOLOGY_EPOCHS,
        ),
    output:
        **{
            f"{plot}_{ext}": report(
                RESULTS + f"/{{run}}/plots/{plot}.{ext}",
                caption=f"../report/{plot}.rst",
                category="{run}",
            )
            if ext == "png"
            else RESULTS + f"/{{run}}/plots/{plot}.{ext}"
            for plot in PLOTS
            for ext in ("png", "pdf")
        },
    params:
        max_epsilon=config["topology"]["max_epsilon"],
        epochs=TOPOLOGY_EPOCHS,
    log:
        LOGS + "/{run}/plot.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/plot.py"
