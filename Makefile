# `make demo` and `make test` do all set-up themselves: a virtual environment in .venv with
# tunelab and what it needs (the CPU build of torch where constraints.txt pins it).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tunelab-installed

.PHONY: demo test test-quick bench-smoke clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tunelab run
	$(BIN)/tunelab report quickstart-digits-mlp -o tunelab-report.html --force

test: $(STAMP)
	scripts/run-tests.sh $(BIN)/python

# Lint, types and the tests that need no PostgreSQL, browser, worker processes or training:
# the search core, in about a minute.
test-quick: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not slow"

bench-smoke: $(STAMP)
	$(BIN)/python bench/overhead.py --quick

clean:
	rm -rf $(VENV) .pytest_cache
