r"""
### 邮箱收件 · Mailbox intake

Takes the units' report mails out of the organiser's mailbox (IMAP connection `imap_default`)
into the quarter's inbox folder, and answers each mail once with a Chinese receipt
(connection `smtp_default`).

Schedule: a cron tick every 10 minutes (Asia/Shanghai) and a short-circuit: on the
reminder days before a quarter's deadline (working days in the last
`report.reminder_days` days) every tick polls; on other days only the tick at the top of
the hour does, the other ticks are skipped (a skipped run is normal). Manual runs always
poll: `airflow dags test mailbox_intake 2023-09-28 -c '{"quarter": "2023Q3"}'`.

1. **due** – poll now? Resolves params `quarter` (else each mail's quarter comes from its
   receipt date: up to 15 days after a quarter's deadline it is that quarter's), `inbox`,
   `output`, `folder` (default INBOX) and `since` (first run / new UIDVALIDITY: how far
   back to search; default the start of the previous quarter).
2. **take_in_mail** – new mails by UID: raw .eml archived under `<output>/mailbox/eml/`,
   report files (spreadsheets, scans, zip contents, forwarded mails' files) saved
   byte-identical into `<inbox>/<quarter>/<unit name>/` (the unit whose address sent
   it, per `units[].email(s)` in the programme file, **only when the office's server
   authenticated that address**: `Authentication-Results` of the connection's extra
   `authserv_id` with dmarc or aligned dkim pass; else `<inbox>/<quarter>/`, and a file its
   content attributes to a unit waits as 待确认：发件人未经验证), provenance in
   `<output>/<quarter>/mailbox/ledger.json`, then `\Seen` is set. Nothing in the mailbox is
   moved or deleted. A mail over 40 MB (by RFC822.SIZE, never fetched), one that cannot be
   parsed, or one of a year without programme is quarantined (runbook) and skipped.
3. **send_receipts** – one reply per mail (threaded), listing the files and the same
   findings `wcreport check` gives; none to auto-replies or replies to our receipts. A unit
   named by a mail nobody vouched for is told at its registered addresses. Runs even if
   step 2 failed for some mail.

If the mailbox is unreachable the task fails after its retries and ops get an alert;
nothing is lost: the next run takes in everything not yet recorded.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from wcreport.orchestration.dag_defaults import default_args


@dag(
    dag_id="mailbox_intake",
    schedule=CronTriggerTimetable("*/10 * * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2023, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=__doc__,
    tags=["wcreport", "mailbox"],
    params={
        "quarter": Param(None, type=["null", "string"], pattern=r"^\d{4}Q[1-4]$",
                         description="file every mail under this quarter; empty = by each mail's date"),
        "inbox": Param(None, type=["null", "string"], description="inbox root; empty = $REPORT_INBOX"),
        "output": Param(None, type=["null", "string"], description="output root; empty = $REPORT_OUTPUT"),
        "folder": Param("INBOX", type="string", description="IMAP folder to read"),
        "since": Param(None, type=["null", "string"], pattern=r"^\d{4}-\d{2}-\d{2}$",
                       description="first run or new UIDVALIDITY: search mails since (YYYY-MM-DD)"),
    },
)
def mailbox_intake():
    @task.short_circuit
    def due(params=None, dag_run=None) -> dict | None:
        import pendulum as pdl

        from wcreport.orchestration.mailbox import poll_due, resolve_poll

        manual = str(getattr(dag_run, "run_type", "manual")).lower().rsplit(".", 1)[-1] != "scheduled"
        when = getattr(dag_run, "run_after", None) or pdl.now("UTC")
        if not poll_due(when, manual=manual):
            print(f"{when}: not a polling tick (hourly outside the days before a deadline); nothing to do.")
            return None
        return resolve_poll(params)

    # multiple_outputs=False: from a `-> dict` annotation Airflow would also push every key of the
    # returned dict as its own XCom (one execution-API call and metadata row each); nothing reads them.
    @task(multiple_outputs=False)
    def take_in_mail(run: dict) -> dict:
        from wcreport.orchestration.mailbox import take_in_mail as take_in

        return take_in(run)

    @task(multiple_outputs=False, trigger_rule="all_done", retries=5)  # SMTP outages: backoff and cap from default_args
    def send_receipts(run: dict) -> dict:
        from wcreport.orchestration.mailbox import send_receipts as send

        return send(run)

    run = due()
    take_in_mail(run) >> send_receipts(run)


mailbox_intake()
