# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-unit test-integration bench lock clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "需要 Python 3.11 / Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: venv
	bash tools/demo.sh

test: venv
	bash tools/run_tests.sh

test-unit: venv
	$(BIN)/pytest -m "not integration" -q

test-integration: venv
	$(BIN)/pytest -m integration -q

bench: venv
	bash tools/run_bench.sh

# Re-resolve after editing requirements.txt: writes the full lock from a scratch venv.
lock:
	rm -rf /tmp/wcreport-lock && $(PYTHON) -m venv /tmp/wcreport-lock
	/tmp/wcreport-lock/bin/pip install --quiet -r requirements.txt
	/tmp/wcreport-lock/bin/pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf data/ airflow_home/ .pytest_cache
