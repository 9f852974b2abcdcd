"""The quarter-end mail against a real SMTP server on loopback (aiosmtpd)."""
from __future__ import annotations

import email
import email.header
import email.policy
import io
import json
import re
import threading
from pathlib import Path

import openpyxl
import pytest
from wcreport_testing.smtp_sink import SmtpSink, free_port

from deliver.smtp_server import SENDER, settings_for, smtp_server  # noqa: F401 (fixture)
from report.sample import make_case, programme
from wcreport.core.programme import Recipient, Recipients
from wcreport.deliver.changes import describe_changes
from wcreport.deliver.compose import compose_html
from wcreport.deliver.mail_ledger import MailLedger, Review, SentMail, load_ledger
from wcreport.deliver.report_mail import plan_mail, send_report_once
from wcreport.deliver.review import answer_review, open_review, review_request
from wcreport.deliver.smtp import MailError
from wcreport.report.consolidate import consolidate
from wcreport.report.workbook import report_filename, write_report

QUARTER = "2023Q1"
MAIN_TO = "gxqzzrsbqtk@zb.shandong.cn"


@pytest.fixture(scope="module")
def prog():
    return programme()


def build(prog, tmp_path, **case):
    results, manifest = make_case(prog, QUARTER, **case)
    consolidated = consolidate(prog, QUARTER, results, manifest)
    workbook = write_report(consolidated, prog, tmp_path / report_filename(prog, QUARTER))
    return consolidated, workbook


def only_attachment(msg):
    parts = list(msg.iter_attachments())
    assert len(parts) == 1
    return parts[0]


def html_of(msg) -> str:
    return msg.get_body(("html",)).get_content()


def test_first_send_reaches_recipients_with_summary_and_workbook(prog, tmp_path, smtp_server):
    consolidated, workbook = build(prog, tmp_path, late=("zhongbu",))
    ledger = tmp_path / "ledger.json"

    result = send_report_once(consolidated, workbook, prog, ledger, settings_for(smtp_server))

    assert result["sent"] is True and result["kind"] == "original"
    [envelope] = smtp_server.envelopes
    assert envelope["rcpt_tos"] == [MAIN_TO]
    assert envelope["mail_from"] == SENDER
    [msg] = smtp_server.messages
    assert msg["subject"] == "2023年第1季度为高新区妇女儿童办实事工作进展情况报表"
    assert "更正版" not in msg["subject"]
    assert MAIN_TO in msg["to"] and "组织人事部群团科" in msg["to"]
    body = html_of(msg)
    assert "12/15" in body
    for name in ("市住房公积金管理中心高新区分中心", "高新区检察院"):        # missing
        assert name in body
    assert "民政和文旅事业中心" in body and "未找到" in body               # rejected, with reason
    assert "逾期" in body and "中埠镇" in body                            # late
    assert "免费检查人数" in body and "进度滞后" in body                  # indicator at risk
    assert "新建中小学" in body and "未报数" in body                      # indicator not reported
    # the attachment: Chinese name intact (RFC 2231), a workbook openpyxl can read
    part = only_attachment(msg)
    assert part.get_filename() == workbook.name == report_filename(prog, QUARTER)
    wb = openpyxl.load_workbook(io.BytesIO(part.get_content()))
    assert wb.sheetnames == ["汇总表", "报送情况", "指标进度", "明细"]
    texts = {str(c.value) for row in wb["明细"].iter_rows(min_row=2) for c in row}
    for detail in consolidated.details:
        assert detail.text in texts
    assert all(cell.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for cell in row)
    entry = json.loads(ledger.read_text(encoding="utf-8"))["sent"][0]
    assert entry["quarter"] == QUARTER and entry["content_hash"] == consolidated.content_hash()
    assert entry["message_id"] == msg["message-id"]


def test_raw_message_encodes_file_name_per_rfc2231_and_subject_per_rfc2047(prog, tmp_path, smtp_server):
    consolidated, workbook = build(prog, tmp_path)
    send_report_once(consolidated, workbook, prog, tmp_path / "ledger.json", settings_for(smtp_server))
    raw = smtp_server.envelopes[0]["raw"].decode("ascii")   # 7-bit clean on the wire
    unfolded = re.sub(r"\r?\n[ \t]+", " ", raw).replace('"', "")
    assert re.search(r"filename\*(0\*)?=utf-8''", unfolded), "RFC 2231 filename parameter"
    assert re.search(r"name==\?utf-8\?b\?", unfolded, re.I), "RFC 2047 name= fallback for Outlook/Coremail"
    assert "Subject: =?utf-8?" in raw
    names = {part.get_param("name", header="content-type") for part in
             email.message_from_string(raw, policy=email.policy.default).iter_attachments()}
    assert {str(email.header.make_header(email.header.decode_header(n))) for n in names} == {workbook.name}


