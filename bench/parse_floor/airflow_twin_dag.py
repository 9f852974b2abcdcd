"""Second reference of the DAG-parse benchmark: `quarterly_report`'s shape (same airflow.sdk
names, params, asset, five tasks, one mapped) with a cron schedule and no wcreport import.
The gap between this file and dags/quarterly_report.py is what our own modules cost."""
import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task

REPORT = Asset(name="bench_twin_report", uri="file:///wcreport/bench_twin_report")


@dag(dag_id="bench_airflow_twin", schedule="0 17 L 3,6,9,12 *",
     start_date=pendulum.datetime(2023, 1, 1, tz="Asia/Shanghai"), catchup=False, max_active_runs=1,
     default_args={"owner": "bench", "retries": 2}, doc_md=__doc__, tags=["bench"],
     params={"quarter": Param(None, type=["null", "string"], pattern=r"^\d{4}Q[1-4]$"),
             "inbox": Param(None, type=["null", "string"]),
             "output": Param(None, type=["null", "string"])})
def bench_airflow_twin():
    @task
    def resolve_run(params=None) -> dict:
        return dict(params)

    @task
    def gather(run: dict) -> list[str]:
        return []

    @task(map_index_template="{{ unit_name }}")
    def ingest_unit(unit: str, run: dict) -> dict:
        get_current_context()["unit_name"] = unit
        return {}

    @task(trigger_rule="all_done", outlets=[REPORT])
    def merge(run: dict, unit_summaries) -> dict:
        return {}

    @task(retries=6, retry_exponential_backoff=True)
    def send(run: dict, merged: dict) -> dict:
        return {}

    run = resolve_run()
    send(run, merge(run, ingest_unit.partial(run=run).expand(unit=gather(run))))


bench_airflow_twin()
