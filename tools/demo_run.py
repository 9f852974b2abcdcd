"""`airflow dags test quarterly_report` for one quarter, its run id naming the quarter.

`make demo` runs the whole quarter in this one process, as `airflow dags test` does. Airflow
3.3's `dags test` takes no run id: it names the run `manual__<time>`. A manual run's quarter
is its `quarter` param, so only the one who triggers it can name it; here the id Airflow
generates for this run becomes `manual__<quarter>__<time>`, as `make ui` and the 季度报送
page name the runs they trigger.

Usage: python tools/demo_run.py QUARTER   (environment: tools/airflow_env.sh)
"""
from __future__ import annotations

import json
import re
import sys
from unittest import mock

DAG_ID = "quarterly_report"
QUARTER = re.compile(r"^\d{4}Q[1-4]$")


def quarter_run_id(quarter: str):
    """DagRun.generate_run_id as `dags test` calls it, with the quarter in the id."""
    from airflow.utils.types import DagRunType

    def generate(*, run_type, run_after, logical_date=None) -> str:
        return DagRunType(run_type).generate_run_id(suffix=f"{quarter}__{run_after.isoformat()}")

    return generate


def main(argv: list[str]) -> None:
    if len(argv) != 1 or not QUARTER.match(argv[0]):
        raise SystemExit("usage: demo_run.py QUARTER (e.g. 2023Q1)")
    quarter = argv[0]
    from airflow.cli import cli_parser
    from airflow.models.dagrun import DagRun

    args = cli_parser.get_parser().parse_args(["dags", "test", DAG_ID, "--conf", json.dumps({"quarter": quarter})])
    with mock.patch.object(DagRun, "generate_run_id", staticmethod(quarter_run_id(quarter))):
        args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
