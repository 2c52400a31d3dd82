# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test test-fast check lint format bench fuzz sample-logs matrix clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m compileall -q logtrace > /dev/null
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/logtrace analyze sample_logs/ --nginx-conf sample_logs/nginx/mesh-1.conf

test: setup
	$(PY) -m pytest -q

# The edit loop: no real nginx, nothing slow.
test-fast: setup
	$(PY) -m pytest -q -m "not nginx and not slow"

lint: setup
	$(VENV)/bin/ruff format --check logtrace tests benchmarks scripts
	$(VENV)/bin/ruff check logtrace tests benchmarks scripts
	$(VENV)/bin/mypy

check: lint test

format: setup
	$(VENV)/bin/ruff format logtrace tests benchmarks scripts
	$(VENV)/bin/ruff check --fix logtrace tests benchmarks scripts

bench: setup
	$(PY) benchmarks/run.py

fuzz: setup
	$(PY) -m pytest -q tests/test_fuzz.py --fuzz-long

sample-logs: setup
	$(PY) scripts/make_sample_logs.py

# Every topology variant with 1000 requests, scored; writes docs/topology-matrix.md.
matrix: setup
	$(PY) scripts/topology/matrix.py --requests 1000 --write docs/topology-matrix.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
