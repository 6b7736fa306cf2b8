rule evaluate:
    """Checkpoints trained elsewhere: train and test loss and accuracy of one epoch's checkpoint (as training.csv)."""
    input:
        checkpoint=checkpoint_of,
    output:
        evaluation=layout.epoch_file("evaluation.csv", inputs=False),
    log:
        layout.epoch_file("evaluate.log", layout.LOGS, inputs=False),
    wildcard_constraints:
        run=CHECKPOINT_RUN_PATTERN,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=run_option("resources", "train_mem_mb"),
        runtime=run_option("resources", "evaluate_runtime"),
    params:
        network=network_params,
        sample_set=sample_set_params,
    script:
        "../scripts/evaluate.py"
