"""Markup planted in every field a unit controls never reaches any HTML we write unescaped.

Fields: cell texts (task name, responsible unit, progress, deadline), the 单位 line, sheet
names, file and folder names, indicator names and values. The quarter runs through the
same functions the DAG calls; then every HTML file under the output folder (feedback
pages, our Data Docs pages and GX's own), the leaders' mail, the reminders, the unit
feedback mails and the ops alert are searched for the payload unescaped.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest

from faults.conftest import QUARTER, small_programme_file
from intake.corpus import Book, Sheet, form_sheet, indicator_sheet, touch_mtime, write

PAYLOAD = "\"'><wcx>&<script>wcx()</script><img src=x onerror=wcx()>"
UNESCAPED = re.compile(r"<wcx>|<script>wcx|<img src=x onerror", re.IGNORECASE)
OLD = dt.datetime(2023, 3, 30, 9, 0).timestamp()


def hostile_forms(programme, folder):
    """An accepted edu_sports file and rejected ones, with the payload in every unit-controlled field."""
    edu = [[t.seq, t.name, "教育和体育事业中心", f"推进情况{PAYLOAD}", "2023年12月"]
           for t in programme.tasks_of("edu_sports")]
    accepted = Book([form_sheet("教育和体育事业中心", edu, name="报表<wcx>"),
                     indicator_sheet([(f"新建幼儿园{PAYLOAD}", f"1{PAYLOAD}"), (PAYLOAD, "2")], name="指标<wcx>")])
    health = [[t.seq, f"{t.name}{PAYLOAD}", f"卫健{PAYLOAD}", "" if i == 0 else PAYLOAD, PAYLOAD]
              for i, t in enumerate(programme.tasks_of("health"))]
    made = [
        write(accepted, folder / f"教体中心{PAYLOAD.replace('/', '')}.xlsx"),
        write(Book([form_sheet("卫生健康事业中心", health, name="表<wcx>")]),
              folder / "卫生健康事业中心" / f"卫健<wcx>{PAYLOAD.replace('/', '')}.xlsx"),
        write(Book([form_sheet(f"某单位{PAYLOAD}", health)]), folder / "<wcx>未知单位.xlsx"),
        write(Book([Sheet(f"<wcx>{i}", [[PAYLOAD]]) for i in range(2)]), folder / "无表头<wcx>.xlsx"),
    ]
    for path in made:
        touch_mtime(path, OLD)
    return made


def unescaped_in(text: str) -> list[str]:
    return [text[max(0, m.start() - 60):m.end() + 20] for m in UNESCAPED.finditer(text)]


@pytest.fixture
def hostile_quarter(tmp_path, monkeypatch):
    from wcreport.orchestration import tasks

    small_programme_file(tmp_path / "programmes")
    monkeypatch.setenv("REPORT_PROGRAMMES_DIR", str(tmp_path / "programmes"))
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    run = tasks.resolve_run(QUARTER, str(inbox), str(output))
    hostile_forms(tasks.programme_of(run), inbox / QUARTER)
    for unit in tasks.gather(run):
        tasks.ingest(run, unit)
    merged = tasks.merge(run)
    return run, merged, output


def test_no_html_we_write_carries_unit_markup(hostile_quarter):

    run, merged, output = hostile_quarter
    manifest = (output / QUARTER / "manifest.json").read_text(encoding="utf-8")
    assert "<wcx>" in manifest                                   # the payload did get in
    pages = sorted(output.rglob("*.html"))
    kinds = {p.relative_to(output / QUARTER).parts[0] for p in pages}
    assert {"feedback", "data_docs"} <= kinds, kinds
    assert any("validations" in p.parts for p in pages)          # GX's own pages are checked too
    assert '"status": "submitted"' in manifest                   # the accepted file's text is shown too
    found = {str(p.relative_to(output)): hits for p in pages if (hits := unescaped_in(p.read_text("utf-8")))}
    assert found == {}
    escaped = sum("&lt;wcx&gt;" in p.read_text("utf-8") for p in pages)
    assert escaped >= 3                                          # the payload is shown, escaped
    twice = [str(p.relative_to(output)) for p in pages if "&amp;lt;wcx" in p.read_text("utf-8")]
    assert twice == []                                           # and escaped once: it reads as typed

    for name, html in mail_bodies(run, merged).items():
        assert unescaped_in(html) == [], name


def mail_bodies(run: dict, merged: dict) -> dict[str, str]:
    """HTML bodies of every mail the quarter produces: leaders' report, reminders, unit feedback, ops alert."""
    from wcreport.deliver import reminders
    from wcreport.deliver.compose import compose_html
    from wcreport.flow.mail import read_consolidated
    from wcreport.orchestration import alerts, tasks

    paths, programme = tasks.paths_of(run), tasks.programme_of(run)
    consolidated = read_consolidated(merged["consolidated"])
    bodies = {"report": compose_html(consolidated, programme, "original", [], "报表.xlsx", 1),
              "correction": compose_html(consolidated, programme, "correction", [f"变化{PAYLOAD}"], "报表.xlsx", 2)}
    for state in reminders.unit_states(paths, programme):
        mail = reminders.compose(state, programme, paths.quarter, dt.date(2023, 3, 28), "x@example.org", None)
        bodies[f"reminder {state.unit}"] = mail.html
    try:
        from wcreport.deliver import unit_feedback
    except ImportError:
        unit_feedback = None
    if unit_feedback is not None:
        for key in ("edu_sports", "health"):
            result = tasks.load_unit_result(paths, programme, key)
            for record in result.files:
                mail = unit_feedback.compose(paths, programme, result, record)
                bodies[f"feedback mail {record.path}"] = mail.html + mail.page_html
    report = alerts.FailureReport(dag_id="quarterly_report", run_id="r", task_id="gather", unit=PAYLOAD,
                                  map_index=0, try_number=1, reason=f"InternalError: {PAYLOAD}", log_url=None)
    bodies["alert"] = alerts.failure_body(report)
    return bodies