def test_cc_recipients_are_used(prog, tmp_path, smtp_server):
    cc = Recipient(name="分管领导", email="leader@zb.example.cn")
    prog_cc = prog.model_copy(update={"recipients": Recipients(to=prog.recipients.to, cc=[cc])})
    consolidated, workbook = build(prog_cc, tmp_path)
    send_report_once(consolidated, workbook, prog_cc, tmp_path / "ledger.json", settings_for(smtp_server))
    [envelope] = smtp_server.envelopes
    assert sorted(envelope["rcpt_tos"]) == sorted([MAIN_TO, "leader@zb.example.cn"])
    assert "leader@zb.example.cn" in smtp_server.messages[0]["cc"]


def test_server_down_then_up_then_rerun_then_correction(prog, tmp_path, smtp_server):
    """Fail while down, exactly one when back, none on rerun,
    exactly one 更正版 when a unit file changes."""
    consolidated, workbook = build(prog, tmp_path)
    ledger = tmp_path / "ledger.json"
    settings = settings_for(smtp_server)

    smtp_server.stop()
    for _ in range(2):                                    # the task's retries while down
        with pytest.raises(MailError):
            send_report_once(consolidated, workbook, prog, ledger, settings)
    assert not ledger.exists()

    smtp_server.start()                                   # same port
    assert send_report_once(consolidated, workbook, prog, ledger, settings)["kind"] == "original"
    assert len(smtp_server.messages) == 1

    # retry / rerun with unchanged content (a fresh consolidation: new timestamp)
    again, _ = build(prog, tmp_path)
    assert again.generated_at >= consolidated.generated_at
    result = send_report_once(again, workbook, prog, ledger, settings)
    assert result == {**result, "sent": False, "kind": "none"}
    assert len(smtp_server.messages) == 1

    # 中埠镇 sends a corrected file; 高新区检察院 submits late: a correction, held until approved
    changed, workbook2 = build(prog, tmp_path, missing=("housing_fund",), late=("procuratorate",),
                               version={"zhongbu": 2},
                               indicators={"health": {"screening_rate": 60}})
    assert send_report_once(changed, workbook2, prog, ledger, settings)["kind"] == "held"
    assert len(smtp_server.messages) == 1
    result = send_report_once(changed, workbook2, prog, ledger, settings, approved_hash=changed.content_hash())
    assert result["sent"] and result["kind"] == "correction"
    assert len(smtp_server.messages) == 2
    msg = smtp_server.messages[-1]
    assert msg["subject"] == "【更正版1】2023年第1季度为高新区妇女儿童办实事工作进展情况报表"
    assert only_attachment(msg).get_filename() == "2023年第1季度为高新区妇女儿童办实事工作进展情况报表（更正版1）.xlsx"
    body = html_of(msg)
    assert "更正说明" in body
    assert "中埠镇：报送了更正后的报表" in body
    assert "高新区检察院：新报送（逾期）" in body
    assert "适龄妇女“两癌”筛查率" in body and "40 → 60" in body
    assert msg["in-reply-to"] == smtp_server.messages[0]["message-id"]

    # and the correction itself is sent once
    assert send_report_once(changed, workbook2, prog, ledger, settings,
                            approved_hash=changed.content_hash())["kind"] == "none"
    assert len(smtp_server.messages) == 2
    entries = json.loads(ledger.read_text(encoding="utf-8"))["sent"]
    assert [e["kind"] for e in entries] == ["original", "correction"]


def test_concurrent_runs_send_one_mail(prog, tmp_path, smtp_server):
    consolidated, workbook = build(prog, tmp_path)
    ledger = tmp_path / "ledger.json"
    results = []

    def run():
        results.append(send_report_once(consolidated, workbook, prog, ledger, settings_for(smtp_server)))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["kind"] for r in results) == ["none", "none", "original"]
    assert len(smtp_server.messages) == 1


def test_quarters_have_separate_histories(prog, tmp_path, smtp_server):
    ledger = tmp_path / "ledger.json"
    for quarter in ("2023Q1", "2023Q2"):
        results, manifest = make_case(prog, quarter)
        consolidated = consolidate(prog, quarter, results, manifest)
        workbook = write_report(consolidated, prog, tmp_path)
        assert send_report_once(consolidated, workbook, prog, ledger,
                                settings_for(smtp_server))["kind"] == "original"
    subjects = [m["subject"] for m in smtp_server.messages]
    assert subjects == ["2023年第1季度为高新区妇女儿童办实事工作进展情况报表",
                        "2023年第2季度为高新区妇女儿童办实事工作进展情况报表"]


