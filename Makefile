# One command to set up and run the default job, one to set up and run the tests.
#   make run     -> results/lenet_mnist5k/ (Betti-curve plots of LeNet learning real MNIST digits)
#   make test    -> lint and format checks, then the test suite (real Snakemake runs, real training, DIPHA fixtures, SLURM)
#   make lint    -> ruff, snakefmt and snakemake --lint
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= $(shell nproc 2>/dev/null || echo 2)
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
TESTSTAMP = $(VENV)/.installed-test

.PHONY: setup setup-test setup-slurm run test lint benchmark report clean

# what the workflow needs; the SLURM executor plugin is its own extra (`make setup-slurm`: see README.md)
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

# static checks: ruff (lint and format), snakefmt (Snakefile and rules/*.smk), snakemake --lint
lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

benchmark: setup
	$(BIN)/python benchmarks/stages.py

report: setup
	$(BIN)/snakemake --report results/report.html

clean:
	rm -rf results/*/ logs .snakemake
