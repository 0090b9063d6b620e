# Every verb creates (or reuses) the virtualenv first: nothing is installed by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run worker test lint check schema migrate bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
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
