"""Rerun one unit: trigger quarterly_report over the REST API, replace one unit's file,
clear that unit's mapped ingest_unit instance with downstream, and check that only that
unit was re-ingested and, once the clerk approved it through the REST API, exactly one
更正版 went out.

Real services: PostgreSQL, api-server, scheduler, dag-processor (LocalExecutor), and an
SMTP server on 127.0.0.1. About 3-4 minutes on 2 cores.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from harness import AirflowStack

from wcreport.core.programme import programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import FIRST_DATA_ROW, PROGRESS_COLUMN
from wcreport.demo.sample import write_quarter_samples

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

DAG_ID = "quarterly_report"
QUARTER = Quarter(2023, 1)
UNIT = "health"                     # the unit that replaces its file


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("rerun")
    inbox, output = root / "inbox", root / "output"
    files = write_quarter_samples(programme_for_year(QUARTER.year), QUARTER, inbox)
    return {"root": root, "inbox": inbox, "output": output, "files": files}


@pytest.fixture(scope="module")
def stack(postgres, mail_sink, folders):
    airflow = AirflowStack(folders["root"] / "stack", db_url=postgres.url, env_overrides={
        "AIRFLOW_CONN_SMTP_DEFAULT": mail_sink.airflow_conn_uri("wcreport@localhost"),
        "REPORT_OPS_EMAIL": "ops@ops.example.org",
        "REPORT_INBOX": str(folders["inbox"]),
        "REPORT_OUTPUT": str(folders["output"]),
        **{k: v for k, v in os.environ.items() if k.startswith("REPORT_PROGRAMMES")},
    })
    try:
        airflow.start()
        yield airflow
    finally:
        airflow.stop()


def replace_unit_file(path: Path) -> None:
    """The unit sends a corrected workbook under the same name, a little later."""
    from openpyxl import load_workbook

    stat = path.stat()
    workbook = load_workbook(path)
    sheet = workbook.worksheets[0]
    cell = sheet.cell(row=FIRST_DATA_ROW, column=PROGRESS_COLUMN)
    assert cell.value, f"expected progress text in {cell.coordinate} of {path.name}"
    cell.value = f"{cell.value}（更正：补充本季度新增完成情况，新增服务对象120人。）"
    workbook.save(path)
    os.utime(path, (stat.st_atime + 600, stat.st_mtime + 600))


def wait_for_review(api, run_id: str, timeout: float = 600) -> dict:
    """The approval request of the run's correction, once review_correction waits for it."""
    deadline = time.monotonic() + timeout
    waiting_since = None                # settled: see test_correction_review.wait_for_review
    while time.monotonic() < deadline:
        review = by_task(api.task_instances(DAG_ID, run_id)).get(("review_correction", 0))   # the run's 1st card
        if not review or review["state"] != "awaiting_input":
            waiting_since = None
        elif waiting_since is None:
            waiting_since = time.monotonic()
        elif time.monotonic() - waiting_since >= 5:
            return api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/"
                                      "review_correction/0/hitlDetails")
        time.sleep(3)
    raise TimeoutError("review_correction never waited for the clerk's answer")


def by_task(tis: list[dict]) -> dict[tuple[str, int], dict]:
    return {(t["task_id"], t["map_index"]): t for t in tis}


def test_clear_one_unit_reingests_only_it_and_sends_one_correction(stack, mail_sink, folders):
    programme = programme_for_year(QUARTER.year)
    index = [u.key for u in programme.units].index(UNIT)
    api = stack.api
    api.wait_dag(DAG_ID)
    api.unpause(DAG_ID)

    run_id = api.trigger(DAG_ID, {"quarter": str(QUARTER), "inbox": str(folders["inbox"]),
                                  "output": str(folders["output"])})
    run = api.wait_run(DAG_ID, run_id, timeout=900)
    first = by_task(api.task_instances(DAG_ID, run_id))
    assert run["state"] == "success", {k: v["state"] for k, v in first.items()}
    mapped = {k[1]: v for k, v in first.items() if k[0] == "ingest_unit"}
    assert len(mapped) == len(programme.units)
    assert mapped[index]["rendered_map_index"] == f"{programme.unit(UNIT).name} · 已报送"   # unit · outcome
    tries = {k: t["try_number"] for k, t in first.items()}   # 1 unless a retry happened

    mails = mail_sink.wait_for(1, timeout=30)
    assert len(mails) == 1, [m.subject for m in mails]
    assert "更正版" not in mails[0].subject

    units_dir = folders["output"] / str(QUARTER) / "units"
    before = {p.name: p.stat().st_mtime_ns for p in units_dir.glob("*.json")}
    assert len(before) == len(programme.units)

    replace_unit_file(folders["files"][index])
    cleared = api.clear_task_instances(DAG_ID, run_id, [["ingest_unit", index]])
    mail_tasks = {("merge", -1), ("plan_mail", -1), ("send", -1), ("review_requests", -1),
                  ("review_correction", -1), ("send_correction", -1)}
    assert {(t["task_id"], t["map_index"]) for t in cleared} == {("ingest_unit", index), *mail_tasks}

    # the changed report is a correction: it waits for the clerk, who approves it here
    review = wait_for_review(api, run_id)
    assert review["subject"].startswith("审核【更正版1】")
    assert len(mail_sink.snapshot()) == 1
    api.request("PATCH", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/review_correction/0/hitlDetails",
                json={"chosen_options": ["发送更正版"], "params_input": {}})

    def rerun_done(_run: dict) -> bool:
        sent = by_task(api.task_instances(DAG_ID, run_id))[("send_correction", -1)]
        return sent["state"] == "success"

    run = api.wait_run(DAG_ID, run_id, timeout=600, until=rerun_done)
    assert run["state"] == "success"

    second = by_task(api.task_instances(DAG_ID, run_id))
    rerun = {k for k, t in second.items() if t["try_number"] != tries.get(k)}
    # send is skipped by the branch (a correction goes through the review), so it never ran again;
    # the review, unexpanded in the first run, now has its one card (map index 0)
    assert rerun == {("ingest_unit", index), *mail_tasks, ("review_correction", 0)} - {
        ("send", -1), ("review_correction", -1)}
    assert second[("send", -1)]["state"] == "skipped"
    assert all(t["state"] in ("success", "skipped") for t in second.values())

    after = {p.name: p.stat().st_mtime_ns for p in units_dir.glob("*.json")}
    assert {name for name in after if after[name] != before[name]} == {f"{UNIT}.json"}

    mails = mail_sink.wait_for(2, timeout=30)
    assert len(mails) == 2, [m.subject for m in mails]
    corrections = [m for m in mails if "更正版" in m.subject]
    assert len(corrections) == 1 and corrections[0] is mails[1]
    assert not any(m.message["X-Wcreport-Alert"] for m in mails)
