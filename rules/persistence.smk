rule persistence:
    """Vietoris-Rips persistence diagram H0..H<max_dim>, in DIPHA's PERSISTENCE_DIAGRAM format."""
    input:
        sparse="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance_sparse.bin",
    output:
        diagram="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}diagram.bin",
    params:
        upper_dim=MAX_DIM + 1,
        engine=ENGINE,
        engine_options=ENGINE_OPTIONS,
    log:
        "logs/{run}/trial_{trial}/epoch_{epoch}/{inputs}persistence.log",
    threads: config["topology"]["threads"]
    resources:
        mem_mb=run_option("resources", "persistence_mem_mb"),
        runtime=run_option("resources", "persistence_runtime"),
    conda:
        ENV
    script:
        "../scripts/persistence.py"
