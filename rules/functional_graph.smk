rule functional_graph:
    """Distance 1 - |corr| between nodes, as a DIPHA DISTANCE_MATRIX (the full DIPHA input; temp() by default)."""
    input:
        activations="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}activations.npy",
    output:
        distance=full_distance_matrix("results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance.bin"),
    log:
        "logs/{run}/trial_{trial}/epoch_{epoch}/{inputs}functional_graph.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=run_option("resources", "graph_mem_mb"),
        runtime=10,
    script:
        "../scripts/functional_graph.py"


rule sparse_distance:
    """The distance matrix cut at max_epsilon, as DIPHA's full_to_sparse_distance_matrix writes it."""
    input:
        distance="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance.bin",
    output:
        sparse="results/{run}/trial_{trial}/epoch_{epoch}/{inputs}distance_sparse.bin",
    log:
        "logs/{run}/trial_{trial}/epoch_{epoch}/{inputs}sparse_distance.log",
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
