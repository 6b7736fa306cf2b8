rule train:
    """Train one network on one dataset for one trial; a checkpoint per epoch (0 = initial)."""
    output:
        checkpoints=expand(layout.checkpoint(), epoch=range(EPOCHS + 1), allow_missing=True),
        metrics=layout.trial_file("training.csv"),
        labels=layout.trial_file("labels.csv"),
    log:
        layout.trial_file("train.log", layout.LOGS),
    wildcard_constraints:
        run=TRAINED_RUN_PATTERN,
    conda:
        ENV
    threads: config["training"]["threads"]
    # gpu: GPUs per training job (training.gpus), which the SLURM executor turns into `sbatch --gpus=N`;
    # with the default 0 no GPU resource is declared at all
    resources:
        **({"gpu": config["training"]["gpus"]} if config["training"]["gpus"] > 0 else {}),
        mem_mb=run_option("resources", "train_mem_mb"),
        runtime=run_option("resources", "train_runtime"),
    params:
        training=run_option("training"),
        network=network_params,
        dataset=run_option("run", "dataset"),
        state_dir=layout.train_state(),
    script:
        "../scripts/train.py"
