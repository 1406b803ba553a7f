# The two commands the README starts with: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: setup demo test lint typecheck bench eval serve clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[server,postgres,bench,dev]"
	$(PY) -m pip install --quiet --no-deps maximem-synap-mcp-server==0.1.2  # pins mcp<2; its tools do not import mcp
	touch $@

demo: setup
	$(VENV)/bin/tenantry demo

test: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

typecheck: setup
	$(VENV)/bin/mypy

bench: setup
	$(VENV)/bin/tenantry bench

eval: setup
	$(VENV)/bin/tenantry eval locomo ../shared/data/locomo/dev/*.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
