# Two commands for a fresh machine with Python 3.11:
#   make run   set up, migrate the SQLite file, load demo data, serve the API and the web console with
#              two simulated canteen terminals posting meals
#   make test  set up, install chromium and chromium-driver when missing (as root), run the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup browser lint bench clean

$(BIN)/wallet: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(BIN)/wallet

setup: $(BIN)/wallet

# Chromium and chromedriver for the console's browser tests (tests/console/test_browser.py): installed with
# apt-get when missing and running as root; otherwise .ci/browser says what to install.
browser:
	@.ci/browser

run: setup
	$(BIN)/wallet demo-data
	$(BIN)/wallet run-demo --host $(HOST) --port $(PORT)

test: setup browser
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m tests.bench.bench_ingest

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis
