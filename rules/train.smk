rule train:
    """Train one network on one dataset for one trial; a checkpoint per epoch (0 = initial)."""
    output:
        checkpoints=expand(
            "results/{{run}}/trial_{{trial}}/checkpoints/epoch_{epoch}.pt",
            epoch=range(EPOCHS + 1),
        ),
        metrics="results/{run}/trial_{trial}/training.csv",
        labels="results/{run}/trial_{trial}/labels.csv",
    log:
        "logs/{run}/trial_{trial}/train.log",
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
        network=run_option("run", "network"),
        dataset=run_option("run", "dataset"),
        state_dir="results/{run}/trial_{trial}/.train_state",
    script:
        "../scripts/train.py"
