#!/usr/bin/env bash
# make test: the whole suite (unit, DAG runs, integration runs on PostgreSQL/Redis).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
.venv/bin/pytest -q -p no:cacheprovider --timeout=1200 "$@"
