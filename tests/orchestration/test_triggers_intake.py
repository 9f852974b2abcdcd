"""What unit_intake does with the watchers' events, without a scheduler: the DAG's task functions
(``orchestration.unit_intake``) on real files, then the quarterly run's own steps.

A unit's blank form is checked and mailed about at once; a second event for the same files
checks nothing; a new version checks only its unit; the quarter-end run afterwards validates
nothing again and mails nothing again (the outcome store and the feedback ledger are shared).
"""
from __future__ import annotations

import datetime as dt
import os
from types import SimpleNamespace

import pytest
import yaml

from faults.conftest import small_programme_file
from mailsink import MailSink
from wcreport.core.programme import load_programme
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import build_unit_workbook
from wcreport.demo.sample import write_quarter_samples
from wcreport.orchestration import tasks
from wcreport.orchestration.unit_intake import arrivals, check_unit, mail_run, units_to_check

QUARTER = Quarter(2023, 1)
REJECTED, ADDRESS = "health", "wjzx@units.example.org"


def _folder_event(unit_folder: str | None = None) -> dict:
    payload = {"source": "shared_folder", "quarter": str(QUARTER), "unit_folder": unit_folder, "files": [],
               "count": 1, "signature": "x"}
    return {"unit_folder_arrivals": [SimpleNamespace(extra={"from_trigger": True, "payload": payload})]}


def feedback_mails(sink: MailSink):
    return [m for m in sink.messages if m.message["X-Wcreport-Feedback"]]


@pytest.fixture
def quarter(tmp_path, monkeypatch):
    programme_file = small_programme_file(tmp_path / "programmes")
    data = yaml.safe_load(programme_file.read_text(encoding="utf-8"))
    next(u for u in data["units"] if u["key"] == REJECTED)["email"] = ADDRESS
    programme_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    programme = load_programme(programme_file)
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    written = write_quarter_samples(programme, QUARTER, inbox)
    health = next(p for p in written if programme.unit(REJECTED).name in p.name)
    received = health.stat().st_mtime
    build_unit_workbook(programme, REJECTED, QUARTER).save(health)               # sent blank: rejected
    os.utime(health, (received, received))
    monkeypatch.setenv("REPORT_PROGRAMMES_DIR", str(programme_file.parent))
    with MailSink() as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", sink.airflow_conn_uri())
        yield SimpleNamespace(programme=programme, inbox=inbox, output=output, health=health, sink=sink,
                              received=received)


def _event_run(q, events) -> list[dict]:
    arrived = arrivals(events, {"inbox": str(q.inbox), "output": str(q.output)}, today=dt.date(2023, 3, 28))
    assert arrived["quarters"] == [str(QUARTER)] and not arrived["mail"] and mail_run(arrived) is None
    checks = units_to_check(arrived)
    for check in checks:
        check_unit(check)
    return checks


def test_event_checks_then_quarter_end_consolidates(quarter):
    q = quarter
    units = [u.key for u in q.programme.units]
    first = _event_run(q, _folder_event())
    assert sorted(c["unit"] for c in first) == sorted(units)                       # never checked before
    mails = feedback_mails(q.sink)
    assert [m.rcpt_tos for m in mails] == [[ADDRESS]] and q.health.name in mails[0].subject

    assert _event_run(q, _folder_event(q.health.parent.name)) == []                # nothing new: no check
    assert len(feedback_mails(q.sink)) == 1

    # The unit sends the blank form again (other bytes): only that unit is checked, one more mail.
    workbook = build_unit_workbook(q.programme, REJECTED, QUARTER)
    workbook.properties.creator = "卫生健康事业中心"
    corrected = q.health.with_name("卫生健康事业中心（修改）.xlsx")
    workbook.save(corrected)
    os.utime(corrected, (q.received + 600, q.received + 600))
    again = _event_run(q, _folder_event())
    assert [c["unit"] for c in again] == [REJECTED]
    assert len(feedback_mails(q.sink)) == 2

    # Quarter end: the quarterly run's steps find every outcome and every mail already recorded.
    run = tasks.resolve_run(str(QUARTER), str(q.inbox), str(q.output))
    tasks.gather(run)
    batch = tasks.validate_quarter(run)
    assert batch["validated"] == 0 and batch["already_validated"] >= len(units), batch
    summaries = [tasks.ingest(run, unit) for unit in units]
    assert {s["unit"]: s["status"] for s in summaries}[REJECTED] == "rejected"
    assert not any(s["feedback_mail"].get("sent") for s in summaries), summaries
    assert next(s for s in summaries if s["unit"] == REJECTED)["feedback_mail"]["already_sent"] == [corrected.name]
    assert len(feedback_mails(q.sink)) == 2


