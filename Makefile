# The two commands of the README: `make run` (set up and serve with sample data) and
# `make test` (set up and run the tests). Everything else is a building block of those two.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install install-dev migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Marker files: reinstall only when a requirements file changes.
$(VENV)/.base-installed: requirements/base.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/base.txt requirements/dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@ $(VENV)/.base-installed

install: $(VENV)/.base-installed
install-dev: $(VENV)/.dev-installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Serves on HOST:PORT with a job worker (qcluster) next to it; Ctrl-C stops both.
run: migrate
	$(BIN)/python manage.py load_csvs data/sample --if-empty
	PYTHON_BIN=$(BIN)/python HOST=$(HOST) PORT=$(PORT) scripts/run_dev.sh

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
