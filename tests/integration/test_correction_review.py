"""The review gate for corrections, through Airflow's own REST API on a real topology.

PostgreSQL, api-server, scheduler and dag-processor (LocalExecutor), no triggerer: on
Airflow 3.3 a human-in-the-loop task parks in ``awaiting_input`` and is resumed by the API
server (an answer) or the scheduler (the timeout), so none is needed. One quarter:

1. the first run mails the original unattended (the review task is skipped);
2. a unit corrects its file: the next run asks the clerk (HITL detail over the REST API
   shows what changed and the workbook) and sends nothing until answered; approving sends
   exactly one 更正版1;
3. another correction, rejected: nothing is sent, and a rerun over the same content asks nothing;
4. another correction nobody answers: after the run's ``review_timeout_hours`` the scheduler
   applies the default (do not send).

About 8-10 minutes on 2 cores.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import openpyxl
import pytest
from harness import AirflowStack

from wcreport.core.programme import programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import FORM_SHEET
from wcreport.demo.sample import write_quarter_samples
from wcreport.report.workbook import report_filename

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2400)]

DAG_ID = "quarterly_report"
REVIEW = "review_correction"
QUARTER = Quarter(2023, 1)
SEND, HOLD = "发送更正版", "不发送"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
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


def correct_file(path: Path, note: str) -> None:
    """The unit sends a corrected workbook under the same name, a little later."""
    stat = path.stat()
    workbook = openpyxl.load_workbook(path)
    cell = next(row[3] for row in workbook[FORM_SHEET].iter_rows()
                if str(row[0].value if row[0].value is not None else "").strip().isdigit())
    cell.value = f"{cell.value}{note}"
    workbook.save(path)
    os.utime(path, (stat.st_atime + 600, stat.st_mtime + 600))


def states(api, run_id: str) -> dict[str, str]:
    """Unmapped tasks, and the review's one card (a fresh run asks once: map index 0)."""
    return {t["task_id"]: t["state"] for t in api.task_instances(DAG_ID, run_id)
            if t["map_index"] == -1 or (t["task_id"] == REVIEW and t["map_index"] == 0)}


def hitl_path(run_id: str) -> str:
    return f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{REVIEW}/0/hitlDetails"


def wait_for_review(api, run_id: str, timeout: float = 900) -> dict:
    """The run's approval request, once the review task has settled into waiting for an answer.

    Airflow 3.3.2 loses an answer that arrives before the scheduler has handled the parked
    worker's exit (about a second): the task goes up for retry and asks again. A person never
    answers that fast; the test waits until the task has been waiting on two polls 5 s apart.
    """
    deadline = time.monotonic() + timeout
    waiting_since = None
    while time.monotonic() < deadline:
        current = states(api, run_id)
        if current.get(REVIEW) != "awaiting_input":
            waiting_since = None
        elif waiting_since is None:
            waiting_since = time.monotonic()
        elif time.monotonic() - waiting_since >= 5:
            return api.request("GET", hitl_path(run_id))
        assert api.run(DAG_ID, run_id)["state"] != "failed", current
        time.sleep(3)
    raise TimeoutError(f"{REVIEW} never waited for input: {states(api, run_id)}")


def ledger(folders) -> dict:
    return json.loads((folders["output"] / "mail_ledger.json").read_text(encoding="utf-8"))


def test_corrections_wait_for_the_clerk(stack, mail_sink, folders):
    api = stack.api
    api.wait_dag(DAG_ID)
    api.unpause(DAG_ID)
    conf = {"quarter": str(QUARTER), "inbox": str(folders["inbox"]), "output": str(folders["output"])}
    programme = programme_for_year(QUARTER.year)
    name = report_filename(programme, QUARTER)

    # 1. the original, unattended
    first = api.trigger(DAG_ID, conf)
    assert api.wait_run(DAG_ID, first, timeout=900)["state"] == "success", states(api, first)
    assert states(api, first)[REVIEW] == "skipped" and states(api, first)["send"] == "success"
    [original] = mail_sink.wait_for(1)
    assert "更正版" not in original.subject

    # 2. a correction waits; the REST API shows what changed and where the workbook is
    correct_file(folders["files"][0], "（更正：补充本季度新增完成情况。）")
    second = api.trigger(DAG_ID, conf)
    detail = wait_for_review(api, second)
    assert detail["subject"].startswith("审核【更正版1】")
    assert detail["options"] == [SEND, HOLD] and detail["defaults"] == [HOLD]
    assert "：报送了更正后的报表" in detail["body"] and "（更正版1）.xlsx" in detail["body"]
    assert detail["response_received"] is False
    assert len(mail_sink.snapshot()) == 1
    api.request("PATCH", hitl_path(second), json={"chosen_options": [SEND], "params_input": {}})
    assert api.wait_run(DAG_ID, second, timeout=600)["state"] == "success", states(api, second)
    mails = mail_sink.wait_for(2)
    assert len(mails) == 2 and mails[1].subject.startswith("【更正版1】")
    assert mails[1].attachment_names() == [name.replace(".xlsx", "（更正版1）.xlsx")]
    assert [e["kind"] for e in ledger(folders)["sent"]] == ["original", "correction"]
    assert ledger(folders)["sent"][1]["approved_by"] == stack.user

    # 3. a rejected correction: nothing sent, and the same content is not asked again
    correct_file(folders["files"][1], "（再次更正。）")
    third = api.trigger(DAG_ID, conf)
    assert wait_for_review(api, third)["subject"].startswith("审核【更正版2】")
    api.request("PATCH", hitl_path(third), json={"chosen_options": [HOLD], "params_input": {}})
    assert api.wait_run(DAG_ID, third, timeout=600)["state"] == "success", states(api, third)
    assert states(api, third)["send_correction"] == "success"
    assert ledger(folders)["reviews"][-1]["state"] == "rejected"
    again = api.trigger(DAG_ID, conf)
    assert api.wait_run(DAG_ID, again, timeout=900)["state"] == "success"
    assert states(api, again)[REVIEW] == "skipped" and states(api, again)["send"] == "skipped"

    # 4. nobody answers: the scheduler applies the default when the run's timeout passes
    correct_file(folders["files"][2], "（第三次更正。）")
    fourth = api.trigger(DAG_ID, {**conf, "review_timeout_hours": 0.01})      # 36 seconds
    wait_for_review(api, fourth)
    assert api.wait_run(DAG_ID, fourth, timeout=600)["state"] == "success", states(api, fourth)
    answered = api.request("GET", hitl_path(fourth))
    assert answered["chosen_options"] == [HOLD] and answered["responded_by_user"] is None
    assert ledger(folders)["reviews"][-1]["state"] == "expired"

    time.sleep(5)
    assert len(mail_sink.snapshot()) == 2            # the original and 更正版1, nothing else
