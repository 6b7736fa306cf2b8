rule claims:
    """The paper's claims checked on one run: verdicts, the numbers behind them, and a figure."""
    input:
        summaries=[layout.run_file("betti_summary.csv")],  # lists, like a comparison's
        training=[layout.run_file("training.csv")],
    output:
        claims=layout.run_file("claims.csv"),
        replicates=layout.run_file("claims_replicates.csv"),
        evidence=layout.run_file("claims_evidence.csv"),
        markdown=layout.run_file("claims.md"),
        html=report(
            layout.run_file("claims.html"),
            caption="../report/claims_table.rst",
            category=layout.REPORT_CATEGORIES["claims"],
            subcategory="{run}",
        ),
        png=report(
            layout.run_plot("claims", "png"),
            caption="../report/claims.rst",
            category=layout.REPORT_CATEGORIES["claims"],
            subcategory="{run}",
        ),
        pdf=layout.run_plot("claims", "pdf"),
    log:
        layout.run_file("claims.log", layout.LOGS),
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
        summaries=comparison_files("betti_summary.csv"),
        training=comparison_files("training.csv"),
    output:
        claims=layout.comparison_file("claims.csv"),
        replicates=layout.comparison_file("claims_replicates.csv"),
        evidence=layout.comparison_file("claims_evidence.csv"),
        markdown=layout.comparison_file("claims.md"),
        html=report(
            layout.comparison_file("claims.html"),
            caption="../report/claims_table.rst",
            category=layout.REPORT_CATEGORIES["claims"],
            subcategory="{comparison}",
        ),
        png=report(
            layout.comparison_file("claims.png"),
            caption="../report/claims.rst",
            category=layout.REPORT_CATEGORIES["claims"],
            subcategory="{comparison}",
        ),
        pdf=layout.comparison_file("claims.pdf"),
    log:
        layout.comparison_log("_claims"),
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
