rule activations:
    """Activations of the selected nodes of one epoch's checkpoint on the fixed sample set."""
    input:
        checkpoint=checkpoint_of,
    output:
        activations=layout.epoch_file("activations.npy", inputs=False),
        nodes=layout.epoch_file("nodes.csv", inputs=False),
        samples=layout.epoch_file("samples.csv", inputs=False),
    log:
        layout.epoch_file("activations.log", layout.LOGS, inputs=False),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=run_option("resources", "activations_mem_mb"),
        runtime=10,
    params:
        network=network_params,
        # activations.split train: drawn from the samples trained on (training subset of the trial's seed, less the
        # validation split)
        sample_set=sample_set_params,
        node_selection=run_option("activations", "node_selection"),
    script:
        "../scripts/activations.py"
