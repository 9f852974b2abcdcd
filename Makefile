# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo ui test test-fast lint test-unit test-integration bench bench-scheduler bench-ceiling lock clean

venv: $(STAMP)

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml tests/support/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "需要 Python 3.11 / Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip install --quiet --no-deps -e tests/support
	touch $(STAMP)

demo: venv
	bash tools/demo.sh

# The Airflow UI over the demo's folders (runs the demo first if there is none); Ctrl-C stops it.
ui: venv
	bash tools/ui.sh

# Each test target runs the checks (`make lint`) first, then its tests; durations measured on the
# 2-core development machine are in CONTRIBUTING.md ("Run it").
# Everything: unit, `airflow dags test` runs, integration on PostgreSQL (what CI runs).
test: venv
	bash tools/run_tests.sh

# The edit-test loop: every test that is neither `slow` nor `integration`.
test-fast: venv
	bash tools/run_tests.sh --fast

# Everything but integration: the fast tests and the slow ones (DAG runs, Chromium, LibreOffice).
test-unit: venv
	bash tools/run_tests.sh --unit

# Only the integration tests (PostgreSQL, the scheduler, the API server).
test-integration: venv
	bash tools/run_tests.sh --integration

# Lint, import boundaries and types (the first step of every test target).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: venv
	bash tools/run_bench.sh

# The quarter under the real scheduler (PostgreSQL, LocalExecutor): 200 units vs the no-op twin and a
# 2,000-unit ceiling run capped at 30 minutes per DAG (up to ~75 min); writes data/bench/scheduler.json
# and regenerates docs/benchmarks.md with the other figures of the last `make bench`.
bench-scheduler: venv
	bash tools/run_bench_scheduler.sh --units 200 --runs 1 --ceiling-units 2000 --ceiling-minutes 30
	$(BIN)/python bench/report.py --out docs/benchmarks.md

# Only the full-length ceiling: a 2,000-unit quarter given 30 minutes end to end (the no-op twin 5, for
# its throughput); kept apart from make bench's results, docs/benchmarks.md shows both (about 40 min).
bench-ceiling: venv
	bash tools/run_bench_scheduler.sh --units 0 --ceiling-units 2000 --ceiling-minutes 30 \
		--ceiling-noop-minutes 5 --result-name scheduler_ceiling
	$(BIN)/python bench/report.py --out docs/benchmarks.md

# Re-resolve after editing requirements*.txt: the runtime lock, then the development lock
# (runtime + tools), each from a scratch venv.
LOCK_VENV := $(shell mktemp -u -t wcreport-lock.XXXXXX)
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet -r requirements.txt
	$(LOCK_VENV)/bin/pip freeze --exclude-editable > requirements.lock
	$(LOCK_VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(LOCK_VENV)/bin/pip freeze --exclude-editable > requirements-dev.lock
	rm -rf $(LOCK_VENV)

clean:
	rm -rf data/ airflow_home/ .pytest_cache
