rule aggregate:
    """All trials' and epochs' curves, summaries and training metrics of a run, one table each."""
    input:
        curves=per_epoch("betti_curves.csv"),
        summaries=per_epoch("betti_summary.csv"),
        training=training_logs,
    output:
        curves=layout.run_file("betti_curves.csv"),
        summary=layout.run_file("betti_summary.csv"),
        training=layout.run_file("training.csv"),
    log:
        layout.run_file("aggregate.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../scripts/aggregate.py"
