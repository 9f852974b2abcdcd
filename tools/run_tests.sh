#!/usr/bin/env bash
# The test targets' runner: the checks (ruff, import-linter, mypy), then pytest on one selection.
#
#   tools/run_tests.sh [--fast | --unit | --integration] [pytest arguments...]
#
#   (none)          make test:             every test (unit, `airflow dags test` runs, integration
#                                          on PostgreSQL/Redis)
#   --fast          make test-fast:        neither slow nor integration (the edit-test loop)
#   --unit          make test-unit:        everything but integration (slow ones included)
#   --integration   make test-integration: only the integration tests
#
# pytest's exit code 5 ("no tests collected", e.g. a -k that matches nothing in a selection) is
# reported and turned into 0: an empty selection is not a failure of the code under test.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1

selection=()
timeout=1200
case "${1:-}" in
    --fast) selection=(-m "not integration and not slow"); timeout=300; shift ;;
    --unit) selection=(-m "not integration"); shift ;;
    --integration) selection=(-m integration); shift ;;
esac

echo "== ruff (lint, import order) and import-linter (stage boundaries)"
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache
echo "== mypy (wcreport.core, wcreport.flow, orchestration.tasks)"
.venv/bin/mypy
echo "== pytest ${selection[*]}"
status=0
.venv/bin/pytest -q -p no:cacheprovider --timeout="$timeout" "${selection[@]}" "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest selected no tests (exit code 5): nothing to run is not a failure"
    exit 0
fi
exit "$status"
