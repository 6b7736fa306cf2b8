rule persistence:
    """Vietoris-Rips persistence diagram H0..H<max_dim>, in DIPHA's PERSISTENCE_DIAGRAM format."""
    input:
        sparse="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance_sparse.bin",
    output:
        diagram="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}diagram.bin",
    log:
        "logs/{run}/trial_{trial}/epoch_{epoch}/{inputs}persistence.log",
    conda:
        ENV
    threads: config["topology"]["threads"]
    resources:
        mem_mb=run_option("resources", "persistence_mem_mb"),
        runtime=run_option("resources", "persistence_runtime"),
    params:
        upper_dim=MAX_DIM + 1,
        engine=ENGINE,
        engine_options=ENGINE_OPTIONS,
    script:
        "../scripts/persistence.py"
