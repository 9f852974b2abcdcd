"""A whole quarter through `airflow dags test`, ending in a real e-mail on loopback."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import openpyxl
import pytest

from airflow_support import VENV_BIN, airflow_env, run_dags_test
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import FORM_SHEET
from wcreport.demo.sample import write_quarter_samples
from wcreport.report.workbook import CONT_NEXT, CONT_PREV, report_filename

pytestmark = pytest.mark.slow
QUARTER = Quarter(2023, 1)


def is_task_row(first_cell) -> bool:
    return str(first_cell if first_cell is not None else "").strip().isdigit()


def sample_texts(paths) -> dict[tuple[int, str], str]:
    """(task seq, unit name) -> progress text, read back from the sample files."""
    texts = {}
    for path in paths:
        unit = None
        for row in openpyxl.load_workbook(path)[FORM_SHEET].iter_rows(values_only=True):
            first = str(row[0] or "")
            if first.startswith("单位："):
                unit = first.removeprefix("单位：").removeprefix("（盖章）").strip()
            elif is_task_row(row[0]):
                texts[(int(first), unit)] = row[3]
    return texts


def task_block(sheet, seq: int) -> tuple[str, str]:
    """(task name, whole progress text) of a task: its rows, on as many pages as it takes
    (each page's part repeats 序号), up to the next task."""
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    start = next((i for i, row in enumerate(rows) if str(row[0]).strip() == str(seq)), None)
    assert start is not None, f"no row for task {seq} in sheet {sheet.title}"
    parts = []
    for row in rows[start:]:
        if row[0] is not None and str(row[0]).strip() != str(seq):
            break
        if row[3]:
            parts.append(row[3])
    text = "".join(part.removesuffix(CONT_NEXT).removeprefix(CONT_PREV) for part in parts)
    return rows[start][1], text


def flat(text: str) -> str:
    """Text without line breaks: where a row or page ends, the summary may break a line differently."""
    return text.replace("\n", "")


def test_quarter_end_to_end(tmp_path, programme, migrated_airflow_home, smtp_server):
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    written = write_quarter_samples(programme, QUARTER, inbox)
    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri())
    conf = json.dumps({"quarter": str(QUARTER), "inbox": str(inbox), "output": str(output)})

    result = run_dags_test(env, "quarterly_report", conf)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    manifest = json.loads((output / str(QUARTER) / "manifest.json").read_text(encoding="utf-8"))
    assert [u["status"] for u in manifest["units"]] == ["submitted"] * len(programme.units)
    assert sorted(f["status"] for f in manifest["files"]) == ["accepted"] * len(written)

    # the quarter's first mail goes out unattended: no review was asked
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert [r.email for r in programme.recipients.to][0] in message["to"]
    assert QUARTER.label_zh in message["subject"] and "更正版" not in message["subject"]
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == report_filename(programme, QUARTER)
    ledger = json.loads((output / "mail_ledger.json").read_text(encoding="utf-8"))
    assert [e["kind"] for e in ledger["sent"]] == ["original"] and ledger["reviews"] == []

    workbook = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    summary = workbook["汇总表"]
    texts = sample_texts(written)
    for task in programme.tasks:
        name, progress = task_block(summary, task.seq)
        assert name == task.name
        for unit_key in task.units:
            unit_name = programme.unit(unit_key).name
            assert flat(f"【{unit_name}】{texts[(task.seq, unit_name)]}") in flat(progress), (task.seq, unit_name)


def change_one_unit(path: Path) -> None:
    """The unit sends a corrected file: one more sentence in its first task's text."""
    workbook = openpyxl.load_workbook(path)
    sheet = workbook[FORM_SHEET]
    cell = next(row[3] for row in sheet.iter_rows() if is_task_row(row[0].value))
    cell.value = f"{cell.value}（更正：补充本季度新增完成情况。）"
    workbook.save(path)
    os.utime(path, (path.stat().st_atime + 600, path.stat().st_mtime + 600))


def test_a_correction_waits_for_the_clerk_under_dags_test(tmp_path, programme, migrated_airflow_home,
                                                           smtp_server):
    """`airflow dags test` runs no scheduler and no API server: a correction's approval request is
    written and the run waits for an answer from outside (none comes here); nothing is sent."""
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    written = write_quarter_samples(programme, QUARTER, inbox)
    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri())
    conf = json.dumps({"quarter": str(QUARTER), "inbox": str(inbox), "output": str(output)})
    assert run_dags_test(env, "quarterly_report", conf).returncode == 0
    assert len(smtp_server.messages) == 1

    change_one_unit(written[0])
    log = tmp_path / "dags_test.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(VENV_BIN / "airflow"), "dags", "test", "quarterly_report", "--conf", conf],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while "Waiting for Human-in-the-loop input" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, "the run never asked for the clerk's answer"
            time.sleep(2)
        ledger = json.loads((output / "mail_ledger.json").read_text(encoding="utf-8"))
        [review] = ledger["reviews"]
        assert review["state"] == "pending" and review["subject"].startswith("【更正版1】")
        assert Path(review["workbook"]).name.endswith("（更正版1）.xlsx")
        time.sleep(5)
        assert len(smtp_server.messages) == 1                  # still only the original
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """End the waiting `dags test` we started (it does not stop for SIGTERM while it polls)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
