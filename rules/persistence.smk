rule persistence:
    """Vietoris-Rips persistence diagram H0..H<max_dim>, in DIPHA's PERSISTENCE_DIAGRAM format."""
    input:
        sparse=EPOCH_DIR + "/distance_sparse.bin",
    output:
        diagram=EPOCH_DIR + "/diagram.bin",
    params:
        upper_dim=MAX_DIM + 1,
        engine=config["topology"]["engine"],
        dipha=config["topology"]["dipha"],
    log:
        LOGS + "/{run}/trial_{trial}/epoch_{epoch}/persistence.log",
    threads: config["topology"]["threads"]
    resources:
        mem_mb=lambda wildcards: RUNS[wildcards.run]["resources"]["persistence_mem_mb"],
        runtime=lambda wildcards: RUNS[wildcards.run]["resources"]["persistence_runtime"],
    conda:
        ENV
    script:
        "../scripts/persistence.py"
