rule train:
    """Train one network on one dataset for one trial; a checkpoint per epoch (0 = initial)."""
    output:
        checkpoints=expand(
            RESULTS + "/{{run}}/trial_{{trial}}/checkpoints/epoch_{epoch}.pt",
            epoch=range(EPOCHS + 1),
        ),
        metrics=RESULTS + "/{run}/trial_{trial}/training.csv",
        labels=RESULTS + "/{run}/trial_{trial}/labels.csv",
    params:
        training=lambda wildcards: RUNS[wildcards.run]["training"],
        network=run_option("run", "network"),
        dataset=run_option("run", "dataset"),
        data=lambda wildcards: RUNS[wildcards.run]["data"],
        state_dir=RESULTS + "/{run}/trial_{trial}/.train_state",
    log:
        LOGS + "/{run}/trial_{trial}/train.log",
    threads: config["training"]["threads"]
    resources:
        mem_mb=lambda wildcards: RUNS[wildcards.run]["resources"]["train_mem_mb"],
        runtime=lambda wildcards: RUNS[wildcards.run]["resources"]["train_runtime"],
    conda:
        ENV
    script:
        "../scripts/train.py"
