"""
### No-op twin of `quarterly_report` (benchmark floor)

Same shape as `dags/quarterly_report.py`: the same tasks (the correction review included,
never reached: `plan_mail` always picks the first mail), default_args, params,
schedule, `map_index_template` and one mapped `ingest_unit` instance per unit, and the
same small XCom values, but no work: `gather` returns `units` made-up keys (conf
`units`, default 15). `bench/bench_e2e.py` points a temporary dags folder at this file.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task

from wcreport.orchestration.dag_defaults import default_args
from wcreport.orchestration.review import CorrectionReview
from wcreport.orchestration.timetable import quarterly_schedule

NOOP_REPORT = Asset(name="noop_consolidated_report", uri="file:///wcreport/noop_consolidated_report")


@dag(
    dag_id="quarterly_report_noop",
    schedule=quarterly_schedule(),
    start_date=pendulum.datetime(2023, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    doc_md=__doc__,
    tags=["wcreport", "bench"],
    params={
        "quarter": Param(None, type=["null", "string"], pattern=r"^\d{4}Q[1-4]$"),
        "inbox": Param(None, type=["null", "string"]),
        "output": Param(None, type=["null", "string"]),
        "units": Param(15, type="integer", minimum=1),
        "review_timeout_hours": Param(72, type="number", exclusiveMinimum=0),
        "review_timeout_action": Param("hold", enum=["hold", "send"]),
    },
)
def quarterly_report_noop():
    @task(multiple_outputs=False)
    def resolve_run(params=None) -> dict:
        return {"quarter": params.get("quarter") or "2023Q1", "inbox": params.get("inbox") or "",
                "output": params.get("output") or "", "units": int(params.get("units") or 15)}

    @task
    def gather(run: dict) -> list[str]:
        return [f"unit_{i:05d}" for i in range(run["units"])]

    @task(multiple_outputs=False)
    def validate_quarter(run: dict) -> dict:
        return {"validated": run["units"], "already_validated": 0, "unreadable": 0, "seconds": 0.0}

    @task(multiple_outputs=False, map_index_template="{{ unit_name }}")
    def ingest_unit(unit: str, run: dict) -> dict:
        get_current_context()["unit_name"] = unit
        return {"unit": unit, "unit_name": unit, "status": "submitted", "files": 1, "warnings": 0,
                "feedback": None, "data_docs": None}

    @task(multiple_outputs=False, outlets=[NOOP_REPORT])
    def merge(run: dict, unit_summaries) -> dict:
        return {"manifest": "", "report": "", "consolidated": "", "units": {"submitted": run["units"]}}

    @task.branch
    def plan_mail(run: dict, merged: dict) -> str:
        return "send"

    @task(multiple_outputs=False, retries=5)
    def send(run: dict, merged: dict) -> dict:
        return {"sent": False, "reason": "noop"}

    @task
    def review_requests(run: dict) -> list[dict]:
        return []

    @task(multiple_outputs=False, retries=5)
    def send_correction(run: dict, answers) -> dict:
        return {"sent": False, "reason": "noop"}

    run = resolve_run()
    units = gather(run)
    batch = validate_quarter(run)
    units >> batch
    summaries = ingest_unit.partial(run=run).expand(unit=units)
    batch >> summaries
    merged = merge(run, summaries)
    cards = review_requests(run)
    plan_mail(run, merged) >> [send(run, merged), cards]
    review = CorrectionReview.partial(task_id="review_correction").expand(card=cards)
    send_correction(run, review.output)


quarterly_report_noop()
