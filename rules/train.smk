rule train:
    """Train one network on one dataset for one trial; a checkpoint per epoch (0 = initial)."""
    output:
        checkpoints=expand(
            "results/{{run}}/trial_{{trial}}/checkpoints/epoch_{epoch}.pt",
            epoch=range(EPOCHS + 1),
        ),
        metrics="results/{run}/trial_{trial}/training.csv",
        labels="results/{run}/trial_{trial}/labels.csv",
    params:
        training=run_option("training"),
        network=run_option("run", "network"),
        dataset=run_option("run", "dataset"),
        state_dir="results/{run}/trial_{trial}/.train_state",
    log:
        "logs/{run}/trial_{trial}/train.log",
    threads: config["training"]["threads"]
    # gpu: GPUs per training job (training.gpus), which the SLURM executor turns into `sbatch --gpus=N`;
    # with the default 0 no GPU resource is declared at all
    resources:
        mem_mb=run_option("resources", "train_mem_mb"),
        runtime=run_option("resources", "train_runtime"),
        **({"gpu": config["training"]["gpus"]} if config["training"]["gpus"] > 0 else {}),
    conda:
        ENV
    script:
        "../scripts/train.py"
