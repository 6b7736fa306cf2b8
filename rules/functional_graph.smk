rule functional_graph:
    """Distance 1 - |corr| between nodes, cut at max_epsilon: DIPHA's sparse input, in one job (the full matrix
    too with topology.keep_distance_matrix)."""
    input:
        activations=layout.epoch_file("activations.npy"),
    output:
        **full_distance_matrix(layout.epoch_file("distance.bin")),
        sparse=layout.epoch_file("distance_sparse.bin"),
    log:
        layout.epoch_file("functional_graph.log", layout.LOGS),
    wildcard_constraints:
        run=NETWORK_RUN_PATTERN,
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
        distance=layout.epoch_file("distance.bin"),
    output:
        sparse=layout.epoch_file("distance_sparse.bin"),
    log:
        layout.epoch_file("sparse_distance.log", layout.LOGS),
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
