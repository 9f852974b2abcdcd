"""Bounds wherever unit input flows: one hostile file cannot bloat the findings, pages, manifest or mail,
and rows beyond the reader's limit are a finding, never a silent drop."""
from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from faults.conftest import QUARTER, small_programme_file
from intake.corpus import touch_mtime
from wcreport.flow.mail import read_consolidated
from wcreport.intake.reader import MAX_ROWS
from wcreport.validate.limits import MAX_FINDINGS_PER_FILE

OLD = dt.datetime(2023, 3, 30, 9, 0).timestamp()


def long_form(path, programme, junk_rows: int, tail_row: int | None = None):
    """The edu_sports form followed by ``junk_rows`` broken task rows; its last task at ``tail_row`` if given."""
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("报表")
    ws.append(["2023年为高新区妇女儿童办实事工作进展情况报表"])
    ws.append(["单位：教育和体育事业中心"])
    ws.append(["序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", "完成时限"])
    tasks = programme.tasks_of("edu_sports")
    for task in tasks[:-1]:
        ws.append([task.seq, task.name, "教育和体育事业中心", "已推进。", "2023年12月"])
    for i in range(junk_rows):          # the unit's tasks again and again, progress empty, deadline unreadable
        task = tasks[i % len(tasks)]
        ws.append([task.seq, task.name, "教育和体育事业中心", "", f"某天{i}"])
    row = 3 + len(tasks) - 1 + junk_rows
    if tail_row is not None:
        for _ in range(tail_row - row - 1):
            ws.append([])
        last = tasks[-1]
        ws.append([last.seq, last.name, "教育和体育事业中心", "放在很后面的一行。", "2023年12月"])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    touch_mtime(path, OLD)
    return path


@pytest.fixture
def quarter_run(tmp_path, monkeypatch):
    from wcreport.orchestration import tasks

    small_programme_file(tmp_path / "programmes")
    monkeypatch.setenv("REPORT_PROGRAMMES_DIR", str(tmp_path / "programmes"))
    run = tasks.resolve_run(QUARTER, str(tmp_path / "inbox"), str(tmp_path / "output"))
    (tmp_path / "inbox" / QUARTER).mkdir(parents=True)
    return run, tasks.programme_of(run), tmp_path / "inbox" / QUARTER, tmp_path / "output"


def run_quarter(run):
    from wcreport.orchestration import tasks

    for unit in tasks.gather(run):
        tasks.ingest(run, unit)
    return tasks.merge(run)


@pytest.mark.slow
def test_a_hostile_file_is_capped_everywhere(quarter_run):
    from wcreport.deliver.mail import compose_html
    from wcreport.orchestration import tasks

    run, programme, inbox, output = quarter_run
    long_form(inbox / "教体中心.xlsx", programme, junk_rows=MAX_ROWS)
    merged = run_quarter(run)
    result = tasks.load_unit_result(tasks.paths_of(run), programme, "edu_sports")
    (record,) = result.files
    assert result.status == "rejected"
    assert len(record.findings) <= MAX_FINDINGS_PER_FILE + 1
    assert "另有" in record.findings[-1].message and "处问题未列出" in record.findings[-1].message
    assert len(record.reasons) <= MAX_FINDINGS_PER_FILE + 1
    sizes = {"feedback": (output / record.feedback).stat().st_size,
             "manifest": (output / QUARTER / "manifest.json").stat().st_size,
             "data docs": max(p.stat().st_size for p in (output / QUARTER / "data_docs" / "units").glob("*.html"))}
    consolidated = read_consolidated(merged["consolidated"])
    sizes["mail"] = len(compose_html(consolidated, programme, "original", [], "报表.xlsx", 1).encode("utf-8"))
    assert sizes["feedback"] < 60_000 and sizes["data docs"] < 120_000, sizes
    assert sizes["manifest"] < 200_000 and sizes["mail"] < 60_000, sizes


def test_rows_beyond_the_limit_are_a_finding_not_a_silent_drop(quarter_run):
    from wcreport.orchestration import tasks

    run, programme, inbox, output = quarter_run
    long_form(inbox / "教体中心.xlsx", programme, junk_rows=0, tail_row=MAX_ROWS + 206)
    run_quarter(run)
    result = tasks.load_unit_result(tasks.paths_of(run), programme, "edu_sports")
    assert result.status == "rejected"
    (record,) = result.files
    assert any(f.code == "table.too_many_rows" for f in record.findings), [f.code for f in record.findings]
    assert any(f"第 {MAX_ROWS} 行" in r for r in record.reasons), record.reasons
