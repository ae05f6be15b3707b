# Kasir: `make run` serves a working till, `make test` runs the whole suite. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# The suite runs on every core (pytest-xdist): each test has its own database, server and port.
PYTEST_WORKERS ?= auto

# Settings come from the environment or from .env, which `python -m kasir` reads (the environment wins).

.PHONY: run test lint test-postgres fuzz bench serve venv clean-venv

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.runtime

run: $(VENV)/.runtime
	$(PY) -m kasir backup --before-upgrade
	$(PY) -m kasir db upgrade
	$(PY) -m kasir demo-data
	$(PY) -m kasir serve

test: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Lint and import order (ruff, configured in pyproject.toml); `make test` runs it first.
lint: $(VENV)/.dev
	$(PY) -m ruff check .

# The same suite on PostgreSQL (needs Debian's postgresql package): a throwaway cluster on a free loopback
# port, stopped and deleted afterwards, whatever the outcome.
test-postgres: $(VENV)/.dev
	@dir=$$(mktemp -d /tmp/kasir-pg.XXXXXX) && \
	trap '.ci/postgres stop "$$dir"; rm -rf "$$dir"' EXIT && \
	url=$$(.ci/postgres start "$$dir") && \
	echo "TEST_DATABASE_URL=$$url" && \
	TEST_DATABASE_URL="$$url" $(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The fuzz stage alone (it is part of `make test` too): bounded and derandomized, under 2 minutes.
fuzz: $(VENV)/.dev
	$(PY) -m pytest -m fuzz $(PYTEST_ARGS)

# Speed and memory against baselines measured in the same run (bench/*.py, docs/performance.md; about ten
# minutes). BENCH_CODE=DIR measures the Kasir checkout in DIR with this harness (default: this one).
BENCH_CODE ?=
BENCH_ARGS = $(if $(BENCH_CODE),--code $(BENCH_CODE))
bench: $(VENV)/.dev
	$(PY) bench/polling.py $(BENCH_ARGS)
	$(PY) bench/shop.py $(BENCH_ARGS)
	$(PY) bench/api_throughput.py $(BENCH_ARGS)
	$(PY) bench/memory.py $(BENCH_ARGS)
	$(PY) bench/paid_to_screen.py $(BENCH_ARGS)
	$(PY) bench/postgres_scale.py $(BENCH_ARGS)
	$(PY) bench/settlement_import.py $(BENCH_ARGS)
	$(PY) bench/catalogue.py $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
