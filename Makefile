# The two commands: `make run` and `make test`. Each creates .venv itself and installs the
# project from pyproject.toml, so a fresh machine needs only Python 3.11+, pip and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test lint check once bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The stamp files re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) -m bot run

check: $(VENV)/.installed
	$(PY) -m bot check

once: $(VENV)/.installed
	$(PY) -m bot once

test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(VENV)/.installed-test
	$(PY) -m bench --smoke

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
