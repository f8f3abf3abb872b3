# Set-up is part of every target: a fresh clone needs only `make sweep` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install sweep test lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The quickstart: pretrain (cached) a small backbone, sweep 16 trials, recommend a strategy.
sweep: $(STAMP)
	$(BIN)/probe-sweep run sweeps/specs/quickstart.yaml --overwrite

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The benchmark suite (docs/BENCHMARKS.md): ratios measured side by side, one script each.
bench: $(STAMP)
	$(BIN)/python bench/wrapper_overhead.py
	$(BIN)/python bench/trial_throughput.py
	$(BIN)/python bench/tracking_cost.py
	$(BIN)/python bench/sweep_throughput.py
	$(BIN)/python bench/memory_sharing.py
	$(BIN)/python bench/search_efficiency.py
