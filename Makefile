# One command to set up and run the default job, one to set up and run the tests.
#   make run     -> results/lenet_mnist5k/ (Betti-curve plots of LeNet learning real MNIST digits)
#   make test    -> lint and format checks, then the whole test suite (real Snakemake runs, real training, DIPHA fixtures, SLURM)
#   make test-fast -> the tests not marked slow (the inner loop; no lint)
#   make lint    -> ruff, snakefmt, snakemake --lint and the import-linter contracts (pyproject.toml)
#   make docs    -> the documentation site in docs/_build/html
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= $(shell nproc 2>/dev/null || echo 2)
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
TESTSTAMP = $(VENV)/.installed-test

.PHONY: setup setup-test setup-slurm run test test-fast lint docs benchmark report clean

# what the workflow needs; the SLURM executor plugin is its own extra (`make setup-slurm`: see docs/slurm.md)
setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[workflow,ripser]'
	touch $(STAMP)

# the tests also need the linters and the SLURM executor plugin (they run the workflow on a real SLURM cluster)
setup-test: $(TESTSTAMP)

$(TESTSTAMP): $(STAMP)
	$(BIN)/pip install -e '.[workflow,ripser,slurm,test]'
	touch $(TESTSTAMP)

setup-slurm: setup
	$(BIN)/pip install -e '.[workflow,ripser,slurm]'

run: setup
	$(BIN)/snakemake --cores $(CORES)

# lint first: CI fails on a style or lint violation before the (long) suite runs
test: setup-test lint
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -ra --durations=15

# the tests not marked slow (docs/development.md: what is slow, and how long each tier takes)
test-fast: setup-test
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -ra -m "not slow" --durations=5

# static checks: ruff (lint and format), snakefmt (Snakefile and rules/*.smk), snakemake --lint, and
# import-linter: the package's layers and what the workflow may import while Snakemake parses it
lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint
	$(BIN)/lint-imports --no-cache

# the documentation site (Sphinx: docs/*.md and the API from the docstrings); tests/test_docs.py builds it too
docs: setup-test
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

benchmark: setup
	$(BIN)/python benchmarks/stages.py

report: setup
	$(BIN)/snakemake --report results/report.html

clean:
	rm -rf results/*/ logs .snakemake docs/_build
