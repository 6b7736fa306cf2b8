rule compare:
    """Betti curves of several runs side by side, epoch by epoch (e.g. learning vs memorizing)."""
    input:
        curves=comparison_curves,
    output:
        density_png=report(
            "results/comparisons/{comparison}/betti_curves_density.png",
            caption="../report/comparison.rst",
            category=REPORT_CATEGORIES["comparisons"],
            subcategory="{comparison}",
        ),
        density_pdf="results/comparisons/{comparison}/betti_curves_density.pdf",
        epsilon_png="results/comparisons/{comparison}/betti_curves_epsilon.png",
        epsilon_pdf="results/comparisons/{comparison}/betti_curves_epsilon.pdf",
    log:
        "logs/comparisons/{comparison}.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        runs=comparison_option("runs"),
        epochs=comparison_option("epochs"),
    script:
        "../scripts/compare.py"
