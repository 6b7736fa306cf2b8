rule compare:
    """Betti curves of several runs side by side, epoch by epoch (e.g. learning vs memorizing)."""
    input:
        curves=lambda wildcards: expand("results/{run}/betti_curves.csv", run=COMPARISONS[wildcards.comparison]["runs"]),
    output:
        density=report("results/comparisons/{comparison}/betti_curves_density.png",
                       caption="../report/comparison.rst", category="comparisons"),
        density_pdf="results/comparisons/{comparison}/betti_curves_density.pdf",
        epsilon="results/comparisons/{comparison}/betti_curves_epsilon.png",
        epsilon_pdf="results/comparisons/{comparison}/betti_curves_epsilon.pdf",
    params:
        runs=lambda wildcards: COMPARISONS[wildcards.comparison]["runs"],
        epochs=lambda wildcards: COMPARISONS[wildcards.comparison]["epochs"],
    log:
        "logs/comparisons/{comparison}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/compare.py"
