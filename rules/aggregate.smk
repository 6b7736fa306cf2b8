rule aggregate:
    """All trials' and epochs' curves, summaries and training metrics of a run, one table each."""
    input:
        curves=per_epoch("betti_curves.csv"),
        summaries=per_epoch("betti_summary.csv"),
        training=expand("results/{{run}}/trial_{trial}/training.csv", trial=TRIALS),
    output:
        curves="results/{run}/betti_curves.csv",
        summary="results/{run}/betti_summary.csv",
        training="results/{run}/training.csv",
    log:
        "logs/{run}/aggregate.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../scripts/aggregate.py"
