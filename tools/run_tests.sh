#!/usr/bin/env bash
# The test targets' runner: the checks (ruff, import-linter, mypy), then pytest on one selection.
#
#   tools/run_tests.sh [--fast | --unit | --integration] [pytest arguments...]
#
#   (none)          make test:             every test (unit, `airflow dags test` runs, integration
#                                          on PostgreSQL/Redis) in three pytest runs at once: the slow
#                                          tests in front, the fast and the integration tests
#                                          alongside (much of the integration tests' time is spent
#                                          waiting on Airflow's scheduler and Chromium), their
#                                          output printed when all are done
#   --fast          make test-fast:        neither slow nor integration (the edit-test loop)
#   --unit          make test-unit:        everything but integration (slow ones included)
#   --integration   make test-integration: only the integration tests
#
# Every selection runs in PYTEST_WORKERS (default 2) pytest-xdist workers, whole test files per
# worker (--dist loadfile: a module's fixtures are set up once; each integration module starts its
# own stack on free ports); PYTEST_WORKERS=0 runs the tests in the pytest process itself.
#
# pytest's exit code 5 ("no tests collected", e.g. a -k that matches nothing in a selection) is
# reported and turned into 0: an empty selection is not a failure of the code under test.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1

selection=()
timeout=1200
alongside=0
workers="${PYTEST_WORKERS:-2}"
[[ "$workers" =~ ^[0-9]+$ ]] || { echo "PYTEST_WORKERS must be a whole number (0: no worker processes), not '$workers'"; exit 2; }
in_workers=(-n "$workers" --dist loadfile)
[ "$workers" -eq 0 ] && in_workers=(-p no:xdist)
case "${1:-}" in
    --fast) selection=(-m "not integration and not slow" "${in_workers[@]}"); timeout=300; shift ;;
    --unit) selection=(-m "not integration" "${in_workers[@]}"); shift ;;
    --integration) selection=(-m integration "${in_workers[@]}"); shift ;;
    *) [ $# -eq 0 ] && alongside=1 ;;
esac

echo "== ruff (lint, import order) and import-linter (stage boundaries)"
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache
echo "== mypy (wcreport.core, wcreport.flow, orchestration.tasks)"
.venv/bin/mypy
finish() {  # pytest's exit code 5 (nothing selected) is not a failure of the code under test
    if [ "$1" -eq 5 ]; then
        echo "pytest selected no tests (exit code 5): nothing to run is not a failure"
        return 0
    fi
    return "$1"
}

if [ "$alongside" -eq 0 ]; then
    echo "== pytest ${selection[*]}"
    status=0
    .venv/bin/pytest -q -p no:cacheprovider --timeout="$timeout" "${selection[@]}" "$@" || status=$?
    finish "$status"
    exit $?
fi

logs="$(mktemp -d -t wcreport-tests.XXXXXX)"
echo "== pytest -m integration and the fast tests (alongside; their output follows the slow tests')"
.venv/bin/pytest -q -p no:cacheprovider --timeout="$timeout" -m integration "${in_workers[@]}" > "$logs/integration.log" 2>&1 &
integration_pid=$!
.venv/bin/pytest -q -p no:cacheprovider --timeout="$timeout" -m "not integration and not slow" > "$logs/fast.log" 2>&1 &
fast_pid=$!
echo "== pytest -m 'slow and not integration'"
unit_status=0
.venv/bin/pytest -q -p no:cacheprovider --timeout="$timeout" -m "slow and not integration" "${in_workers[@]}" 2>&1 \
    | tee "$logs/slow.log" \
    || unit_status=${PIPESTATUS[0]}
fast_status=0
wait "$fast_pid" || fast_status=$?
integration_status=0
wait "$integration_pid" || integration_status=$?
echo "== pytest -m 'not integration and not slow' (ran alongside)"
cat "$logs/fast.log"
echo "== pytest -m integration (ran alongside)"
cat "$logs/integration.log"
# One closing line for both runs, in the plain form CI reads: "N passed, N failed".
total() {  # the sum of "<n> $1" over both runs' summary lines; 0 when none says it
    { grep -hE '^=* ?[0-9]+ (passed|failed|errors?).* in [0-9.]+s' "$logs"/*.log | grep -oE "[0-9]+ $1" || true; } \
        | awk '{n += $1} END {print n + 0}'
}
passed=$(total passed)
failed=$(( $(total failed) + $(total error) ))
rm -rf "$logs"
echo "wcreport: $passed passed, $failed failed"
finish "$unit_status" && finish "$fast_status" && finish "$integration_status"
