"""A whole quarter through `airflow dags test`, ending in a real e-mail on loopback."""
from __future__ import annotations

import io
import json

import openpyxl
import pytest

from airflow_support import airflow_env, run_dags_test
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import FIRST_DATA_ROW, FORM_SHEET
from wcreport.report.workbook import CONT_NEXT, CONT_PREV, report_filename
from wcreport.testing.sample import write_quarter_samples

pytestmark = pytest.mark.slow
QUARTER = Quarter(2023, 1)


def sample_texts(paths) -> dict[tuple[int, str], str]:
    """(task seq, unit name) -> progress text, read back from the sample files."""
    texts = {}
    for path in paths:
        sheet = openpyxl.load_workbook(path)[FORM_SHEET]
        for row in sheet.iter_rows(min_row=FIRST_DATA_ROW, values_only=True):
            seq, _name, unit, progress, _deadline = row[:5]
            texts[(seq, unit)] = progress
    return texts


def task_block(sheet, seq: int) -> tuple[str, str]:
    """(task name, whole progress text) of a task; long text continues on the rows below."""
    rows = list(sheet.iter_rows(values_only=True))
    start = next((i for i, row in enumerate(rows) if str(row[0]).strip() == str(seq)), None)
    assert start is not None, f"no row for task {seq} in sheet {sheet.title}"
    parts = [rows[start][3]]
    for row in rows[start + 1:]:
        if row[0] is not None or not row[3]:
            break
        parts.append(row[3])
    text = "\n".join(parts).replace(CONT_NEXT + "\n" + CONT_PREV, "")
    return rows[start][1], text


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

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert [r.email for r in programme.recipients.to][0] in message["to"]
    assert QUARTER.label_zh in message["subject"]
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == report_filename(programme, QUARTER)

    workbook = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    summary = workbook["汇总表"]
    texts = sample_texts(written)
    for task in programme.tasks:
        name, progress = task_block(summary, task.seq)
        assert name == task.name
        for unit_key in task.units:
            unit_name = programme.unit(unit_key).name
            assert f"【{unit_name}】{texts[(task.seq, unit_name)]}" in progress, (task.seq, unit_name)
