"""Feedback the moment a file is checked: a rejected (or warned) version is mailed to its unit
once, through a real SMTP server on 127.0.0.1; reruns send nothing, a new version one more;
an outage sends later; mailbox arrivals and the leaders get nothing."""
from __future__ import annotations

import datetime as dt
import json
import os
from email.utils import getaddresses
from pathlib import Path

import pytest
import yaml
from wcreport_testing.net import free_port

from airflow_support import PROJECT_ROOT
from mailsink import MailSink
from wcreport.core.io import read_json
from wcreport.core.programme import load_programme
from wcreport.core.quarter import TZ, Quarter
from wcreport.core.settings import quarter_paths
from wcreport.deliver.address_book import AddressBook, address_book
from wcreport.deliver.forms import FIRST_DATA_ROW, FORM_SHEET, build_unit_workbook
from wcreport.deliver.smtp import MailError, SmtpSettings
from wcreport.deliver.unit_feedback import (
    feedback_message_id,
    ledger_key,
    ledger_path,
    send_unit_feedback,
    versions_to_report,
)
from wcreport.demo.sample import write_quarter_samples
from wcreport.flow.ingest_unit import decide_unit as ingest_unit
from wcreport.flow.ingest_unit import ingest_unit as ingest_unit_step
from wcreport.flow.run import QuarterRun

Q = Quarter(2023, 2)
UNIT, UNIT_NAME = "health", "卫生健康事业中心"
UNIT_ADDRESS = "wjzx@units.example.org"
LEADERS = "gxqzzrsbqtk@zb.shandong.cn"
RECEIVED = dt.datetime(2023, 6, 20, 9, 0, tzinfo=TZ).timestamp()


