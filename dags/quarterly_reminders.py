"""
### 报送提醒 · Reminders to units before the quarterly deadline

Runs every day at 09:00 Asia/Shanghai and does something only on **working days during
the last N days before the quarter's deadline** (N = `report.reminder_days` in the
programme file, default 5; working days follow the official Chinese calendar).

1. **due** – is today a reminder day, and for which quarter? Otherwise every later task
   is skipped (a skipped run is normal, not an error). Param `today` (YYYY-MM-DD) lets
   ops rehearse a given day. Params `units` (unit keys) and `quarter` remind just those
   units now, on any day (the dashboard's "立即提醒" button uses them).
2. **check_units** – runs quarterly_report's own gather and per-unit ingest, so each unit's
   `units/<key>.json` says whether its newest file is accepted, rejected or missing
   (param `validate=false` skips this and uses the last results). A missing or unreadable
   inbox or an unwritable output fails the run: reminding units that did send would be
   wrong. A unit whose check failed is not reminded, and send_reminders then fails naming it.
3. **send_reminders** – one polite mail per unit without an accepted file, at most one a
   day (ledger `<output>/reminder_ledger.json`): missing units get their blank form,
   rejected units their feedback. Addresses: Variable `report_unit_emails`
   (JSON `{unit_key: email}`) or `email` of the unit in the programme file.
   Mail goes through the `smtp_default` connection.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from wcreport.orchestration.dag_defaults import default_args


@dag(
    dag_id="quarterly_reminders",
    schedule=CronTriggerTimetable("0 9 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2023, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=__doc__,
    tags=["wcreport", "reminders"],
    params={
        "today": Param(None, type=["null", "string"], pattern=r"^\d{4}-\d{2}-\d{2}$",
                       description="rehearse a day (YYYY-MM-DD); empty = the run's day in Asia/Shanghai"),
        "inbox": Param(None, type=["null", "string"], description="inbox root; empty = $REPORT_INBOX"),
        "output": Param(None, type=["null", "string"], description="output root; empty = $REPORT_OUTPUT"),
        "quarter": Param(None, type=["null", "string"], pattern=r"^\d{4}Q[1-4]$",
                         description="with units: the quarter to remind for (default: the current one)"),
        "units": Param(None, type=["null", "array"],
                       description="remind only these unit keys, now, whatever the day"),
        "validate": Param(True, type="boolean",
                          description="re-check the units' files before reminding"),
    },
)
def quarterly_reminders():
    @task.short_circuit
    def due(params=None, dag_run=None) -> dict | None:
        import datetime as dt

        from wcreport.core.quarter import Quarter
        from wcreport.deliver.reminders import due_quarter, today_in_shanghai
        from wcreport.orchestration.tasks import resolve_run

        today = (dt.date.fromisoformat(params["today"]) if params.get("today")
                 else today_in_shanghai(getattr(dag_run, "run_after", None)))
        units = params.get("units") or None
        if units:  # on demand: any day
            quarter = params.get("quarter") or str(Quarter.containing(today))
        else:
            found = due_quarter(today)
            if found is None:
                print(f"{today} is not a reminder day; nothing to do.")
                return None
            quarter = str(found[0])
        run = resolve_run(quarter, params.get("inbox"), params.get("output"))
        return {**run, "today": today.isoformat(), "units": units,
                "validate": bool(params.get("validate", True))}

    # multiple_outputs=False: from a `-> dict` annotation Airflow would also push every key of the
    # returned dict as its own XCom (one execution-API call and metadata row each); nothing reads them.
    @task(multiple_outputs=False)
    def check_units(run: dict) -> dict:
        import logging

        from wcreport.orchestration.tasks import gather, ingest, programme_of

        if not run["validate"]:
            return run
        log = logging.getLogger("wcreport.deliver.reminders")
        units = gather(run)     # a fault here is ours: no reminders rather than false ones
        unchecked = []
        for unit in run.get("units") or units or [u.key for u in programme_of(run).units]:
            try:
                ingest(run, unit)
            except Exception:  # our fault for this unit: do not remind it, fail after the others
                log.exception("ingest of %s failed; it is not reminded", unit)
                unchecked.append(unit)
        return {**run, "unchecked": unchecked}

    @task(multiple_outputs=False)
    def send_reminders(run: dict) -> dict:
        from wcreport.orchestration.tasks import send_reminders as send

        return send(run)

    send_reminders(check_units(due()))


quarterly_reminders()
