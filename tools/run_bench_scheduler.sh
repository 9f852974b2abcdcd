#!/usr/bin/env bash
# make bench-scheduler: the quarter under the real scheduler (PostgreSQL, scheduler + dag-processor +
# api-server, LocalExecutor), quarterly_report vs its no-op twin: bench/bench_scheduler.py writes
# $BENCH_OUT/scheduler.json; bench.bench_scheduler.markdown() renders its docs section.
# Defaults: 200-unit comparison (1 run each) and a 2,000-unit ceiling run given 30 minutes per DAG
# (up to ~75 min on 2 cores). Arguments replace the defaults, e.g.
#   tools/run_bench_scheduler.sh --units 50 --runs 1 --ceiling-units 100 --ceiling-minutes 5
# Needs PostgreSQL (tools/install_system_packages.sh). Does not clear $BENCH_OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
export BENCH_OUT="${BENCH_OUT:-$ROOT/data/bench}"
export GX_ANALYTICS_ENABLED=false
mkdir -p "$BENCH_OUT"
if [ "$#" -eq 0 ]; then
  set -- --units 200 --runs 1 --ceiling-units 2000 --ceiling-minutes 30
fi
START=$(date +%s)
echo "==> scheduler benchmark: $*"
"$PY" bench/bench_scheduler.py "$@"
echo "==> done ($(( $(date +%s) - START )) s): $BENCH_OUT/scheduler.json"