@pytest.mark.slow
def test_login_uses_connection_login_and_sends_as_from_email(prog, tmp_path):
    with SmtpSink(auth=("mailer", "s3cret")) as sink:
        consolidated, workbook = build(prog, tmp_path)
        settings = settings_for(sink, user="mailer", password="s3cret")
        send_report_once(consolidated, workbook, prog, tmp_path / "ledger.json", settings)
        assert sink.logins == ["mailer"]
        assert sink.envelopes[0]["mail_from"] == SENDER

        results, manifest = make_case(prog, QUARTER, version={"health": 2})
        changed = consolidate(prog, QUARTER, results, manifest)
        with pytest.raises(MailError):
            send_report_once(changed, workbook, prog, tmp_path / "ledger.json",
                             settings_for(sink, user="mailer", password="wrong"),
                             approved_hash=changed.content_hash())
        assert len(sink.envelopes) == 1


def test_nothing_listening_raises_quickly(prog, tmp_path):
    consolidated, workbook = build(prog, tmp_path)
    settings = settings_for(SmtpSink(port=free_port()))   # never started
    with pytest.raises(MailError, match="Connection refused"):
        send_report_once(consolidated, workbook, prog, tmp_path / "ledger.json", settings)
    assert not (tmp_path / "ledger.json").exists()


def test_unit_text_cannot_inject_html(prog, tmp_path):
    consolidated, _ = build(prog, tmp_path, rejected={"civil_culture": "<script>alert(1)</script>"})
    body = compose_html(consolidated, prog)
    assert "<script>" not in body and "&lt;script&gt;" in body


def test_describe_changes_names_rejections_and_withdrawals(prog, tmp_path):
    before, _ = build(prog, tmp_path)
    after, _ = build(prog, tmp_path, rejected={"zhongbu": "表头缺失"}, missing=("housing_fund",
                                                                                "procuratorate", "health"))
    lines = describe_changes(before.snapshot(), after.snapshot())
    assert any(line.startswith("中埠镇：报表未通过审核") for line in lines)
    assert "卫生健康事业中心：报表已撤回，内容已从汇总中移除" in lines
    assert "民政和文旅事业中心：新报送" in lines


def test_smtp_settings_from_airflow_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_REPORT", json.dumps({
        "conn_type": "smtp", "host": "mail.example.cn", "port": 2525, "login": "mailer",
        "password": "pw", "extra": {"from_email": "report@example.cn", "disable_ssl": "true",
                                     "timeout": 12}}))
    from wcreport.orchestration.connections import smtp_settings as smtp_settings_from_connection

    s = smtp_settings_from_connection("smtp_report")
    assert (s.host, s.port, s.user, s.password, s.sender) == ("mail.example.cn", 2525, "mailer", "pw",
                                                              "report@example.cn")
    assert s.use_ssl is False and s.starttls is True and s.timeout == 12
    assert "pw" not in repr(s)

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_REPORT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "login": "", "extra": {
            "from_email": "a@example.cn", "disable_ssl": True, "disable_tls": True}}))
    s = smtp_settings_from_connection("smtp_report")
    assert (s.use_ssl, s.starttls, s.port, s.skip_login) == (False, False, 25, True)


def test_sink_cli_writes_eml_files(tmp_path, prog):
    """`python -m wcreport_testing.smtp_sink --port P --maildir DIR`, as `make demo` runs it."""
    import subprocess
    import sys
    import time

    from wcreport_testing.smtp_sink import parse

    port = free_port()
    maildir = tmp_path / "maildir"
    proc = subprocess.Popen([sys.executable, "-m", "wcreport_testing.smtp_sink", "--port", str(port),
                             "--maildir", str(maildir)], stdout=subprocess.PIPE, text=True)
    try:
        assert "listening" in proc.stdout.readline()
        consolidated, workbook = build(prog, tmp_path)
        settings = settings_for(SmtpSink(port=port))
        assert send_report_once(consolidated, workbook, prog, tmp_path / "l.json", settings)["sent"]
        for _ in range(50):
            files = list(maildir.glob("*.eml"))
            if files:
                break
            time.sleep(0.1)
        [eml] = files
        msg = parse(eml.read_bytes())
        assert msg["X-Envelope-To"] == MAIN_TO
        assert only_attachment(msg).get_filename() == workbook.name
        assert not list(maildir.glob("*.tmp"))
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_sink_airflow_conn_uri_round_trips(monkeypatch):
    sink = SmtpSink(port=2526)
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_SINK", sink.airflow_conn_uri())
    from wcreport.orchestration.connections import smtp_settings as smtp_settings_from_connection

    s = smtp_settings_from_connection("smtp_sink")
    assert (s.host, s.port, s.use_ssl, s.starttls, s.sender) == ("127.0.0.1", 2526, False, False,
                                                                 "report-bot@localhost")


