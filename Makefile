# One command to set up and run the default job, one to set up and run the tests.
#   make run     -> results/lenet_mnist5k/ (Betti-curve plots of LeNet learning real MNIST digits)
#   make test    -> lint and format checks, then the test suite (real Snakemake runs, real training, DIPHA fixtures, SLURM)
#   make lint    -> ruff, snakefmt and snakemake --lint
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= $(shell nproc 2>/dev/null || echo 2)
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup run test lint benchmark report clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[workflow,ripser,test]'
	touch $(STAMP)

run: setup
	$(BIN)/snakemake --cores $(CORES)

# lint first: CI fails on a style or lint violation before the (long) suite runs
test: setup lint
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -ra --durations=15

# static checks: ruff (lint and format), snakefmt (Snakefile and rules/*.smk), snakemake --lint
lint: setup
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
