# The two commands: `make run` and `make test`. Each creates .venv itself and installs the
# project from pyproject.toml, pinned by constraints.txt (the versions the suite last passed with,
# made by pip-tools: `make lock` refreshes it), so a fresh machine needs only Python 3.11+, pip and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test lint check once bench lock clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The stamp files re-install only when pyproject.toml or constraints.txt changes.
$(VENV)/.installed: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
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

# Re-resolve the newest versions pyproject.toml allows into constraints.txt; run `make test` after.
lock: | $(VENV)/bin/python
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --upgrade --extra test --strip-extras --no-emit-index-url \
		--no-emit-find-links -o constraints.txt pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