# --- the review gate for corrections ------------------------------------------------------
def sent_original(prog, tmp_path, smtp_server):
    """The quarter's first mail, sent; returns (ledger path, quarter folder)."""
    consolidated, workbook = build(prog, tmp_path)
    ledger, folder = tmp_path / "ledger.json", tmp_path / QUARTER
    assert send_report_once(consolidated, workbook, prog, ledger, settings_for(smtp_server),
                            keep_dir=folder / "sent")["kind"] == "original"
    return ledger, folder


def changed_report(prog, tmp_path, version: int = 2, **case):
    folder = tmp_path / f"v{version}"
    folder.mkdir(exist_ok=True)
    return build(prog, folder, version={"zhongbu": version}, **case)


def test_a_correction_waits_for_approval_then_goes_out_once(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path, indicators={"health": {"screening_rate": 60}})

    review = open_review(changed, workbook, ledger, folder, requested_by="run-2")
    assert review["action"] == "review" and review["state"] == "pending" and review["sequence"] == 2
    assert review["subject"].startswith("【更正版1】")
    assert "中埠镇：报送了更正后的报表" in review["changes"]
    assert any(line.startswith("第1项「实施优质教育资源扩增赋能行动」") for line in review["changes"])
    frozen = Path(review["workbook"])
    assert frozen.name.endswith("（更正版1）.xlsx")
    marked = openpyxl.load_workbook(frozen)
    assert [ws.oddHeader.right.text.startswith("更正版1　") for ws in marked.worksheets] == [True] * 4
    assert marked.worksheets[0]["A1"].value.endswith(f"（{marked.worksheets[0].oddHeader.right.text}）")
    assert len(smtp_server.messages) == 1                                   # nothing sent yet
    assert open_review(changed, workbook, ledger, folder)["id"] == review["id"]   # a retry asks nothing new

    result = answer_review(review["id"], True, prog, ledger, settings_for(smtp_server),
                           current_hash=changed.content_hash(), responder="clerk", keep_dir=folder / "sent")
    assert result["outcome"] == "sent" and result["kind"] == "correction"
    [_, msg] = smtp_server.messages
    assert msg["subject"].startswith("【更正版1】")
    assert only_attachment(msg).get_filename() == frozen.name
    assert "本邮件为更正版1" in html_of(msg)
    assert (folder / "sent" / frozen.name).exists()                         # the valid version is kept

    again = answer_review(review["id"], True, prog, ledger, settings_for(smtp_server),
                          current_hash=changed.content_hash(), responder="clerk")
    assert again["outcome"] == "already_sent" and len(smtp_server.messages) == 2
    assert plan_mail(changed, ledger)["action"] == "none"
    entry = load_ledger(ledger)["sent"][-1]
    assert entry["approved_by"] == "clerk" and entry["review_id"] == review["id"]


