rule persistence:
    """Vietoris-Rips persistence diagram H0..H<max_dim>, in DIPHA's PERSISTENCE_DIAGRAM format."""
    input:
        sparse=layout.epoch_file("distance_sparse.bin"),
    output:
        diagram=layout.epoch_file("diagram.bin"),
    log:
        layout.epoch_file("persistence.log", layout.LOGS),
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
