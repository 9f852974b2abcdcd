#!/usr/bin/env bash
# make test: the whole suite (unit, DAG runs, integration runs on PostgreSQL/Redis).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
echo "== ruff (lint, import order) and import-linter (stage boundaries)"
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider --timeout=1200 "$@"
