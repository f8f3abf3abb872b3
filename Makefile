# Set-up is part of every target: a fresh clone needs only `make sweep` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser sweep screenshots test lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --quiet -e '.[dev]'  # -qq: no build-backend notices
	touch $(STAMP)

install: $(STAMP)

# The quickstart: pretrain (cached) a small backbone, sweep 16 trials, recommend a strategy.
sweep: $(STAMP)
	$(BIN)/probe-sweep run sweeps/specs/quickstart.yaml --overwrite

# Debian's Chromium and ChromeDriver for the MLflow UI browser test (skipped, with the reason,
# where they cannot be installed).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || \
		echo "chromium could not be installed: the browser test will be skipped"

# The README's screenshots (docs/mlflow_*.png): the quickstart as `make sweep` leaves it, opened
# by `probe-sweep ui` in Chromium and checked by the browser test.
screenshots: sweep browser
	BROWSE_SWEEP=probe_sweeps/quickstart SCREENSHOTS_DIR=docs $(BIN)/python -m pytest -q tests/test_browser.py

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The benchmark suite (docs/BENCHMARKS.md): ratios measured side by side, one script each.
bench: $(STAMP)
	$(BIN)/python bench/wrapper_overhead.py
	$(BIN)/python bench/trial_throughput.py
	$(BIN)/python bench/tracking_cost.py
	$(BIN)/python bench/sweep_throughput.py
	$(BIN)/python bench/memory_sharing.py
	$(BIN)/python bench/search_efficiency.py
	$(BIN)/python bench/auto_processes.py
	$(BIN)/python bench/load_200.py
	$(BIN)/python bench/reliability.py
	$(BIN)/python -m bench.selection.compare --reduced
