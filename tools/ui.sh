#!/usr/bin/env bash
# make ui: the Airflow UI over the demo's folders, on the embedded default.
#
# SQLite metadata DB (data/demo/airflow_home, the demo's), LocalExecutor, and the four
# Airflow services: api-server, scheduler, dag-processor, triggerer (the correction review
# waits in the triggerer). A loopback SMTP sink receives every mail, as in `make demo`.
# quarterly_report and quarterly_reminders are unpaused and the demo quarter is run once
# through the scheduler (a real run, with task logs). Ctrl-C stops everything started here.
#
# Environment: QUARTER (default 2023Q1), UI_PORT (default 8080, another free port if taken),
# UI_HOST (default 127.0.0.1), FAULTY=0 to skip adding the sample's faulty files (one unit's
# empty form, so the run shows a rejected unit), UI_LANGUAGE / UI_TIMEZONE (the UI's language
# and time zone for a browser that has chosen none: zh-CN, Asia/Shanghai; tools/ui_env.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
QUARTER="${QUARTER:-2023Q1}"
DEMO="$ROOT/data/demo"
HOST="${UI_HOST:-127.0.0.1}"

if [ ! -f "$DEMO/output/$QUARTER/manifest.json" ]; then
  echo "==> No demo folders for $QUARTER under $DEMO yet: running the demo first (tools/demo.sh)"
  QUARTER="$QUARTER" bash tools/demo.sh
fi

export AIRFLOW_HOME="$DEMO/airflow_home"
source tools/airflow_env.sh
export REPORT_INBOX="$DEMO/inbox" REPORT_OUTPUT="$DEMO/output"
LOGS="$DEMO/ui_logs"
MAILDIR="$DEMO/mail"
mkdir -p "$LOGS" "$MAILDIR"

port_free() { python - "$1" <<'PY'
import socket, sys
with socket.socket() as s:
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(1)
PY
}
PORT="${UI_PORT:-8080}"
if ! port_free "$PORT"; then
  PORT="$(python -m wcreport_testing.net)"
  echo "==> Port ${UI_PORT:-8080} is taken: using $PORT"
fi
BASE_URL="http://$HOST:$PORT"

# --- who may sign in: SimpleAuthManager with one admin whose password is kept here ---------
PASSWORDS="$AIRFLOW_HOME/ui_passwords.json"
if [ ! -f "$PASSWORDS" ]; then
  python - "$PASSWORDS" <<'PY'
import json, secrets, sys
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump({"admin": secrets.token_urlsafe(9)}, f)
PY
  chmod 600 "$PASSWORDS"
fi
UI_PASSWORD="$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$PASSWORDS")"
SECRETS="$AIRFLOW_HOME/ui_secrets.env"      # one JWT secret for all services, kept across restarts
if [ ! -f "$SECRETS" ]; then
  python -c 'import secrets; print(f"JWT_SECRET={secrets.token_hex(32)}\nSECRET_KEY={secrets.token_hex(16)}")' > "$SECRETS"
  chmod 600 "$SECRETS"
fi
source "$SECRETS"

source tools/ui_env.sh
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$PASSWORDS"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$BASE_URL/execution/"
export AIRFLOW__API__BASE_URL="$BASE_URL"
export AIRFLOW__API__HOST="$HOST" AIRFLOW__API__PORT="$PORT" AIRFLOW__API__WORKERS=1
export AIRFLOW__API__SECRET_KEY="$SECRET_KEY" AIRFLOW__API_AUTH__JWT_SECRET="$JWT_SECRET"
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$(python -m wcreport_testing.net)"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$(python -m wcreport_testing.net)"

# --- everything started below is stopped on exit, Ctrl-C included ---------------------------
PIDS=()
stop_all() {
  trap - INT TERM EXIT
  set +e           # stop everything whatever fails on the way,
  trap '' PIPE     # and do not die writing to a terminal or pipe that is gone already
  [ ${#PIDS[@]} -eq 0 ] && return
  echo; echo "==> Stopping the services started by make ui"
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 40); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return
    sleep 0.5
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT
start() {   # start NAME CMD...: in its own process group, logging to $LOGS/NAME.log
  local name="$1"; shift
  setsid "$@" > "$LOGS/$name.log" 2>&1 &
  PIDS+=("$!")
}

SMTP_PORT="$(python -m wcreport_testing.net)"
echo "==> SMTP sink on 127.0.0.1:$SMTP_PORT (mails saved as .eml in $MAILDIR)"
start smtp_sink python -m wcreport_testing.smtp_sink --host 127.0.0.1 --port "$SMTP_PORT" --maildir "$MAILDIR"
export AIRFLOW_CONN_SMTP_DEFAULT="{\"conn_type\": \"smtp\", \"host\": \"127.0.0.1\", \"port\": $SMTP_PORT, \"extra\": {\"disable_ssl\": true, \"disable_tls\": true, \"from_email\": \"report-bot@localhost\"}}"

if [ "${FAULTY:-1}" != 0 ]; then
  echo "==> Adding the sample's faulty files to $REPORT_INBOX/$QUARTER: one unit's form becomes an empty one (退回; FAULTY=0 skips)"
  python tools/ui_run.py faulty --quarter "$QUARTER" --inbox "$REPORT_INBOX"
fi

echo "==> Airflow metadata DB (SQLite) in $AIRFLOW_HOME"
airflow db migrate > "$LOGS/db_migrate.log" 2>&1 || { tail -20 "$LOGS/db_migrate.log"; exit 1; }

echo "==> Starting api-server, scheduler, dag-processor, triggerer (logs in $LOGS)"
start api-server airflow api-server --host "$HOST" --port "$PORT"
start scheduler airflow scheduler
start dag-processor airflow dag-processor
start triggerer airflow triggerer

banner() {
  cat <<EOF

  Airflow UI:  $BASE_URL/
  Sign in:     admin / $UI_PASSWORD   (SimpleAuthManager; password kept in $PASSWORDS)
  季度报送:     $BASE_URL/plugin/wcreport
  Mails:       $MAILDIR   Service logs: $LOGS
  Ctrl-C stops everything make ui started.

EOF
}

python tools/ui_run.py prepare --base-url "http://127.0.0.1:$PORT" --user admin --password "$UI_PASSWORD" \
  --quarter "$QUARTER" --on-ready "$(banner)"
banner
echo "==> Running; Ctrl-C to stop"
while true; do
  for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "A service stopped unexpectedly (pid $pid); see $LOGS"; exit 1
    fi
  done
  sleep 2
done
