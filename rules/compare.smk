rule compare:
    """Betti curves of several runs side by side, epoch by epoch (e.g. learning vs memorizing)."""
    input:
        curves=comparison_files("betti_curves.csv"),
    output:
        density_png=report(
            layout.comparison_file("betti_curves_density.png"),
            caption="../report/comparison.rst",
            category=layout.REPORT_CATEGORIES["comparisons"],
            subcategory="{comparison}",
        ),
        density_pdf=layout.comparison_file("betti_curves_density.pdf"),
        epsilon_png=layout.comparison_file("betti_curves_epsilon.png"),
        epsilon_pdf=layout.comparison_file("betti_curves_epsilon.pdf"),
    log:
        layout.comparison_log(),
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
