rule claims:
    """The paper's claims checked on one run: verdicts, the numbers behind them, and a figure."""
    input:
        summaries=["results/{run}/betti_summary.csv"],  # lists, like a comparison's
        training=["results/{run}/training.csv"],
    output:
        claims="results/{run}/claims.csv",
        replicates="results/{run}/claims_replicates.csv",
        evidence="results/{run}/claims_evidence.csv",
        markdown="results/{run}/claims.md",
        html=report(
            "results/{run}/claims.html",
            caption="../report/claims_table.rst",
            category=REPORT_CATEGORIES["claims"],
            subcategory="{run}",
        ),
        png=report(
            "results/{run}/plots/claims.png",
            caption="../report/claims.rst",
            category=REPORT_CATEGORIES["claims"],
            subcategory="{run}",
        ),
        pdf="results/{run}/plots/claims.pdf",
    log:
        "logs/{run}/claims.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        runs=this_run,
        permute_labels=labels_permuted(this_run),
        epochs=TOPOLOGY_EPOCHS,
        max_dim=MAX_DIM,
        max_epsilon=config["topology"]["max_epsilon"],
        title="{run}",
    script:
        "../scripts/claims.py"


rule claims_comparison:
    """The paper's claims checked on the runs of a comparison, learning vs memorizing included."""
    input:
        summaries=comparison_files("results/{run}/betti_summary.csv"),
        training=comparison_files("results/{run}/training.csv"),
    output:
        claims="results/comparisons/{comparison}/claims.csv",
        replicates="results/comparisons/{comparison}/claims_replicates.csv",
        evidence="results/comparisons/{comparison}/claims_evidence.csv",
        markdown="results/comparisons/{comparison}/claims.md",
        html=report(
            "results/comparisons/{comparison}/claims.html",
            caption="../report/claims_table.rst",
            category=REPORT_CATEGORIES["claims"],
            subcategory="{comparison}",
        ),
        png=report(
            "results/comparisons/{comparison}/claims.png",
            caption="../report/claims.rst",
            category=REPORT_CATEGORIES["claims"],
            subcategory="{comparison}",
        ),
        pdf="results/comparisons/{comparison}/claims.pdf",
    log:
        "logs/comparisons/{comparison}_claims.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        runs=comparison_option("runs"),
        permute_labels=labels_permuted(comparison_option("runs")),
        epochs=comparison_option("epochs"),
        max_dim=MAX_DIM,
        max_epsilon=config["topology"]["max_epsilon"],
        title="{comparison}",
    script:
        "../scripts/claims.py"
