"""Reminders over a real SMTP server on 127.0.0.1: who gets one, what it says, once a day."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from mailsink import MailSink
from wcreport.core.model import FileRecord, StampedCopy, UnitResult
from wcreport.core.programme import programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.core.settings import quarter_paths
from wcreport.deliver.reminders import LEDGER_NAME, due_quarter, unit_addresses
from wcreport.orchestration.tasks import remind_units

Q = Quarter(2023, 1)
MISSING = ("sibaoshan", "zhongbu")
REJECTED = "health"


@pytest.fixture(scope="module")
def programme():
    return programme_for_year(2023)


@pytest.fixture
def sink(monkeypatch, tmp_path):
    with MailSink() as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.airflow_conn_uri())
        monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow_home"))
        yield server


@pytest.fixture
def addresses(monkeypatch, programme):
    mapping = {u.key: f"{u.key}@units.example.org" for u in programme.units}
    monkeypatch.setenv("AIRFLOW_VAR_REPORT_UNIT_EMAILS", json.dumps(mapping))
    return mapping


def write_result(paths, programme, key: str, status: str, stamped: StampedCopy | None = None) -> None:
    unit = programme.unit(key)
    result = UnitResult(quarter=str(Q), unit=key, unit_name=unit.name, status=status)
    if status == "submitted":
        result.stamped_copy = stamped or StampedCopy(path=f"{unit.name}.pdf", readable=True, seal=True)
    if status == "rejected":
        feedback = paths.feedback / f"{unit.name}_反馈.html"
        feedback.parent.mkdir(parents=True, exist_ok=True)
        feedback.write_text("<p>D7：本季度具体措施及任务进度情况不能为空。</p>", encoding="utf-8")
        result.feedback = str(feedback.relative_to(paths.output_root))
        result.files = [FileRecord(path="卫健中心.xlsx", size=10, mtime=0.0, unit=key,
                                   status="rejected",
                                   reasons=["工作表「报表」D7：本季度具体措施及任务进度情况不能为空。"])]
    paths.units.mkdir(parents=True, exist_ok=True)
    (paths.units / f"{key}.json").write_text(result.model_dump_json(), encoding="utf-8")


@pytest.fixture
def quarter_with_two_missing_one_rejected(tmp_path, programme):
    paths = quarter_paths(Q, tmp_path / "inbox", tmp_path / "output")
    for unit in programme.units:
        if unit.key == "sibaoshan":
            continue                      # never processed: no units/<key>.json at all
        status = ("missing" if unit.key in MISSING else
                  "rejected" if unit.key == REJECTED else "submitted")
        write_result(paths, programme, unit.key, status)
    return paths


def test_three_reminders_then_none_the_same_day(sink, addresses, programme,
                                                quarter_with_two_missing_one_rejected):
    paths = quarter_with_two_missing_one_rejected
    today = dt.date(2023, 3, 28)

    first = remind_units(paths, programme, today)
    messages = sink.wait_for(3, timeout=10)
    assert sorted(first.sent) == sorted([*MISSING, REJECTED])
    assert len(messages) == 3
    by_unit = {m.message["X-Wcreport-Unit"]: m for m in messages}
    assert set(by_unit) == {*MISSING, REJECTED}
    for key, mail in by_unit.items():
        assert mail.rcpt_tos == [addresses[key]]
        assert programme.unit(key).name in mail.body_text()

    for key in MISSING:
        mail = by_unit[key]
        assert mail.message["X-Wcreport-Reminder"] == "missing"
        assert mail.subject == "【提醒】请于3月31日前报送2023年第1季度实事进展情况报表"
        [name] = mail.attachment_names()
        assert name.endswith(".xlsx") and programme.unit(key).name in name
        assert "尚未收到贵单位" in mail.body_text()

    rejected = by_unit[REJECTED]
    assert rejected.message["X-Wcreport-Reminder"] == "rejected"
    assert "未通过校验" in rejected.subject
    assert rejected.attachment_names() == ["卫生健康事业中心_反馈.html"]
    assert "进度情况不能为空" in rejected.body_text()

    second = remind_units(paths, programme, today)
    assert second.sent == []
    assert sorted(second.already_sent_today) == sorted([*MISSING, REJECTED])
    assert len(sink.wait_for(4, timeout=1.5)) == 3

    ledger = json.loads((paths.output_root / LEDGER_NAME).read_text(encoding="utf-8"))
    assert sorted(e["unit"] for e in ledger["sent"]) == sorted([*MISSING, REJECTED])


def test_next_day_reminds_again_but_not_after_acceptance(sink, addresses, programme,
                                                         quarter_with_two_missing_one_rejected):
    paths = quarter_with_two_missing_one_rejected
    remind_units(paths, programme, dt.date(2023, 3, 28))
    write_result(paths, programme, REJECTED, "submitted")   # health fixed its file
    write_result(paths, programme, "sibaoshan", "submitted")
    summary = remind_units(paths, programme, dt.date(2023, 3, 29))
    assert summary.sent == ["zhongbu"]
    assert REJECTED in summary.accepted and "sibaoshan" in summary.accepted
    assert len(sink.wait_for(4, timeout=10)) == 4


def test_unit_without_address_is_skipped_and_reported(sink, monkeypatch, programme,
                                                      quarter_with_two_missing_one_rejected):
    monkeypatch.setenv("AIRFLOW_VAR_REPORT_UNIT_EMAILS",
                       json.dumps({"zhongbu": "zhongbu@units.example.org"}))
    summary = remind_units(quarter_with_two_missing_one_rejected, programme,
                             dt.date(2023, 3, 28))
    assert summary.sent == ["zhongbu"]
    assert sorted(summary.no_address) == ["health", "sibaoshan"]


def test_variable_overrides_programme_email(programme):
    with_email = programme.model_copy(update={"units": [
        u.model_copy(update={"email": f"{u.key}@programme.example.org"}) for u in programme.units]})
    mapping = unit_addresses(with_email, {"health": "new@units.example.org", "nobody": "x@y.z"})
    assert mapping["health"] == "new@units.example.org"
    assert mapping["zhongbu"] == "zhongbu@programme.example.org"
    assert "nobody" not in mapping


@pytest.mark.parametrize("day, expected", [
    (dt.date(2023, 3, 24), None),          # Friday, before the 5-day window
    (dt.date(2023, 3, 26), None),          # Sunday inside the window
    (dt.date(2023, 3, 27), "2023Q1"),
    (dt.date(2023, 3, 31), "2023Q1"),      # the deadline itself
    (dt.date(2023, 4, 3), None),           # after the deadline
    (dt.date(2023, 9, 28), "2023Q3"),      # last working day before National Day
    (dt.date(2023, 9, 29), None),          # Mid-Autumn holiday, inside the window
])
def test_reminder_days(programme, day, expected):
    found = due_quarter(day, load=lambda year: programme)
    assert (str(found[0]) if found else None) == expected


def test_remind_one_unit_now_reaches_only_that_unit(sink, addresses, programme,
                                                    quarter_with_two_missing_one_rejected):
    paths = quarter_with_two_missing_one_rejected
    summary = remind_units(paths, programme, dt.date(2023, 2, 10), only_units=["zhongbu"])
    (message,) = sink.wait_for(1, timeout=10)
    assert summary.sent == ["zhongbu"]
    assert message.message["X-Wcreport-Unit"] == "zhongbu"
    assert message.rcpt_tos == [addresses["zhongbu"]]


@pytest.mark.parametrize("copy, says", [
    (None, "尚未收到贵单位的盖章扫描件"),
    (StampedCopy(path="x.pdf", readable=True, seal=False), "收到的盖章扫描件未见公章"),
    (StampedCopy(path="x.pdf", readable=False), "收到的盖章扫描件无法读取"),
])
def test_a_unit_that_owes_its_stamped_copy_is_asked_for_it(sink, addresses, programme, tmp_path, copy, says):
    paths = quarter_paths(Q, tmp_path / "inbox", tmp_path / "output")
    write_result(paths, programme, "health", "submitted", stamped=copy)
    if copy is None:
        result = UnitResult.model_validate_json((paths.units / "health.json").read_text(encoding="utf-8"))
        result.stamped_copy = None
        (paths.units / "health.json").write_text(result.model_dump_json(), encoding="utf-8")
    summary = remind_units(paths, programme, dt.date(2023, 3, 28), only_units=["health"])
    [mail] = sink.wait_for(1, timeout=10)
    assert summary.sent == ["health"]
    assert mail.message["X-Wcreport-Reminder"] == "stamped" and "盖章扫描件" in mail.subject
    assert says in mail.body_text() and mail.attachment_names() == []


def test_a_greyscale_copy_is_not_reminded(sink, addresses, programme, tmp_path):
    paths = quarter_paths(Q, tmp_path / "inbox", tmp_path / "output")
    write_result(paths, programme, "health", "submitted", stamped=StampedCopy(path="x.pdf", readable=True, seal=None))
    summary = remind_units(paths, programme, dt.date(2023, 3, 28), only_units=["health"])
    assert summary.accepted == ["health"] and summary.sent == []


@pytest.mark.parametrize("unit, kind", [("zhongbu", "missing"), (REJECTED, "rejected")])
def test_after_the_deadline_a_reminder_says_it_has_passed(sink, addresses, programme,
                                                         quarter_with_two_missing_one_rejected, unit, kind):
    summary = remind_units(quarter_with_two_missing_one_rejected, programme, dt.date(2023, 4, 6), only_units=[unit])
    [mail] = sink.wait_for(1, timeout=10)
    assert summary.sent == [unit] and mail.message["X-Wcreport-Reminder"] == kind
    html = mail.message.get_body(("html",)).get_content()
    for text in (mail.subject, mail.body_text(), html):
        assert "3月31日前" not in text
    assert "报送截止日期3月31日已过" in mail.body_text() and "报送截止日期3月31日已过" in html
    assert "尽快" in mail.body_text()
    if kind == "missing":
        assert mail.subject == "【提醒】报送截止日期已过，请尽快报送2023年第1季度实事进展情况报表"


def test_before_the_deadline_a_reminder_names_it(sink, addresses, programme, quarter_with_two_missing_one_rejected):
    remind_units(quarter_with_two_missing_one_rejected, programme, dt.date(2023, 3, 28), only_units=["zhongbu"])
    [mail] = sink.wait_for(1, timeout=10)
    assert "请于3月31日前报送" in mail.body_text() and "已过" not in mail.body_text()
