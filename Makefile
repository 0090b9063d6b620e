# Every verb creates (or reuses) the virtualenv first: nothing is installed by hand.
# The interpreter: PYTHON if given, else the first of python3, python3.13, python3.12,
# python3.11 on PATH that is a supported version (3.11 to 3.13).
SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PYTHON ?= $(firstword $(foreach p,python3 python3.13 python3.12 python3.11,$(shell command -v $(p) >/dev/null 2>&1 && $(p) -c '$(SUPPORTED)' 2>/dev/null && echo $(p))))
VERSION_OF = -c 'import sys; print("%d.%d" % sys.version_info[:2])'
PY_VERSION := $(shell $(PYTHON) $(VERSION_OF) 2>/dev/null)
VENV   := .venv
BIN    := $(VENV)/bin
# One stamp per Python version: switching interpreters re-runs the install, which rebuilds a
# .venv made by another Python instead of reusing it.
STAMP  := $(VENV)/.installed-$(PY_VERSION)

.PHONY: install run worker test lint check schema migrate bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PY_VERSION)" && $(PYTHON) -c '$(SUPPORTED)' || { \
	  echo "make: needs Python 3.11, 3.12 or 3.13 (found: $(or $(PYTHON),none) $(PY_VERSION))."; \
	  echo "      Install one (e.g. apt-get install python3.12-venv, pyenv install 3.13) or pass PYTHON=/path/to/python3.x."; \
	  exit 1; }
	@if [ -e $(BIN)/python ] && [ "$$($(BIN)/python $(VERSION_OF) 2>/dev/null)" != "$(PY_VERSION)" ]; then \
	  echo "make: .venv was built by another Python; rebuilding it with $(PYTHON) ($(PY_VERSION))"; \
	  rm -rf $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[embedded,dev]'
	touch $(STAMP)

run: install  ## serve GraphQL (embedded Postgres when DATABASE_URL is unset)
	$(BIN)/valuerank serve

worker: install  ## job workers for every provider queue, summaries and maintenance (needs DATABASE_URL)
	$(BIN)/valuerank worker

test: install  ## the whole suite (TEST_DATABASE_URL / DATABASE_URL, else embedded Postgres)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check app workers tests bench migrations
	$(BIN)/ruff format --check app workers tests bench migrations

check: lint  ## lint, types, schema drift, migrations drift
	$(BIN)/mypy
	$(BIN)/valuerank export-schema --check schema.graphql
	$(BIN)/valuerank migrate --check

schema: install  ## regenerate schema.graphql from the code
	$(BIN)/valuerank export-schema > schema.graphql

migrate: install
	$(BIN)/valuerank migrate

bench: install  ## every benchmark in bench/, one line per figure
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