def test_a_rejection_keeps_the_last_mail_and_is_not_asked_again(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    review = open_review(changed, workbook, ledger, folder)
    result = answer_review(review["id"], False, prog, ledger, None, current_hash=changed.content_hash(),
                           responder="clerk")
    assert result["outcome"] == "rejected" and len(smtp_server.messages) == 1
    again = open_review(changed, workbook, ledger, folder)
    assert again["action"] == "none" and again["reason"] == "rejected" and again["decided_by"] == "clerk"
    # newer content is asked
    newer, workbook3 = changed_report(prog, tmp_path, version=3)
    assert open_review(newer, workbook3, ledger, folder)["action"] == "review"


def test_newer_content_while_one_waits_replaces_it(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    first = open_review(changed, workbook, ledger, folder)
    newer, workbook3 = changed_report(prog, tmp_path, version=3)
    second = open_review(newer, workbook3, ledger, folder)
    assert second["superseded"] == first["id"] and second["sequence"] == first["sequence"] == 2
    assert [r["state"] for r in load_ledger(ledger)["reviews"]] == ["superseded", "pending"]

    # an answer to the older request sends nothing, the newer one sends the newer content
    stale = answer_review(first["id"], True, prog, ledger, settings_for(smtp_server),
                          current_hash=newer.content_hash(), responder="clerk")
    assert stale["outcome"] == "superseded" and len(smtp_server.messages) == 1
    sent = answer_review(second["id"], True, prog, ledger, settings_for(smtp_server),
                         current_hash=newer.content_hash(), responder="clerk")
    assert sent["outcome"] == "sent" and len(smtp_server.messages) == 2
    assert smtp_server.messages[-1]["x-report-content-hash"].strip() == newer.content_hash()


def test_approval_of_content_that_moved_on_sends_nothing(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    review = open_review(changed, workbook, ledger, folder)
    newer, _ = changed_report(prog, tmp_path, version=3)
    result = answer_review(review["id"], True, prog, ledger, settings_for(smtp_server),
                           current_hash=newer.content_hash(), responder="clerk")
    assert result["outcome"] == "stale" and len(smtp_server.messages) == 1
    assert open_review(newer, workbook, ledger, folder)["action"] == "review"      # asked again


def test_no_answer_before_the_timeout_sends_nothing_and_asks_again_later(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    review = open_review(changed, workbook, ledger, folder)
    result = answer_review(review["id"], False, prog, ledger, None, current_hash=changed.content_hash(),
                           responder=None)
    assert result["outcome"] == "expired" and len(smtp_server.messages) == 1
    assert open_review(changed, workbook, ledger, folder)["action"] == "review"


def test_content_back_to_the_last_mail_closes_the_pending_review(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    review = open_review(changed, workbook, ledger, folder)
    original, workbook1 = build(prog, tmp_path / "again")
    assert open_review(original, workbook1, ledger, folder)["reason"] == "unchanged"
    result = answer_review(review["id"], True, prog, ledger, settings_for(smtp_server),
                           current_hash=original.content_hash(), responder="clerk")
    assert result["outcome"] == "superseded" and len(smtp_server.messages) == 1


def test_concurrent_approvals_send_one_correction(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    review = open_review(changed, workbook, ledger, folder)
    outcomes = []

    def approve():
        outcomes.append(answer_review(review["id"], True, prog, ledger, settings_for(smtp_server),
                                      current_hash=changed.content_hash(), responder="clerk")["outcome"])

    threads = [threading.Thread(target=approve) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already_sent", "already_sent", "sent"]
    assert len(smtp_server.messages) == 2


def test_review_request_names_changes_file_and_what_a_timeout_does(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path, indicators={"health": {"screening_rate": 60}})
    review = open_review(changed, workbook, ledger, folder)
    subject, body = review_request(review, prog, link="/wcreport/files/2023Q1/review/x.xlsx", timeout_hours=72)
    assert subject == "审核" + review["subject"]
    assert "- 中埠镇：报送了更正后的报表" in body
    assert "指标「适龄妇女“两癌”筛查率」：40 → 60%" in body
    assert f"]({'/wcreport/files/2023Q1/review/x.xlsx'})" in body and review["workbook"] in body
    assert "72小时后按“不发送”处理" in body
    _, body = review_request(review, prog, timeout_hours=2, send_on_timeout=True)
    assert "2小时后自动发送更正版" in body


def test_a_version_1_ledger_is_read_and_upgraded(prog, tmp_path, smtp_server):
    consolidated, workbook = build(prog, tmp_path)
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps({"version": 1, "sent": [{
        "quarter": QUARTER, "content_hash": "0" * 64, "kind": "original", "sequence": 1,
        "subject": "x", "sent_at": "2023-03-31T09:00:00+00:00", "snapshot": {}}]}), encoding="utf-8")
    review = open_review(consolidated, workbook, ledger, tmp_path / QUARTER)
    assert review["action"] == "review"
    data = load_ledger(ledger)
    assert data["version"] == 2 and len(data["reviews"]) == 1


def test_the_ledger_on_disk_is_what_its_types_declare(prog, tmp_path, smtp_server):
    """Every key the mail step writes is declared on ``SentMail`` / ``Review``, so the types document the file."""
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    review = open_review(changed, workbook, ledger, folder, requested_by="run-2")
    answer_review(review["id"], True, prog, ledger, settings_for(smtp_server), current_hash=changed.content_hash(),
                  responder="clerk", keep_dir=folder / "sent")
    data = json.loads(ledger.read_text(encoding="utf-8"))
    assert set(data) == set(MailLedger.__annotations__)
    declared_sent = SentMail.__required_keys__ | SentMail.__optional_keys__
    declared_review = Review.__required_keys__ | Review.__optional_keys__
    assert [set(e) - declared_sent for e in data["sent"]] == [set(), set()]
    assert [set(r) - declared_review for r in data["reviews"]] == [set()]
