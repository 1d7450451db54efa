# The two commands of the README: `make study` and `make test`. Each creates .venv if needed.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# reinstall when the project's metadata changes
BASE_STAMP = $(VENV)/.stamp-base
TEST_STAMP = $(VENV)/.stamp-test

.PHONY: study test test-fast bench bench-quick fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(BASE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,web,dask]'
	touch $@ $(BASE_STAMP)

study: $(BASE_STAMP)  ## the full study on MNIST, ending in a report
	$(BIN)/digitlab study

test: $(TEST_STAMP)  ## the whole test suite (slow exact-reproduction tests included)
	$(BIN)/python -m pytest

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(TEST_STAMP)
	$(BIN)/python -m benchmarks --quick

fuzz: $(TEST_STAMP)  ## 1,000,000 fuzz cases (200,000 mutations per parser x 5), rows in BENCHMARKS.md
	DIGITLAB_FUZZ_CASES=200000 $(BIN)/python -m benchmarks --only reliability

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
