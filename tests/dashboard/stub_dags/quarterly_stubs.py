"""Stand-ins for the browser test: same dag_ids, task_ids and mapping as the real DAGs.

``quarterly_report`` maps ``ingest_unit`` over the programme's units in programme order
(so map index = position in programme.units), with ``merge`` downstream; nothing reads
an inbox. ``quarterly_reminders`` accepts the dashboard's conf and does nothing.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="quarterly_report", schedule=None, start_date=pendulum.datetime(2023, 1, 1, tz="Asia/Shanghai"),
     catchup=False, params={"quarter": None})
def quarterly_report():
    @task
    def gather() -> list[str]:
        from wcreport.core.programme import programme_for_year

        return [u.key for u in programme_for_year(2023).units]

    @task
    def ingest_unit(unit: str) -> str:
        return unit

    @task(trigger_rule="all_done")
    def merge(done) -> int:
        return len(list(done))

    merge(ingest_unit.expand(unit=gather()))


@dag(dag_id="quarterly_reminders", schedule=None, start_date=pendulum.datetime(2023, 1, 1, tz="Asia/Shanghai"),
     catchup=False, params={"quarter": None, "units": []})
def quarterly_reminders():
    @task
    def remind(params=None) -> dict:
        return dict(params or {})

    remind()


quarterly_report()
quarterly_reminders()
