PYTHON ?= $(shell bin/find-python)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format typecheck migrations-check check bench

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (Django 6)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs again only when the pinned dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	bin/run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy .

migrations-check:
	$(BIN)/python manage.py makemigrations --check --dry-run

check: lint typecheck migrations-check test

bench:
	$(BIN)/python bench/copy_throughput.py
	$(BIN)/python bench/api_throughput.py
	$(BIN)/python bench/webhook_throughput.py
