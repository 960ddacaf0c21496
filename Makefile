# cellwms: `make demo` runs the whole system locally, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
PYTEST_WORKERS ?= 2

.PHONY: venv demo test lint bench clean

$(STAMP): pyproject.toml setup.py $(wildcard server/core/routing/*.c)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[server,station,test,dev]'
	touch $(STAMP)

# The benchmarks' comparison solvers (OR-Tools, LKH) only when benchmarking.
$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[server,station,test,dev,bench]'
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/cellwms demo --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
