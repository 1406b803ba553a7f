# The two commands the README starts with: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: setup demo test lint typecheck bench eval serve clean integrations

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

# crewai 1.x needs mcp<2 and pydantic<2.13: its Synap integration is tested from an environment of its own
# (tests/server/test_synap_crewai.py runs there when it exists; about 1 GB and 5 minutes to build).
integrations: .venv-crewai/.installed

.venv-crewai/.installed:
	$(PYTHON) -m venv .venv-crewai
	.venv-crewai/bin/python -m pip install --quiet maximem-synap==0.6.9 maximem-synap-crewai==0.2.3 crewai==1.15.30
	touch $@

clean:
	rm -rf $(VENV) .venv-crewai .pytest_cache .mypy_cache .ruff_cache
