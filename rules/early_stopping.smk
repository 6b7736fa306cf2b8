# Early stopping (issue 23): when to stop training, told by the topology of training samples or by the weights
# alone, against validation-loss early stopping and training to the last epoch. Computed post hoc from every
# check epoch's results (the DAG stays static); see docs/studies/early_stopping.md.


rule neural_persistence:
    """Neural persistence (Rieck et al. 2019) of every epoch's weights of one trial: weights only, no sample."""
    input:
        checkpoints=expand(layout.checkpoint(), epoch=range(EPOCHS + 1), allow_missing=True),
    output:
        table=layout.trial_file("neural_persistence.csv"),
    log:
        layout.trial_file("neural_persistence.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/neural_persistence.py"


rule early_stopping:
    """Every stopping rule's stopping epoch per run and trial, the baselines, the summary over trials."""
    input:
        training=stopping_study_files(layout.run_file("training.csv")),
        summaries=stopping_study_files(layout.run_file("betti_summary.csv")),
        persistence=stopping_study_files(layout.trial_file("neural_persistence.csv")),
        labels=stopping_study_files(layout.trial_file("labels.csv")),
        samples=stopping_study_files(layout.epoch_file("samples.csv", inputs=False), reads_samples=True),
    output:
        series=layout.stopping_file("series.csv"),
        stops=layout.stopping_file("stops.csv"),
        summary=layout.stopping_file("summary.csv"),
        differences=layout.stopping_file("differences.csv"),
        summary_md=layout.stopping_file("summary.md"),
        sweep=layout.stopping_file("patience_sweep.csv"),
    log:
        layout.stopping_file("early_stopping.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        runs=stopping_study_option("run_table"),
        epochs=stopping_study_option("epochs"),
        rules=stopping_study_option("rules"),
        patience=stopping_study_option("patience"),
        min_delta=stopping_study_option("min_delta"),
        patience_candidates=stopping_study_option("patience_candidates"),
        last_epoch=stopping_study_option("last_epoch"),
        confidence=stopping_study_option("confidence"),
    script:
        "../scripts/early_stopping.py"


rule early_stopping_figure:
    """One run of a study: test accuracy over epochs with each rule's stopping epoch marked."""
    input:
        series=layout.stopping_file("series.csv"),
        stops=layout.stopping_file("stops.csv"),
    output:
        png=report(
            layout.stopping_figure("png"),
            caption="../report/early_stopping.rst",
            category="early stopping {stopping_study}",
        ),
        pdf=layout.stopping_figure("pdf"),
    log:
        layout.stopping_file("figure_{run}.log", layout.LOGS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../scripts/early_stopping_figure.py"
