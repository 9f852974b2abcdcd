#!/usr/bin/env bash
# make bench: the benchmark figures, written to docs/benchmarks.md (about 25 min on 2 idle cores;
# the 200-unit Airflow run alone is ~12 min until the Data Docs and rescan fixes of docs/benchmarks.md land).
# BENCH_E2E_CASES (default 15:2,200:1) and BENCH_SCALE_SIZES (default 15,200,2000) shorten a run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
export BENCH_OUT="${BENCH_OUT:-$ROOT/data/bench}"
export GX_ANALYTICS_ENABLED=false
rm -rf "$BENCH_OUT" && mkdir -p "$BENCH_OUT"
# The ingest profile uses pyinstrument; it is a bench-only tool, not in requirements.lock.
"$PY" -c "import pyinstrument" 2>/dev/null || "$ROOT/.venv/bin/pip" install --quiet "pyinstrument==5.1.3" \
  || echo "pyinstrument not installed: the ingest profile will be skipped"
START=$(date +%s)
step() { echo "==> $1 ($(( $(date +%s) - START )) s)"; }
step "1/4 DAG parse";            "$PY" bench/bench_parse.py --repeat "${BENCH_PARSE_REPEAT:-5}"
step "2/4 ingest + validation";  "$PY" bench/bench_ingest.py --repeat 2 --profile 5
step "3/4 end to end (airflow dags test)"; "$PY" bench/bench_e2e.py --cases "${BENCH_E2E_CASES:-15:2,200:1}"
step "4/4 scale";                "$PY" bench/bench_scale.py --sizes "${BENCH_SCALE_SIZES:-15,200,2000}" --sampled "${BENCH_SCALE_SAMPLED:-3}"
echo "$(( $(date +%s) - START ))" > "$BENCH_OUT/total_seconds"
step "docs/benchmarks.md";       "$PY" bench/report.py --out docs/benchmarks.md
