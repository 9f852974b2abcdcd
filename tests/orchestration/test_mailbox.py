"""mailbox_intake's glue and receipts: when to poll, the imap_default connection, and replies
that survive a restart between saving and answering (real loopback SMTP server)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from wcreport_testing import chinese_mail as cm
from wcreport_testing.net import free_port

from mailsink import MailSink
from wcreport.core.quarter import TZ
from wcreport.deliver.receipts import Receipt, ReceivedFile, receipt_message_id, render_receipt, reply_headers
from wcreport.deliver.smtp import MailError, SmtpSettings
from wcreport.intake import mailbox as mb
from wcreport.intake.mailparts import Limits
from wcreport.orchestration import mailbox as om

WHEN = dt.datetime(2023, 9, 26, 9, 30, tzinfo=TZ)


# --- when -------------------------------------------------------------------------
@pytest.mark.parametrize(("hhmm", "busy", "manual", "polls"), [
    ("10:00", False, False, True), ("10:20", False, False, False), ("10:20", True, False, True),
    ("10:50", False, True, True),
])
def test_poll_due_every_ten_minutes_only_before_a_deadline(hhmm, busy, manual, polls):
    hour, minute = map(int, hhmm.split(":"))
    now = dt.datetime(2023, 9, 26, hour, minute, tzinfo=TZ).astimezone(dt.UTC)
    assert om.poll_due(now, manual=manual, busy=lambda day: "Q" if busy else None) is polls


def test_poll_due_uses_the_reminder_days_by_default():
    assert om.poll_due(dt.datetime(2023, 9, 26, 10, 20, tzinfo=TZ)) is True     # a reminder day of 2023Q3
    assert om.poll_due(dt.datetime(2023, 8, 15, 10, 20, tzinfo=TZ)) is False


def test_imap_settings_read_like_the_imap_provider(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", json.dumps(
        {"conn_type": "imap", "host": "imap.example.cn", "login": "qtk@example.cn", "password": "app-pw"}))
    settings = om.imap_settings()
    assert (settings.host, settings.port, settings.use_ssl, settings.folder) == ("imap.example.cn", 993, True, "INBOX")
    assert "app-pw" not in repr(settings)
    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", json.dumps(
        {"conn_type": "imap", "host": "h", "login": "u", "extra": {"use_ssl": "false"}}))
    assert (om.imap_settings(folder="报送").port, om.imap_settings().use_ssl) == (143, False)
    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", json.dumps({"conn_type": "imap", "login": "u"}))
    with pytest.raises(om.MailboxConfigError, match="no host"):
        om.imap_settings()


# --- receipts ---------------------------------------------------------------------
def _receipt(**overrides) -> Receipt:
    values = dict(key="mid:<a@x>", to="a@x.cn", subject="三季度报表<script>", message_id="<a@x>",
                  references=["<older@x>"], received_at="2023年9月26日 09:30", quarter_label="2023年第3季度",
                  unit_name="中埠镇", organiser="组织人事部群团科", phone="3580430")
    values.update(overrides)
    return Receipt(**values)


def test_receipt_lists_files_findings_and_reasons_escaped():
    receipt = _receipt(files=[ReceivedFile("中埠镇<b>.xlsx", "spreadsheet", accepted=False,
                                           feedback="结论：退回\n  1. D4：为空"),
                              ReceivedFile("盖章.pdf", "scan", container="a.zip")],
                       skipped=[{"name": "x.exe", "reason": "附件「x.exe」不是报表或扫描件（.exe），未保存。"}])
    subject, html, text = render_receipt(receipt)
    assert subject == "回执：三季度报表<script>"
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html
    for body in (html, text):
        assert "需要修改" in body and "D4：为空" in body and "盖章.pdf" in body and "x.exe" in body
        assert "未发现附件" not in body and "未登记" not in body


def test_receipt_without_attachments_from_an_unknown_address():
    _subject, html, text = render_receipt(_receipt(unit_name=None, sender_name="王五"))
    for body in (html, text):
        assert "未发现附件" in body and "未登记" in body and "王五" in body


def test_reply_headers_thread_and_stop_loops():
    headers = reply_headers(_receipt(), unit_key="zhongbu")
    assert headers["In-Reply-To"] == "<a@x>" and headers["References"] == "<older@x> <a@x>"
    assert headers["Auto-Submitted"] == "auto-replied" and headers["X-Wcreport-Unit"] == "zhongbu"
    assert "In-Reply-To" not in reply_headers(_receipt(message_id=None))
    assert receipt_message_id("k", "bot@qtk.cn") == receipt_message_id("k", "bot@qtk.cn") != receipt_message_id("j", "x")


def test_receipts_survive_an_smtp_outage_and_go_out_once(tmp_path, programme, monkeypatch):
    ctx = mb.TakeIn(tmp_path / "inbox", tmp_path / "output", Limits(2**20, 2**23), load_programme=lambda y: programme)
    mb.take_in(cm.plain("q@x.cn", "问题", "模板在哪里？", when=WHEN, message_id="<q1@x>"), ctx)
    mb.take_in(cm.foxmail("r@x.cn", "某", "扫描件", [("扫描件.pdf", b"%PDF")], when=WHEN, message_id="<q2@x>"), ctx)
    run = {"inbox": str(ctx.inbox_root), "output": str(ctx.output_root)}
    monkeypatch.setattr(om, "programme_for_year", lambda year: programme)
    port = free_port()
    smtp = SmtpSettings("127.0.0.1", port, sender="bot@qtk.example", timeout=5)
    monkeypatch.setattr("wcreport.orchestration.connections.smtp_settings", lambda conn_id: smtp)
    monkeypatch.setattr(om, "_imap_login", lambda conn_id: "qtk@qtk.example")

    with pytest.raises(MailError):                      # SMTP down: nothing recorded as replied
        om.send_receipts(run)
    assert len(mb.pending_replies(ctx.output_root)) == 2
    with MailSink(port=port) as sink:
        assert om.send_receipts(run)["sent"] == 2
        assert om.send_receipts(run)["sent"] == 0       # a rerun answers nothing again
        received = sink.wait_for(2, timeout=10)
    assert sorted(m.rcpt_tos[0] for m in received) == ["q@x.cn", "r@x.cn"]
    assert {m.message["In-Reply-To"] for m in received} == {"<q1@x>", "<q2@x>"}
    ledger = mb.read_ledger(ctx.output_root)["messages"]
    assert all(entry["replied_at"] and entry["reply_message_id"] for entry in ledger.values())


def test_a_unit_is_told_at_once_when_mail_in_its_name_was_not_authenticated(tmp_path, programme, monkeypatch):
    units = [u.model_copy(update={"emails": ["edu@units.example.cn", "edu2@units.example.cn"]})
             if u.key == "edu_sports" else u for u in programme.units]
    with_addresses = programme.model_copy(update={"units": units})
    ctx = mb.TakeIn(tmp_path / "inbox", tmp_path / "output", Limits(2**20, 2**23),
                    load_programme=lambda y: with_addresses, authserv_id=cm.OUR_AUTHSERV_ID)
    forged = cm.foxmail("edu@units.example.cn", "张", "三季度报表（更正）", [("更正<b>.xlsx", b"PK fake")], when=WHEN,
                        message_id="<forged@u>")
    mb.take_in(cm.authenticated(forged, "units.example.cn", result="fail"), ctx)
    inner = cm.foxmail("edu@units.example.cn", "张", "原件", [("转发.xlsx", b"PK x")], when=WHEN, message_id="<in@u>")
    mb.take_in(cm.forwarded("mallory@qq.example", "转发", inner, when=WHEN, message_id="<fw@q>"), ctx)
    mb.take_in(cm.authenticated(cm.foxmail("edu@units.example.cn", "张", "真报表", [("真.xlsx", b"PK y")],
                                           when=WHEN, message_id="<real@u>"), "units.example.cn"), ctx)
    run = {"inbox": str(ctx.inbox_root), "output": str(ctx.output_root)}
    monkeypatch.setattr(om, "programme_for_year", lambda year: with_addresses)
    port = free_port()
    smtp = SmtpSettings("127.0.0.1", port, sender="bot@qtk.example", timeout=5)
    monkeypatch.setattr("wcreport.orchestration.connections.smtp_settings", lambda conn_id: smtp)
    monkeypatch.setattr(om, "_imap_login", lambda conn_id: "qtk@qtk.example")
    with MailSink(port=port) as sink:
        summary = om.send_receipts(run)
        assert summary["notices"] == 2 and summary["sent"] == 3
        assert om.send_receipts(run) == {"sent": 0, "not_answered": 0, "notices": 0, "failed": []}
        received = sink.wait_for(5, timeout=10)
    notices = [m for m in received if "请核实" in str(m.message["Subject"])]
    to_forger = next(m for m in received if m.rcpt_tos == ["mallory@qq.example"]).message
    assert "未能通过我方邮件服务器的身份验证" in to_forger.get_body(("plain",)).get_content()
    assert len(notices) == 2
    assert all(sorted(m.rcpt_tos) == ["edu2@units.example.cn", "edu@units.example.cn"] for m in notices)
    bodies = [m.message.get_body(("plain",)).get_content() for m in notices]
    forged_body = next(b for b in bodies if "更正" in b)
    for text in ("edu@units.example.cn", "三季度报表（更正）", "更正<b>.xlsx", "待确认：发件人未经验证", "2023年9月26日 09:30"):
        assert text in forged_body
    forwarded_body = next(b for b in bodies if "mallory@qq.example" in b)
    assert "转发的原邮件发件人：edu@units.example.cn" in forwarded_body
    html = next(m for m in notices if "更正" in m.message.get_body(("plain",)).get_content()).message
    assert "&lt;b&gt;" in html.get_body(("html",)).get_content()


class _FakeBox:
    """An IMAP folder in memory, recording what was fetched (the 50 MB mail must never be)."""

    def __init__(self, mails: dict[int, bytes]):
        self.mails, self.fetched, self.seen = mails, [], []
        self.settings = mb.ImapSettings("imap.test", 143, "qtk@qtk.example", use_ssl=False)

    def __call__(self, settings):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def select(self):
        return mb.FolderState(7, max(self.mails) + 1)

    def uids_after(self, last_uid):
        return [u for u in sorted(self.mails) if u > last_uid]

    def uids_since(self, day):
        return sorted(self.mails)

    def size(self, uid):
        return len(self.mails[uid])

    def fetch(self, uid):
        self.fetched.append(uid)
        return self.mails[uid]

    def fetch_header(self, uid):
        return self.mails[uid].split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"

    def mark_seen(self, uid):
        self.seen.append(uid)


def test_no_mail_can_jam_the_mailbox_the_bookmark_moves_past_bad_ones(tmp_path, monkeypatch):
    huge = cm.foxmail("a@x.cn", "甲", "大", [("大.pdf", b"%PDF" + b"0" * (50 * 2**20))], when=WHEN,
                      message_id="<huge@x>")
    nested = b"From: x@qq.example\r\nSubject: n\r\nMessage-ID: <deep@x>\r\n" + b"".join(
        f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n'.encode() for n in range(3000))
    good = cm.foxmail("b@x.cn", "乙", "报表", [("表.xlsx", b"PK x")], when=WHEN, message_id="<good@x>")
    box = _FakeBox({1: huge, 2: nested, 3: good})
    monkeypatch.setattr(om, "ImapMailbox", box)
    monkeypatch.setattr(om, "imap_settings", lambda conn_id, folder: box.settings)
    monkeypatch.setattr(om, "authserv_id", lambda conn_id: None)
    monkeypatch.setattr(om, "_limits", lambda: Limits(2**20, 2**23))
    run = {"inbox": str(tmp_path / "inbox"), "output": str(tmp_path / "output"), "folder": "INBOX",
           "quarter": "2023Q3", "since": "2023-01-01"}
    summary = om.take_in_mail(run)
    assert (summary["kept"], summary["quarantined"], summary["failed"]) == (2, 1, [])
    assert 1 not in box.fetched and box.seen == [1, 2, 3]
    ledger = mb.read_ledger(tmp_path / "output")
    assert ledger["folders"][box.settings.folder_id]["last_uid"] == 3
    [reason] = [m["reason"] for m in mb.quarantined(tmp_path / "output").values()]
    assert "RecursionError" in reason
    huge_entry = ledger["messages"]["mid:<huge@x>"]
    assert huge_entry["too_large"] == len(huge) and huge_entry["files"] == []
    assert "超过 40 MB 的上限" in huge_entry["skipped"][0]["reason"]
    assert [m["key"] for m in mb.pending_replies(tmp_path / "output")] == ["mid:<huge@x>", "mid:<good@x>"]
