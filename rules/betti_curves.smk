rule betti_curves:
    """Betti curves against epsilon, |corr| threshold and edge density, and their summaries."""
    input:
        diagram="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}diagram.bin",
        sparse="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance_sparse.bin",
    output:
        curves="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}betti_curves.csv",
        summary="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}betti_summary.csv",
    log:
        "logs/{run}/trial_{trial}/epoch_{epoch}/{inputs}betti_curves.log",
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
