#!/usr/bin/env bash
# make demo: one whole quarter on the embedded default (SQLite, loopback SMTP sink, sample files).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
QUARTER="${QUARTER:-2023Q1}"
DEMO="$ROOT/data/demo"
export AIRFLOW_HOME="$DEMO/airflow_home"
source tools/airflow_env.sh
export REPORT_INBOX="$DEMO/inbox" REPORT_OUTPUT="$DEMO/output"
MAILDIR="$DEMO/mail"

echo "==> Fresh demo folders under $DEMO"
rm -rf "$DEMO" && mkdir -p "$REPORT_INBOX" "$REPORT_OUTPUT" "$MAILDIR" "$AIRFLOW_HOME"

echo "==> Sample unit files for $QUARTER"
wcreport sample --quarter "$QUARTER" --inbox "$REPORT_INBOX"

SMTP_PORT="$(python -m wcreport_testing.net)"
echo "==> SMTP sink on 127.0.0.1:$SMTP_PORT (mails saved as .eml in $MAILDIR)"
python -m wcreport_testing.smtp_sink --host 127.0.0.1 --port "$SMTP_PORT" --maildir "$MAILDIR" \
  > "$DEMO/smtp_sink.log" 2>&1 &
SINK_PID=$!
trap 'kill $SINK_PID 2>/dev/null || true' EXIT
python - "$SMTP_PORT" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("SMTP sink did not start")
PY
export AIRFLOW_CONN_SMTP_DEFAULT="{\"conn_type\": \"smtp\", \"host\": \"127.0.0.1\", \"port\": $SMTP_PORT, \"extra\": {\"disable_ssl\": true, \"disable_tls\": true, \"from_email\": \"report-bot@localhost\"}}"

echo "==> Airflow metadata DB (SQLite) in $AIRFLOW_HOME"
airflow db migrate > "$DEMO/db_migrate.log" 2>&1 || { tail -20 "$DEMO/db_migrate.log"; exit 1; }

echo "==> airflow dags test quarterly_report (quarter $QUARTER; run id manual__${QUARTER}__<time>)"
python tools/demo_run.py "$QUARTER" > "$DEMO/dags_test.log" 2>&1 \
  || { tail -40 "$DEMO/dags_test.log"; echo "DAG run failed; full log: $DEMO/dags_test.log"; exit 1; }

python tools/demo_summary.py "$REPORT_OUTPUT/$QUARTER" "$MAILDIR"