def test_a_file_arriving_during_a_check_is_not_lost(quarter):
    """Run 1 has listed its units when the unit sends a new version; run 1's check or the next
    run (queued by the watcher's event: max_active_runs=1) answers it."""
    q = quarter
    arrived = arrivals(_folder_event(), {"inbox": str(q.inbox), "output": str(q.output)}, today=dt.date(2023, 3, 28))
    listed = units_to_check(arrived)
    workbook = build_unit_workbook(q.programme, REJECTED, QUARTER)
    workbook.properties.creator = "during the check"
    during = q.health.with_name("卫生健康事业中心（检查期间）.xlsx")
    workbook.save(during)
    os.utime(during, (q.received + 900, q.received + 900))
    for check in listed:
        check_unit(check)
    _event_run(q, _folder_event(q.health.parent.name))
    assert [m.rcpt_tos for m in feedback_mails(q.sink)] == [[ADDRESS]]
    assert during.name in feedback_mails(q.sink)[0].subject                 # its newest version
    assert _event_run(q, _folder_event(q.health.parent.name)) == []


def test_a_manual_run_looks_at_the_current_quarters_and_the_mailbox(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_INBOX", str(tmp_path / "in"))
    got = arrivals(None, {}, today=dt.date(2023, 10, 5))            # Q3 still open for late reports
    assert got["mail"] and got["quarters"] == ["2023Q3", "2023Q4"]
    assert mail_run(got)["inbox"] == str(tmp_path / "in")
    assert units_to_check({**got, "mail": False}) == []             # no inbox folders yet: nothing to check


# --- the switch ---------------------------------------------------------------------------
def _load_dag_file(monkeypatch, value: str | None):
    import importlib.util

    from wcreport.core.settings import PROJECT_ROOT

    if value is None:
        monkeypatch.delenv("REPORT_EVENT_INTAKE_SECONDS", raising=False)
    else:
        monkeypatch.setenv("REPORT_EVENT_INTAKE_SECONDS", value)
    spec = importlib.util.spec_from_file_location("unit_intake_dag_under_test", PROJECT_ROOT / "dags" / "unit_intake.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_watchers_listen_by_default_and_zero_switches_them_off(monkeypatch):
    on = _load_dag_file(monkeypatch, None)
    assert [w.name for w in on.MAILBOX_ARRIVALS.watchers] == ["mailbox_idle"]
    (folder,) = on.FOLDER_ARRIVALS.watchers
    assert folder.name == "shared_folder_listing" and folder.trigger.serialize()[1]["poke_interval"] == 5
    off = _load_dag_file(monkeypatch, "0")
    assert off.MAILBOX_ARRIVALS.watchers == [] and off.FOLDER_ARRIVALS.watchers == []
    assert "Null" in type(off.unit_intake().timetable).__name__                 # runs only by hand


@pytest.mark.parametrize("value", ["-1", "301", "5s", "1.5"])
def test_a_nonsense_listing_interval_is_refused_naming_the_variable(monkeypatch, value):
    from wcreport.core.faults import SettingsError

    with pytest.raises(SettingsError, match=f"REPORT_EVENT_INTAKE_SECONDS={value!r}"):
        _load_dag_file(monkeypatch, value)
