# The two commands of the README: `make run` (set up and serve with sample data) and
# `make test` (set up and run the tests). Everything else is a building block of those two.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Test processes (pytest-xdist): two, one per core of the reference machine. The slow tests hold
# real workers and browsers, so more than the machine's cores makes them slower, not faster.
# PYTEST_WORKERS=0 runs everything in one process (for a debugger or -x).
PYTEST_WORKERS ?= 2

.PHONY: run test test-fast lint fmt install install-dev migrate clean

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

# One line when it went well ("Database up to date."); errors in full.
migrate: install
	@$(BIN)/python scripts/migrate.py

# Serves on HOST:PORT with a job worker (qcluster) next to it; Ctrl-C stops both. `exec`: make's
# child is the script itself, which ends with status 0 after a Ctrl-C. Through a shell in between
# (which dies of the SIGINT once the script is done) make would print "*** [run] Interrupt".
run: migrate
	@$(BIN)/python manage.py load_csvs data/sample --if-empty
	@exec env PYTHON_BIN=$(BIN)/python HOST=$(HOST) PORT=$(PORT) scripts/run_dev.sh

test: install-dev
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The edit-test loop: everything but the slow tests (real workers, browsers, big data).
test-fast: install-dev
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

# What CI checks before the tests; any finding fails. `make fmt` fixes what can be fixed.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check --fail-level WARNING

fmt: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