@pytest.fixture
def programme_dir(tmp_path) -> Path:
    """The 2023 programme with e-mail addresses for two units (the real file has none yet)."""
    data = yaml.safe_load((PROJECT_ROOT / "include" / "programmes" / "2023.yaml").read_text(encoding="utf-8"))
    for unit in data["units"]:
        if unit["key"] == UNIT:
            unit["email"] = UNIT_ADDRESS
        if unit["key"] == "zhongbu":
            unit["emails"] = ["zbz@units.example.org"]
    folder = tmp_path / "programmes"
    folder.mkdir()
    (folder / "2023.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.fixture
def prog(programme_dir):
    return load_programme(programme_dir / "2023.yaml")


@pytest.fixture
def paths(tmp_path):
    return quarter_paths(Q, tmp_path / "inbox", tmp_path / "output")


@pytest.fixture
def sink():
    with MailSink() as server:
        yield server


def smtp_of(server: MailSink) -> SmtpSettings:
    return SmtpSettings(host=server.host, port=server.port, sender="wcreport@qtk.example", timeout=10)


def put(paths, prog, name: str, *, filled: int = 0, deadlines: bool = False, task_name: str | None = None,
        unit: str = UNIT, minutes: int = 0) -> Path:
    """A version of the unit's file in its folder: the first ``filled`` tasks written in."""
    tasks = prog.tasks_of(unit)
    workbook = build_unit_workbook(prog, unit, Q,
                                   progress={t.seq: f"本季度开展第{t.seq}项工作，完成摸底调查。" for t in tasks[:filled]},
                                   deadlines={t.seq: "2023年12月底" for t in tasks} if deadlines else {})
    if task_name:
        workbook[FORM_SHEET].cell(FIRST_DATA_ROW, 2).value = task_name
    path = paths.inbox / prog.unit(unit).name / name
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    os.utime(path, (RECEIVED + 60 * minutes, RECEIVED + 60 * minutes))
    return path


def run(paths, prog, server: MailSink | None, unit: str = UNIT):
    """One ingest of the unit, then its feedback (what the ingest task does)."""
    result = ingest_unit(paths, prog, unit, max_wait_seconds=0)
    return result, send_unit_feedback(paths, prog, result, lambda: smtp_of(server),
                                      today=dt.date(2023, 6, 21))


# --- once per version ---------------------------------------------------------------------
def test_a_rejected_version_is_mailed_once_and_a_new_one_once_more(paths, prog, sink):
    put(paths, prog, "卫健中心报表.xlsx")
    result, outcome = run(paths, prog, sink)
    assert result.status == "rejected" and outcome.sent == [f"{UNIT_NAME}/卫健中心报表.xlsx"]
    (mail,) = sink.messages
    assert [a for _n, a in getaddresses([str(mail.message["To"])])] == [UNIT_ADDRESS]
    assert mail.rcpt_tos == [UNIT_ADDRESS] and LEADERS not in str(mail.message)
    assert "已退回" in mail.subject and "卫健中心报表.xlsx" in mail.subject
    body = mail.body_text()
    assert "卫生健康事业中心：" in body and "未通过，已退回" in body and "「本季度具体措施及任务进度情况」为空" in body
    assert "于2023年6月30日前" in body and "3580430" in body
    assert mail.attachment_names() == ["反馈意见_卫健中心报表.html"]
    page = next(mail.message.iter_attachments()).get_payload(decode=True).decode("utf-8")
    assert '<meta charset="utf-8">' in page and "卫健中心报表.xlsx" in page and "必须修改" in page
    key = ledger_key(str(Q), UNIT, result.files[0].sha256)
    assert mail.message["Message-ID"] == feedback_message_id(key, "wcreport@qtk.example")
    assert mail.message["Auto-Submitted"] == "auto-generated"

    result, outcome = run(paths, prog, sink)                  # unchanged rerun
    assert len(sink.messages) == 1 and outcome.already_sent == [f"{UNIT_NAME}/卫健中心报表.xlsx"]

    put(paths, prog, "卫健中心报表（修改）.xlsx", filled=1, minutes=30)      # a new version, still rejected
    result, outcome = run(paths, prog, sink)
    assert result.status == "rejected" and len(sink.messages) == 2
    assert outcome.sent == [f"{UNIT_NAME}/卫健中心报表（修改）.xlsx"]          # the old one is superseded now
    assert "卫健中心报表（修改）.xlsx" in sink.messages[1].subject
    run(paths, prog, sink)
    assert len(sink.messages) == 2
    ledger = read_json(ledger_path(paths.output_root), dict)
    assert len(ledger["sent"]) == 2 and all(e["to"] == [UNIT_ADDRESS] for e in ledger["sent"].values())


def test_an_accepted_version_with_warnings_is_mailed_its_warnings(paths, prog, sink):
    put(paths, prog, "卫健中心报表.xlsx", filled=99, deadlines=True)
    result, outcome = run(paths, prog, sink)
    assert result.status == "submitted" and result.warnings        # indicators not reported: warnings
    (mail,) = sink.messages
    assert "已接收（有" in mail.subject and "条提醒）" in mail.subject
    assert "已接收，但有以下提醒" in mail.body_text() and "必须修改" not in mail.body_text()
    assert "尚未收到您单位的盖章扫描件" in mail.body_text()        # data passed, no stamped scan yet
    run(paths, prog, sink)
    assert len(sink.messages) == 1


def test_a_failed_correction_says_the_accepted_version_still_counts(paths, prog, sink):
    put(paths, prog, "卫健中心报表.xlsx", filled=99, deadlines=True)
    put(paths, prog, "卫健中心报表-更正.xlsx", filled=1, deadlines=True, minutes=60)
    result, _outcome = run(paths, prog, sink)
    assert result.status == "submitted" and result.rejected_corrections
    rejected = next(m for m in sink.messages if "已退回" in m.subject)
    assert "「卫健中心报表.xlsx」已接收，修改版通过检查之前，汇总仍以该文件为准" in rejected.body_text()


def test_unit_text_in_the_findings_is_escaped_in_the_html_body(paths, prog, sink):
    put(paths, prog, "卫健中心报表.xlsx", task_name="<script>alert(1)</script>实施普惠")
    run(paths, prog, sink)
    html = sink.messages[0].message.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


# --- who gets nothing -----------------------------------------------------------------------
def test_a_version_that_came_by_mail_had_its_receipt(paths, prog, sink):
    path = put(paths, prog, "卫健中心报表.xlsx")
    import hashlib

    provenance = paths.output / "mailbox" / "ledger.json"
    provenance.parent.mkdir(parents=True)
    provenance.write_text(json.dumps({"version": 1, "files": {
        path.relative_to(paths.inbox).as_posix(): {"sender": UNIT_ADDRESS,
                                                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}}),
        encoding="utf-8")
    _result, outcome = run(paths, prog, sink)
    assert sink.messages == [] and outcome.by_receipt == [f"{UNIT_NAME}/卫健中心报表.xlsx"]


def test_no_address_no_mail_and_no_smtp_needed(paths, prog):
    put(paths, prog, "报表.xlsx", unit="construction")
    result = ingest_unit(paths, prog, "construction", max_wait_seconds=0)

    def no_smtp():
        raise AssertionError("SMTP settings read although nothing can be sent")

    outcome = send_unit_feedback(paths, prog, result, no_smtp)
    assert result.status == "rejected" and outcome.no_address == ["建设局/报表.xlsx"] and not outcome.sent


def test_a_unit_whose_address_is_only_in_the_variable_gets_its_feedback(paths, prog, sink):
    """One address book: the Variable report_unit_emails (where ops put addresses for reminders)
    reaches the feedback mail too."""
    put(paths, prog, "报表.xlsx", unit="construction")
    result = ingest_unit(paths, prog, "construction", max_wait_seconds=0)
    book = address_book(prog, {"construction": "jsj@units.example.org; jsj2@units.example.org"})
    outcome = send_unit_feedback(paths, prog, result, lambda: smtp_of(sink), book=book,
                                 today=dt.date(2023, 6, 21))
    assert outcome.sent == ["建设局/报表.xlsx"]
    (mail,) = sink.messages
    assert mail.rcpt_tos == ["jsj@units.example.org", "jsj2@units.example.org"]


def test_the_address_book_prefers_the_variable_and_reads_lists_and_separators(prog):
    book = address_book(prog, {UNIT: ["a@x.cn", "not an address"], "zhongbu": "b@x.cn，c@x.cn", "nobody": "d@x.cn"})
    assert book.of(UNIT) == ["a@x.cn"]
    assert book.of("zhongbu") == ["b@x.cn", "c@x.cn"]
    assert book.of("construction") == [] and "nobody" not in book.overrides
    assert address_book(prog).of("zhongbu") == ["zbz@units.example.org"]


def test_an_accepted_version_without_warnings_gets_no_mail():
    from wcreport.core.model import FileRecord, UnitResult

    record = FileRecord(path="a.xlsx", size=1, mtime=0.0, sha256="ab", status="accepted", unit=UNIT)
    result = UnitResult(quarter=str(Q), unit=UNIT, unit_name=UNIT_NAME, status="submitted", files=[record],
                        accepted_sha256="ab")
    assert versions_to_report(result) == []


# --- outages --------------------------------------------------------------------------------
def test_an_outage_records_nothing_and_the_next_run_sends_once(paths, prog, sink):
    put(paths, prog, "卫健中心报表.xlsx")
    result = ingest_unit(paths, prog, UNIT, max_wait_seconds=0)
    down = SmtpSettings(host="127.0.0.1", port=free_port(), sender="wcreport@qtk.example", timeout=5)
    with pytest.raises(MailError):
        send_unit_feedback(paths, prog, result, lambda: down)
    assert not ledger_path(paths.output_root).exists() or read_json(ledger_path(paths.output_root), dict)["sent"] == {}
    _result, outcome = run(paths, prog, sink)
    assert len(sink.messages) == 1 and outcome.sent
    run(paths, prog, sink)
    assert len(sink.messages) == 1


# --- the ingest task, through smtp_default -------------------------------------------------------
@pytest.mark.slow
def test_the_ingest_task_mails_the_unit_and_survives_an_outage(paths, programme_dir, prog, monkeypatch, tmp_path):
    from wcreport.orchestration import tasks

    monkeypatch.setenv("REPORT_PROGRAMMES_DIR", str(programme_dir))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow_home"))
    run_conf = {"quarter": str(Q), "inbox": str(paths.inbox_root), "output": str(paths.output_root)}
    put(paths, prog, "卫健中心报表.xlsx")
    put(paths, prog, "中埠镇报表.xlsx", unit="zhongbu")
    closed = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": closed,
         "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "wcreport@qtk.example", "timeout": 5}}))
    summary = tasks.ingest(run_conf, UNIT)                       # SMTP down: the ingest still succeeds
    assert summary["status"] == "rejected" and "not_sent" in summary["feedback_mail"]
    with MailSink() as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.airflow_conn_uri("wcreport@qtk.example"))
        for unit in (UNIT, "zhongbu", "construction"):
            tasks.ingest(run_conf, unit)
        assert sorted(m.rcpt_tos[0] for m in server.messages) == [UNIT_ADDRESS, "zbz@units.example.org"]
        for unit in (UNIT, "zhongbu"):
            assert tasks.ingest(run_conf, unit)["feedback_mail"]["already_sent"]
        assert len(server.messages) == 2
        put(paths, prog, "卫健中心报表2.xlsx", filled=2, minutes=10)
        assert tasks.ingest(run_conf, UNIT)["feedback_mail"] == {"sent": [f"{UNIT_NAME}/卫健中心报表2.xlsx"]}
        assert len(server.messages) == 3
        assert all(LEADERS not in m.rcpt_tos for m in server.messages)


def test_the_variable_is_read_when_an_address_is_first_asked_for_and_once(prog):
    reads: list[int] = []

    def variable():
        reads.append(1)
        return {"zhongbu": "b@x.cn"}

    book = AddressBook(prog, variable)
    assert reads == []
    assert book.of("zhongbu") == ["b@x.cn"] and book.of(UNIT) == [UNIT_ADDRESS]
    assert len(reads) == 1


def test_an_ingest_reads_the_variable_only_when_it_has_a_mail_to_send(tmp_path, sink):
    """A unit's clean file mails nobody, so its ingest does not ask Airflow for the Variable; a
    rejected one is mailed to the Variable's address."""
    reads: list[str] = []

    def variable():
        reads.append("read")
        return {"construction": "jsj@units.example.org"}

    def quarter_in(folder: Path) -> QuarterRun:
        return QuarterRun(quarter=str(Q), inbox=str(folder / "inbox"), output=str(folder / "output"))

    clean_run, rejected_run = quarter_in(tmp_path / "clean"), quarter_in(tmp_path / "rejected")
    write_quarter_samples(clean_run.programme, Q, clean_run.paths.inbox_root)     # every unit's filled form
    clean = ingest_unit_step(clean_run, UNIT, lambda: smtp_of(sink), variable)
    assert clean["status"] == "submitted" and clean["warnings"] == 0 and reads == [] and sink.messages == []

    put(rejected_run.paths, rejected_run.programme, "报表.xlsx", unit="construction")      # nothing filled in
    rejected = ingest_unit_step(rejected_run, "construction", lambda: smtp_of(sink), variable)
    assert rejected["status"] == "rejected" and reads == ["read"]
    (mail,) = sink.messages
    assert mail.rcpt_tos == ["jsj@units.example.org"]
