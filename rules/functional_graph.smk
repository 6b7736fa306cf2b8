rule functional_graph:
    """Distance 1 - |corr| between nodes, cut at max_epsilon: DIPHA's sparse input, in one job (the full matrix
    too with topology.keep_distance_matrix)."""
    input:
        activations="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}activations.npy",
    output:
        **full_distance_matrix("results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance.bin"),
        sparse="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance_sparse.bin",
    log:
        "logs/{run}/trial_{trial}/epoch_{epoch}/{inputs}functional_graph.log",
    wildcard_constraints:
        run=TRAINED_RUN_PATTERN,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=run_option("resources", "graph_mem_mb"),
        runtime=10,
    params:
        max_epsilon=config["topology"]["max_epsilon"],
    script:
        "../scripts/functional_graph.py"


rule sparse_distance:
    """Imported original results: their full distance matrix cut at max_epsilon, as DIPHA's
    full_to_sparse_distance_matrix writes it."""
    input:
        distance="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance.bin",
    output:
        sparse="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance_sparse.bin",
    log:
        "logs/{run}/trial_{trial}/epoch_{epoch}/{inputs}sparse_distance.log",
    wildcard_constraints:
        run=IMPORTED_RUN_PATTERN,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=run_option("resources", "graph_mem_mb"),
        runtime=10,
    params:
        max_epsilon=config["topology"]["max_epsilon"],
    script:
        "../scripts/sparse_distance.py"
