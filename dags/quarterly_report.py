"""
### 季度进展情况汇总 · Quarterly progress report

Runbook, one task per step:

1. **resolve_run** – the quarter (param `quarter`, else the run's data interval) and the
   inbox/output roots (params `inbox`, `output`, else `REPORT_INBOX` / `REPORT_OUTPUT`).
2. **gather** – lists `<inbox>/<quarter>/`, archives every file by sha256, identifies units.
3. **validate_quarter** – validates every unit's new files in one Great Expectations run
   per suite (the suites in `expectations/`) and keeps each file's outcome.
4. **ingest_unit** – one mapped task instance per expected unit, named by the unit:
   read, locate the form, take its validation from step 3 (or validate a file step 3 did
   not see, e.g. one replaced since), accept or reject, write feedback. *To rerun one unit after it replaced its file, clear
   its `ingest_unit` instance with "Downstream" ticked* (see the README runbook).
5. **merge** – manifest, consolidated model and the workbook (`outlets`: the report asset).
   Runs only when every unit's ingest succeeded: a unit's bad file never fails its ingest
   (it is rejected with feedback), so a failed ingest is our fault (disk, permissions, a
   bug) and must not reach the leaders as that unit's absence. The alert names the cause;
   fix it and clear the failed instance with Downstream (docs/runbook.md).
6. **plan_mail** – decides the mail: the quarter's first report → **send** (unattended);
   content changed since the last mail → **review_correction**; unchanged or already rejected
   content → nothing.
7. **send** – e-mails the workbook through the `smtp_default` connection, once.
8. **review_requests** / **review_correction** – a correction (更正版N) waits for the clerk's
   answer under *Required Actions* (the clerk is mailed a link, once per request): what changed
   since the last mail, the new workbook's link and content hash, built when the card starts
   waiting. One mapped card per request the run made: after a unit's rerun changed the content,
   the earlier card returns at once (asking nothing) and a new one asks.
   **发送更正版** sends it (step 9); **不发送** keeps the last mail as the valid version
   and the same content is not asked again. Nobody answers within `review_timeout_hours`
   (default 72) → `review_timeout_action` (default `hold`: not sent; a later run asks again).
9. **send_correction** – sends the approved correction once (only if the answered card is the
   current request and the content is still what it showed) or records the rejection in the
   mail ledger; otherwise it sends nothing and its result says why.

Outputs live in `<output>/<quarter>/` (manifest.json, the workbook, feedback/, data_docs/,
review/ for pending corrections, sent/ for every workbook that was mailed).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task

from wcreport.orchestration.dag_defaults import default_args
from wcreport.orchestration.review import CorrectionReview
from wcreport.orchestration.timetable import quarterly_schedule

CONSOLIDATED_REPORT = Asset(name="consolidated_report", uri="file:///wcreport/consolidated_report")


@dag(
    dag_id="quarterly_report",
    schedule=quarterly_schedule(),
    start_date=pendulum.datetime(2023, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=__doc__,
    tags=["wcreport", "quarterly"],
    params={
        "quarter": Param(None, type=["null", "string"], pattern=r"^\d{4}Q[1-4]$",
                         description="e.g. 2023Q1; empty = the quarter of the data interval"),
        "inbox": Param(None, type=["null", "string"], description="inbox root; empty = $REPORT_INBOX"),
        "output": Param(None, type=["null", "string"], description="output root; empty = $REPORT_OUTPUT"),
        "review_timeout_hours": Param(72, type="number", exclusiveMinimum=0,
                                      description="hours a correction waits for the clerk's answer"),
        "review_timeout_action": Param("hold", enum=["hold", "send"],
                                       description="no answer in time: hold = do not send; send = send it"),
    },
)
def quarterly_report():
    # multiple_outputs=False: from a `-> dict` annotation Airflow would also push every key of the
    # returned dict as its own XCom (one execution-API call and metadata row each); nothing reads them.
    @task(multiple_outputs=False)
    def resolve_run(params=None, data_interval_start=None) -> dict:
        from wcreport.orchestration.tasks import resolve_run as resolve

        return resolve(params.get("quarter"), params.get("inbox"), params.get("output"),
                       data_interval_start)

    @task
    def gather(run: dict) -> list[str]:
        from wcreport.orchestration.tasks import gather as gather_inbox

        return gather_inbox(run)

    @task(multiple_outputs=False)
    def validate_quarter(run: dict) -> dict:
        from wcreport.orchestration.tasks import validate_quarter as validate_batch

        return validate_batch(run)

    @task(multiple_outputs=False, map_index_template="{{ unit_name }}")
    def ingest_unit(unit: str, run: dict) -> dict:
        from wcreport.orchestration.tasks import ingest, map_label, programme_of

        context = get_current_context()
        context["unit_name"] = programme_of(run).unit(unit).name
        summary = ingest(run, unit)
        context["unit_name"] = map_label(summary)   # rendered after the task: "<unit name> · 已退回"
        return summary

    @task(multiple_outputs=False, outlets=[CONSOLIDATED_REPORT])
    def merge(run: dict, unit_summaries) -> dict:
        from wcreport.orchestration.tasks import merge as merge_units

        return merge_units(run)

    @task.branch
    def plan_mail(run: dict, merged: dict, ti=None) -> str | None:
        from wcreport.orchestration.tasks import plan_mail as plan

        decision = plan(run, merged, requested_by=ti.run_id)
        ti.xcom_push(key="plan", value=decision)
        return decision["next"]

    @task(multiple_outputs=False, retries=5)  # SMTP outages: backoff and cap from default_args
    def send(run: dict, merged: dict) -> dict:
        from wcreport.orchestration.tasks import send as send_report

        return send_report(run, merged)

    @task
    def review_requests(run: dict, ti=None) -> list[dict]:
        from wcreport.orchestration.tasks import review_cards

        return review_cards(run, ti.run_id)

    @task(multiple_outputs=False, retries=5)
    def send_correction(run: dict, answers, ti=None) -> dict:
        from wcreport.orchestration.tasks import send_correction as send_approved

        return send_approved(run, ti.xcom_pull(task_ids="plan_mail", key="plan"), list(answers))

    run = resolve_run()
    units = gather(run)
    batch = validate_quarter(run)
    units >> batch
    summaries = ingest_unit.partial(run=run).expand(unit=units)
    batch >> summaries
    merged = merge(run, summaries)
    decision = plan_mail(run, merged)
    cards = review_requests(run)
    decision >> [send(run, merged), cards]
    review = CorrectionReview.partial(task_id="review_correction").expand(card=cards)
    send_correction(run, review.output)

quarterly_report()
