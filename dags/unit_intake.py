r"""
### 单位报送即时检查 · Event-driven unit intake

Answers a unit within about a minute of its mail or file instead of at the next hourly poll or
at quarter end. Two watchers run in the triggerer (Assets page: `unit_mailbox_arrivals`,
`unit_folder_arrivals`; code `wcreport.orchestration.triggers`): IMAP IDLE on the
`imap_default` mailbox, and a listing of the current quarter's shared folder every
`REPORT_EVENT_INTAKE_SECONDS` seconds that fires once a new file has stopped growing.
Each event schedules this DAG; the events are only a hint, every run re-lists.

1. **arrivals** – the quarters to look at and whether mail came (a manual run: both); a
   folder event alone skips the mailbox steps.
2. **take_in_mail** / **send_receipts** – the hourly poll's steps (`mailbox_intake`): the mail
   kept, its files saved into the inbox, one receipt with the self-check's findings.
3. **units_to_check** – the quarterly run's `gather`, then one batch validation of only the
   units whose files changed since their last check.
4. **check_unit** – the quarterly run's `ingest_unit` for each of those units: its result and,
   at once, its feedback mail (once per file version, ledger `unit_feedback_ledger.json`).

At quarter end `quarterly_report` finds these outcomes and ledger entries: unchanged files are
neither validated nor mailed about again. `REPORT_EVENT_INTAKE_SECONDS=0` switches the
watchers off (this DAG then only runs when triggered by hand); the hourly `mailbox_intake`
poll and the quarter-end run stay either way (docs/runbook.md, "Event-driven intake").
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetWatcher, Param, dag, task

from wcreport.core.setting_specs import event_intake_seconds
from wcreport.orchestration.dag_defaults import default_args
from wcreport.orchestration.triggers import MailboxTrigger, SharedFolderTrigger

LISTING_SECONDS = event_intake_seconds()

MAILBOX_ARRIVALS = Asset(
    name="unit_mailbox_arrivals",      # no URI scheme: none for Airflow to look a normaliser up for
    watchers=[AssetWatcher(name="mailbox_idle", trigger=MailboxTrigger(conn_id="imap_default"))]
    if LISTING_SECONDS else [])
FOLDER_ARRIVALS = Asset(
    name="unit_folder_arrivals",
    watchers=[AssetWatcher(name="shared_folder_listing",
                           trigger=SharedFolderTrigger(poke_interval=LISTING_SECONDS,
                                                       stable_seconds=min(LISTING_SECONDS, 5)))]
    if LISTING_SECONDS else [])


@dag(
    dag_id="unit_intake",
    schedule=(MAILBOX_ARRIVALS | FOLDER_ARRIVALS) if LISTING_SECONDS else None,
    start_date=pendulum.datetime(2023, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=__doc__,
    tags=["wcreport", "mailbox", "intake"],
    params={
        "quarter": Param(None, type=["null", "string"], pattern=r"^\d{4}Q[1-4]$",
                         description="manual runs: check only this quarter; empty = the current ones"),
        "inbox": Param(None, type=["null", "string"], description="inbox root; empty = $REPORT_INBOX"),
        "output": Param(None, type=["null", "string"], description="output root; empty = $REPORT_OUTPUT"),
    },
)
def unit_intake():
    # A branch: a folder event alone runs no mailbox task (each task is a process: seconds of latency).
    @task.branch
    def arrivals(params=None, triggering_asset_events=None, ti=None) -> list[str]:
        from wcreport.orchestration.unit_intake import arrivals as what_arrived

        arrived = what_arrived(triggering_asset_events, params)
        ti.xcom_push(key="arrivals", value=arrived)
        return ["take_in_mail", "units_to_check"] if arrived["mail"] else ["units_to_check"]

    # multiple_outputs=False: from a `-> dict` annotation Airflow would also push every key as its own XCom.
    @task(multiple_outputs=False)
    def take_in_mail(ti=None) -> dict:
        from wcreport.orchestration.mailbox import take_in_mail as take_in
        from wcreport.orchestration.unit_intake import mail_run

        return take_in(mail_run(ti.xcom_pull(task_ids="arrivals", key="arrivals")))

    # Runs after a failed take-in (mails saved before it are answered), not after a skipped one.
    @task(multiple_outputs=False, trigger_rule="none_skipped", retries=5)  # SMTP outages: backoff from default_args
    def send_receipts(ti=None) -> dict:
        from wcreport.orchestration.mailbox import send_receipts as send
        from wcreport.orchestration.unit_intake import mail_run

        return send(mail_run(ti.xcom_pull(task_ids="arrivals", key="arrivals")))

    @task(trigger_rule="all_done")      # files already in the folder are checked even if the mailbox failed
    def units_to_check(ti=None) -> list[dict]:
        from wcreport.orchestration.unit_intake import units_to_check as which

        return which(ti.xcom_pull(task_ids="arrivals", key="arrivals"))

    @task(multiple_outputs=False, map_index_template="{{ unit_label }}")
    def check_unit(check: dict) -> dict:
        from airflow.sdk import get_current_context

        from wcreport.orchestration.unit_intake import check_unit as check_one
        from wcreport.orchestration.unit_intake import unit_label

        get_current_context()["unit_label"] = unit_label(check)
        return check_one(check)

    route = arrivals()
    checks = units_to_check()
    route >> take_in_mail() >> send_receipts() >> checks
    route >> checks
    check_unit.expand(check=checks)


unit_intake()
