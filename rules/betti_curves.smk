rule betti_curves:
    """Betti curves against epsilon, |corr| threshold and edge density, and their summaries."""
    input:
        diagram=layout.epoch_file("diagram.bin"),
        sparse=layout.epoch_file("distance_sparse.bin"),
    output:
        curves=layout.epoch_file("betti_curves.csv"),
        summary=layout.epoch_file("betti_summary.csv"),
    log:
        layout.epoch_file("betti_curves.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        max_dim=MAX_DIM,
        max_epsilon=config["topology"]["max_epsilon"],
        n_points=config["betti_curves"]["n_points"],
    script:
        "../scripts/betti_curves.py"
