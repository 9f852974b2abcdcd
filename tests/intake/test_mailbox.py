"""The mailbox intake: decoding Chinese clients' attachment names, zips, saving, ledgers, IMAP.

Messages are built as Foxmail, Outlook/Coremail and GBK-only clients write them
(``wcreport_testing.chinese_mail``); the IMAP tests run against a private Dovecot.
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from wcreport_testing import chinese_mail as cm

from wcreport.core.quarter import TZ, Quarter
from wcreport.core.settings import quarter_paths
from wcreport.intake import mailbox as mb
from wcreport.intake.mailheaders import safe_filename
from wcreport.intake.mailparts import Limits, parse_mail, zip_member_name

WHEN = dt.datetime(2023, 9, 26, 9, 30, tzinfo=TZ)
LIMITS = Limits(max_file_bytes=1024 * 1024, max_uncompressed_bytes=8 * 1024 * 1024)
XLSX = b"PK\x03\x04 not really a workbook, but bytes to compare"
SCAN = b"%PDF-1.4 scanned stamp page"
EDU = "教育和体育事业中心2023年第三季度进展情况报表（盖章版）.xlsx"
ORGANISER = "qtk@qtk.example.cn"
UNITS_DOMAIN = "units.example.cn"


def _names(mail) -> list[str]:
    return [a.name for a in mail.attachments]


# --- names --------------------------------------------------------------------------
def test_foxmail_rfc2231_continuations_are_joined_and_decoded():
    raw = cm.foxmail("jt@units.example.cn", "张老师", "三季度报表", [(EDU, XLSX), ("盖章扫描件.pdf", SCAN)],
                     when=WHEN, message_id="<fox-1@units.example.cn>")
    assert b"filename*1*=" in raw
    mail = parse_mail(raw, LIMITS)
    assert _names(mail) == [EDU, "盖章扫描件.pdf"]
    assert [a.data for a in mail.attachments] == [XLSX, SCAN]
    assert [a.kind for a in mail.attachments] == ["spreadsheet", "scan"]
    assert (mail.sender, mail.sender_name, mail.subject) == ("jt@units.example.cn", "张老师", "三季度报表")
    assert mail.date == WHEN and mail.key == "mid:<fox-1@units.example.cn>"


def test_outlook_coremail_rfc2047_inside_the_quoted_parameter():
    raw = cm.outlook("wj@units.example.cn", "李四", "卫生健康事业中心三季度报表",
                     [("卫生健康事业中心报表.xlsx", XLSX)], when=WHEN, message_id="<ol-1@x>")
    assert b'name="=?gbk?B?' in raw
    mail = parse_mail(raw, LIMITS)
    assert _names(mail) == ["卫生健康事业中心报表.xlsx"]
    assert (mail.sender_name, mail.subject) == ("李四", "卫生健康事业中心三季度报表")


def test_raw_gbk_bytes_in_headers():
    raw = cm.raw_gbk("zb@units.example.cn", "中埠镇第三季度报表", [("中埠镇报表.xlsx", XLSX)], when=WHEN,
                     message_id="<gbk-1@x>")
    assert "中埠镇报表".encode("gbk") in raw
    mail = parse_mail(raw, LIMITS)
    assert _names(mail) == ["中埠镇报表.xlsx"] and mail.subject == "中埠镇第三季度报表"


def test_rfc2231_with_a_wrong_charset_falls_back_to_gbk():
    raw = cm.single_attachment("a@x.cn", "s", "x.pdf", SCAN, when=WHEN, message_id="<w@x>")
    raw = raw.replace(b"filename*=utf-8''x.pdf", b"filename*=utf-8''%D6%D0%B8%AE%B1%A8%B1%ED.pdf")
    assert _names(parse_mail(raw, LIMITS)) == ["中府报表.pdf"]


@pytest.mark.parametrize(("given", "expected"), [
    ("../../etc/passwd.xlsx", "passwd.xlsx"),
    ("..\\..\\Windows\\报表.xlsx", "报表.xlsx"),
    ("报\x00表\r\n.xlsx", "报_表__.xlsx"),
    ("...隐藏.xlsx", "隐藏.xlsx"),
    ("a<b>c:d|e?f*.pdf", "a_b_c_d_e_f_.pdf"),
    ("", "附件"),
    ("..", "附件"),
    ("名" * 200 + ".xlsx", "名" * 65 + ".xlsx"),          # 200 bytes of UTF-8 at most
    ("\u202egnp.xlsx", "_gnp.xlsx"),
], ids=["traversal", "windows-traversal", "control", "hidden", "reserved", "empty", "dotdot", "long", "bidi"])
def test_safe_filename(given, expected):
    assert safe_filename(given) == expected


# --- zips ---------------------------------------------------------------------------
def test_zip_members_with_gbk_names_without_utf8_flag_are_read_as_cp936():
    archive = cm.gbk_zip([("建设局报表.xlsx", XLSX), ("扫描件/建设局盖章.pdf", SCAN), ("__MACOSX/._x", b"x")])
    info = zipfile.ZipFile(io.BytesIO(archive)).infolist()[0]
    assert not info.flag_bits & 0x800 and zip_member_name(info) == "建设局报表.xlsx"
    mail = parse_mail(cm.single_attachment("js@x.cn", "报表", "建设局.zip", archive, when=WHEN,
                                           message_id="<zip-1@x>"), LIMITS)
    assert [(a.name, a.data, a.container) for a in mail.attachments] == [
        ("建设局报表.xlsx", XLSX, "建设局.zip"), ("建设局盖章.pdf", SCAN, "建设局.zip")]
    assert mail.skipped == []


def test_zip_unicode_path_extra_field_wins():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bad-name.xlsx")
        name = "宣传新闻中心.xlsx".encode()
        body = b"\x01" + (0).to_bytes(4, "little") + name
        info.extra = (0x7075).to_bytes(2, "little") + len(body).to_bytes(2, "little") + body
        archive.writestr(info, XLSX)
    info = zipfile.ZipFile(io.BytesIO(buffer.getvalue())).infolist()[0]
    assert zip_member_name(info) == "宣传新闻中心.xlsx"


def test_zip_bomb_gets_a_chinese_reason_and_nothing_is_opened():
    bomb = cm.zip_bomb(declared_mib=20)
    mail = parse_mail(cm.single_attachment("kb@x.cn", "报表", "报表.zip", bomb, when=WHEN, message_id="<b@x>"),
                      LIMITS)
    assert mail.attachments == []
    assert len(mail.skipped) == 1 and "压缩炸弹" in mail.skipped[0].reason


def test_zip_member_over_the_file_limit_nested_archive_and_other_files_get_reasons():
    limits = Limits(max_file_bytes=100_000, max_uncompressed_bytes=LIMITS.max_uncompressed_bytes)
    big = b"x" * (limits.max_file_bytes + 1)       # compresses well below the limit itself
    archive = cm.gbk_zip([("大扫描件.pdf", big), ("内层.zip", b"PK"), ("说明.exe", b"MZ"), ("报表.xlsx", XLSX)])
    mail = parse_mail(cm.single_attachment("x@x.cn", "s", "a.zip", archive, when=WHEN, message_id="<n@x>"),
                      limits)
    assert _names(mail) == ["报表.xlsx"]
    reasons = " ".join(s.reason for s in mail.skipped)
    assert "大扫描件.pdf" in reasons and "超过" in reasons
    assert "内层.zip" in reasons and "说明.exe" in reasons


def test_corrupt_zip_and_rar_are_explained():
    mail = parse_mail(cm.single_attachment("x@x.cn", "s", "坏.zip", b"PK\x03\x04broken", when=WHEN,
                                           message_id="<c@x>"), LIMITS)
    assert mail.attachments == [] and "已损坏" in mail.skipped[0].reason
    mail = parse_mail(cm.single_attachment("x@x.cn", "s", "报表.rar", b"Rar!\x1a\x07\x00", when=WHEN,
                                           message_id="<r@x>"), LIMITS)
    assert _names(mail) == ["报表.rar"] and "无法自动解压" in mail.attachments[0].note


# --- mails --------------------------------------------------------------------------
def test_attachment_over_the_limit_is_a_reason_not_a_crash():
    big = bytes(LIMITS.max_file_bytes + 10)
    mail = parse_mail(cm.foxmail("x@x.cn", "王", "扫描件", [("扫描件.pdf", big), ("报表.xlsx", XLSX)], when=WHEN,
                                 message_id="<big@x>"), LIMITS)
    assert _names(mail) == ["报表.xlsx"]
    assert "扫描件.pdf" in mail.skipped[0].reason and "上限" in mail.skipped[0].reason


def test_forwarded_mail_attachments_carry_their_origin():
    inner = cm.foxmail("sbs@units.example.cn", "赵六", "四宝山街道报表", [("四宝山街道报表.xlsx", XLSX)],
                       when=WHEN - dt.timedelta(days=1), message_id="<inner@units>")
    raw = cm.forwarded("staff@qtk.example.cn", "转发：四宝山街道报表", inner, when=WHEN, message_id="<fwd@qtk>")
    mail = parse_mail(raw, LIMITS)
    assert mail.sender == "staff@qtk.example.cn"
    assert _names(mail) == ["四宝山街道报表.xlsx"]
    origin = mail.attachments[0].forwarded
    assert (origin.sender, origin.subject, origin.message_id) == ("sbs@units.example.cn", "四宝山街道报表",
                                                                   "<inner@units>")


def test_no_attachment_no_message_id_and_automatic_mails():
    raw = cm.plain("q@x.cn", "请问模板在哪里下载", "请问报表模板在哪里下载？", when=WHEN, message_id=None)
    mail = parse_mail(raw, LIMITS)
    assert mail.attachments == [] and mail.skipped == [] and mail.automatic is None
    assert mail.key.startswith("sha256:") and mail.message_id is None
    auto = cm.plain("q@x.cn", "自动回复：休假中", "我正在休假", when=WHEN, message_id="<a@x>",
                    extra_headers=["Auto-Submitted: auto-replied"])
    assert parse_mail(auto, LIMITS).automatic == "Auto-Submitted: auto-replied"
    bounce = cm.plain("MAILER-DAEMON@x.cn", "退信", "undeliverable", when=WHEN, message_id="<d@x>")
    assert "automatic sender" in parse_mail(bounce, LIMITS).automatic


# --- which quarter ------------------------------------------------------------------
@pytest.mark.parametrize(("day", "quarter"), [
    ("2023-09-26", "2023Q3"), ("2023-10-09", "2023Q3"), ("2023-10-15", "2023Q3"), ("2023-10-16", "2023Q4"),
    ("2023-07-01", "2023Q2"), ("2023-08-01", "2023Q3"), ("2024-01-05", "2023Q4"),
])
def test_submission_quarter_includes_two_weeks_after_the_deadline(programme, day, quarter):
    deadline_of = lambda q: programme.deadline(q.number) if q.year == 2023 else q.end  # noqa: E731
    assert str(mb.submission_quarter(dt.date.fromisoformat(day), deadline_of)) == quarter


# --- keeping ------------------------------------------------------------------------
@pytest.fixture
def unit_programme(programme):
    """The 2023 programme with addresses for two units (addresses are for tests only)."""
    units = [u.model_copy(update={"emails": [f"{u.key}@units.example.cn"]}) if u.key in ("edu_sports", "sibaoshan")
             else u for u in programme.units]
    return programme.model_copy(update={"units": units})


@pytest.fixture
def ctx(tmp_path, unit_programme):
    return mb.TakeIn(inbox_root=tmp_path / "inbox", output_root=tmp_path / "output", limits=LIMITS,
                     load_programme=lambda year: unit_programme, authserv_id=cm.OUR_AUTHSERV_ID,
                     own_addresses=frozenset({ORGANISER}))


def test_take_in_saves_byte_identical_files_into_the_units_folder(ctx):
    raw = cm.authenticated(cm.foxmail("EDU_SPORTS@units.example.cn", "张老师", "三季度报表",
                                      [(EDU, XLSX), ("盖章扫描件.pdf", SCAN)], when=WHEN, message_id="<fox-2@units>"),
                           UNITS_DOMAIN)
    entry = mb.take_in(raw, ctx, uid=7, uidvalidity=1)
    paths = quarter_paths(Quarter(2023, 3), ctx.inbox_root, ctx.output_root)
    folder = paths.inbox / "教育和体育事业中心"
    assert (folder / EDU).read_bytes() == XLSX and (folder / "盖章扫描件.pdf").read_bytes() == SCAN
    assert (folder / EDU).stat().st_mtime == WHEN.timestamp()
    assert entry["unit"] == "edu_sports" and entry["quarter"] == "2023Q3" and entry["saved_at"]
    assert (ctx.output_root / entry["eml"]).read_bytes() == raw
    rel = f"教育和体育事业中心/{EDU}"
    provenance = mb.provenance_by_path(paths, [rel, "nothing.xlsx"])
    assert list(provenance) == [rel]
    assert provenance[rel]["sender"] == "edu_sports@units.example.cn"
    assert provenance[rel]["sender_authenticated"] is True and provenance[rel]["sender_unit"] == "edu_sports"
    assert provenance[rel]["message_id"] == "<fox-2@units>" and provenance[rel]["attachment"] == EDU
    assert provenance[rel]["subject"] == "三季度报表" and provenance[rel]["date"].startswith("2023-09-26T09:30")
    assert [m["key"] for m in mb.pending_replies(ctx.output_root)] == ["mid:<fox-2@units>"]


def test_take_in_twice_saves_nothing_twice_and_names_never_overwrite(ctx):
    first = cm.authenticated(cm.foxmail("sibaoshan@units.example.cn", "王", "报表", [("报表.xlsx", XLSX)],
                                        when=WHEN, message_id="<one@u>"), UNITS_DOMAIN)
    mb.take_in(first, ctx)
    folder = quarter_paths("2023Q3", ctx.inbox_root, ctx.output_root).inbox / "四宝山街道"
    before = sorted(p.name for p in folder.iterdir())
    mb.take_in(first, ctx)                                         # the same mail again
    assert sorted(p.name for p in folder.iterdir()) == before == ["报表.xlsx"]
    corrected = cm.authenticated(cm.foxmail("sibaoshan@units.example.cn", "王", "报表（更正）",
                                            [("报表.xlsx", XLSX + b"v2")], when=WHEN + dt.timedelta(hours=1),
                                            message_id="<two@u>"), UNITS_DOMAIN)
    entry = mb.take_in(corrected, ctx)
    assert entry["files"][0]["path"] == "四宝山街道/报表 (2).xlsx"
    assert (folder / "报表.xlsx").read_bytes() == XLSX and (folder / "报表 (2).xlsx").read_bytes() == XLSX + b"v2"


def test_unknown_sender_files_go_to_the_quarter_folder_and_the_organisers_forwards_to_the_inner_unit(ctx):
    mb.take_in(cm.raw_gbk("stranger@qq.example", "报表", [("某单位报表.xlsx", XLSX)], when=WHEN,
                          message_id="<s@q>"), ctx)
    inbox = quarter_paths("2023Q3", ctx.inbox_root, ctx.output_root).inbox
    assert (inbox / "某单位报表.xlsx").read_bytes() == XLSX
    inner = cm.foxmail("sibaoshan@units.example.cn", "赵", "原件", [("四宝山.xlsx", XLSX)], when=WHEN,
                       message_id="<in@u>")
    forwarded = cm.forwarded(ORGANISER, "转发", inner, when=WHEN, message_id="<fw@q>")
    entry = mb.take_in(cm.authenticated(forwarded, "qtk.example.cn"), ctx)
    assert entry["files"][0]["path"] == "四宝山街道/四宝山.xlsx" and entry["unit"] is None
    provenance = mb.provenance_by_path(quarter_paths("2023Q3", ctx.inbox_root, ctx.output_root))
    assert provenance["四宝山街道/四宝山.xlsx"]["forwarded_from"]["sender"] == "sibaoshan@units.example.cn"
    assert provenance["四宝山街道/四宝山.xlsx"]["sender"] == ORGANISER


# --- who may speak for a unit ---------------------------------------------------------
def _forged_cases():
    inner = cm.foxmail("sibaoshan@units.example.cn", "赵", "原件", [("四宝山.xlsx", XLSX)], when=WHEN,
                       message_id="<in-forged@u>")
    return {
        # an outsider forwards a made-up mail whose inner From is the unit's address
        "forged-forward": cm.authenticated(cm.forwarded("someone@qq.example", "转发", inner, when=WHEN,
                                                        message_id="<fw-forged@q>"), "qq.example"),
        # the organiser's address itself, but not vouched for by our server
        "unauthenticated-organiser-forward": cm.forwarded(ORGANISER, "转发", inner, when=WHEN,
                                                          message_id="<fw-org@q>"),
        # From: forged, our server says DMARC failed
        "forged-from-dmarc-fail": cm.authenticated(
            cm.foxmail("sibaoshan@units.example.cn", "赵", "报表", [("四宝山.xlsx", XLSX)], when=WHEN,
                       message_id="<forged@u>"), UNITS_DOMAIN, result="fail"),
        # the forger writes a passing header of their own server's name: ignored
        "someone-elses-authserv-id": cm.authenticated(
            cm.foxmail("sibaoshan@units.example.cn", "赵", "报表", [("四宝山.xlsx", XLSX)], when=WHEN,
                       message_id="<forged2@u>"), UNITS_DOMAIN, authserv_id="mx.forger.example"),
        # no header at all
        "no-authentication-results": cm.foxmail("sibaoshan@units.example.cn", "赵", "报表",
                                                [("四宝山.xlsx", XLSX)], when=WHEN, message_id="<forged3@u>"),
    }


@pytest.mark.parametrize("case", list(_forged_cases()))
def test_an_unauthenticated_sender_is_no_evidence_of_a_unit(ctx, case):
    entry = mb.take_in(_forged_cases()[case], ctx)
    assert entry["files"][0]["path"] == "四宝山.xlsx"            # the quarter's folder, not 四宝山街道/
    assert entry["unit"] is None and entry["claimed_unit"] == "sibaoshan"
    record = mb.provenance_by_path(quarter_paths("2023Q3", ctx.inbox_root, ctx.output_root))["四宝山.xlsx"]
    assert record["sender_unit"] is None and record["claimed_unit"] == "sibaoshan"
    assert record["sender_authenticated"] is (case == "forged-forward")   # qq.example did send it


def test_without_an_authserv_id_no_sender_is_authenticated(ctx):
    ctx.authserv_id = None
    raw = cm.authenticated(cm.foxmail("sibaoshan@units.example.cn", "王", "报表", [("报表.xlsx", XLSX)],
                                      when=WHEN, message_id="<noid@u>"), UNITS_DOMAIN)
    entry = mb.take_in(raw, ctx)
    assert entry["files"][0]["path"] == "报表.xlsx" and entry["sender_authenticated"] is False


@pytest.mark.parametrize(("header", "address", "vouched"), [
    ("mx.qtk.example.cn; dmarc=pass header.from=units.example.cn", "a@units.example.cn", True),
    ("mx.qtk.example.cn; dkim=pass header.d=example.cn", "a@units.example.cn", True),     # aligned, relaxed
    ("mx.qtk.example.cn; dkim=pass header.d=other.example", "a@units.example.cn", False),  # not aligned
    ("mx.qtk.example.cn; spf=pass smtp.mailfrom=units.example.cn", "a@units.example.cn", False),
    ("MX.QTK.EXAMPLE.CN; dmarc=pass header.from=Units.Example.CN", "a@units.example.cn", True),
    ("mx.qtk.example.cn; dmarc=pass header.from=evilunits.example.cn", "a@units.example.cn", False),
    ("mx.qtk.example.cn;;; dmarc=pass ((( header.from", "a@units.example.cn", False),      # unparseable
])
def test_authentication_results_of_our_server(header, address, vouched):
    from email.message import Message

    from wcreport.intake.mailauth import address_authenticated, authenticated_domains

    msg = Message()
    msg["Authentication-Results"] = header
    assert address_authenticated(address, authenticated_domains(msg, cm.OUR_AUTHSERV_ID)) is vouched


def test_reply_state_is_separate_from_saved_state(ctx):
    mb.take_in(cm.plain("q@x.cn", "问题", "无附件", when=WHEN, message_id="<p@x>"), ctx)
    mb.take_in(cm.plain("q@x.cn", "自动回复", "休假", when=WHEN, message_id="<auto@x>",
                        extra_headers=["Auto-Submitted: auto-replied"]), ctx)
    assert [m["key"] for m in mb.pending_replies(ctx.output_root)] == ["mid:<p@x>"]
    mb.record_reply(ctx.output_root, "mid:<p@x>", reply_message_id="<r@x>")
    assert mb.pending_replies(ctx.output_root) == []
    assert mb.read_ledger(ctx.output_root)["messages"]["mid:<auto@x>"]["no_reply"].startswith("Auto-Submitted")


def test_forced_quarter_wins_over_the_date(ctx):
    ctx.quarter = Quarter(2023, 2)
    entry = mb.take_in(cm.foxmail("x@x.cn", "x", "x", [("a.xlsx", XLSX)], when=WHEN, message_id="<f@x>"), ctx)
    assert entry["quarter"] == "2023Q2"


# --- IMAP against Dovecot -----------------------------------------------------------


@pytest.mark.slow
def test_imap_uids_uidvalidity_exact_bytes_and_only_seen_changes(dovecot):
    raws = [cm.foxmail("a@x.cn", "甲", f"报表{n}", [(f"表{n}.xlsx", XLSX)], when=WHEN, message_id=f"<m{n}@x>")
            for n in range(3)]
    for raw in raws:
        dovecot.append(raw)
    settings = mb.ImapSettings(dovecot.host, dovecot.port, dovecot.user, dovecot.password, use_ssl=False)
    with mb.ImapMailbox(settings) as box:
        state = box.select()
        assert state.uidvalidity > 0 and state.uidnext == 4
        assert mb.new_uids(box, None, state, dt.date(2020, 1, 1)) == [1, 2, 3]
        remembered = {"uidvalidity": state.uidvalidity, "last_uid": 2}
        assert mb.new_uids(box, remembered, state, dt.date(2020, 1, 1)) == [3]
        assert box.uids_after(3) == []                       # "4:*" would return UID 3: filtered
        other = {"uidvalidity": state.uidvalidity + 1, "last_uid": 3}
        assert mb.new_uids(box, other, state, dt.date(2020, 1, 1)) == [1, 2, 3]
        assert box.fetch(2) == raws[1]
        assert box.size(2) == len(raws[1])                  # RFC822.SIZE, before any body is fetched
        box.mark_seen(2)
    snapshot = dovecot.mailbox_snapshot()
    assert [raw for _uid, raw, _flags in snapshot] == raws
    assert ["\\Seen" in flags for _uid, _raw, flags in snapshot] == [False, True, False]


def test_unreachable_mailbox_raises_mailbox_unavailable():
    from wcreport_testing.net import free_port

    settings = mb.ImapSettings("127.0.0.1", free_port(), "u", "p", use_ssl=False, timeout=3)
    with pytest.raises(mb.MailboxUnavailable), mb.ImapMailbox(settings):
        pass


@pytest.mark.slow
def test_wrong_password_raises_mailbox_unavailable(dovecot):
    settings = mb.ImapSettings(dovecot.host, dovecot.port, dovecot.user, "wrong", use_ssl=False)
    with pytest.raises(mb.MailboxUnavailable, match="login"), mb.ImapMailbox(settings):
        pass


# --- an unauthenticated file never replaces a unit's file -----------------------------
def _form_bytes(tmp_path, name: str, progress: str) -> bytes:
    from intake.conftest import EDU_ROWS
    from intake.corpus import Book, form_sheet, write

    rows = [[*row[:3], progress if n == 0 else row[3], row[4]] for n, row in enumerate(EDU_ROWS)]
    return write(Book([form_sheet("教育和体育事业中心", rows)]), tmp_path / "made" / name).read_bytes()


def test_forged_mails_leave_the_units_accepted_file_and_never_reach_the_workbook(tmp_path, ctx, unit_programme,
                                                                                  monkeypatch):
    from openpyxl import load_workbook

    from wcreport.flow.ingest_unit import decide_unit
    from wcreport.flow.merge import merge
    from wcreport.flow.run import QuarterRun

    ctx.quarter = Quarter(2023, 3)
    genuine = _form_bytes(tmp_path, "genuine.xlsx", "新建幼儿园1所。")
    mb.take_in(cm.authenticated(cm.foxmail("edu_sports@units.example.cn", "张", "三季度报表",
                                           [("教体中心报表.xlsx", genuine)], when=WHEN, message_id="<real@u>"),
                                UNITS_DOMAIN), ctx)
    inner = cm.foxmail("edu_sports@units.example.cn", "张", "更正", [("更正.xlsx", _form_bytes(tmp_path, "a.xlsx", "伪造转发"))],
                       when=WHEN + dt.timedelta(hours=1), message_id="<inner-forged@u>")
    mb.take_in(cm.authenticated(cm.forwarded("someone@qq.example", "转发", inner, when=WHEN + dt.timedelta(hours=1),
                                             message_id="<fw@qq>"), "qq.example"), ctx)
    mb.take_in(cm.authenticated(cm.foxmail("edu_sports@units.example.cn", "张", "更正二",
                                           [("更正二.xlsx", _form_bytes(tmp_path, "b.xlsx", "伪造发件人"))],
                                           when=WHEN + dt.timedelta(hours=2), message_id="<from-forged@u>"),
                                UNITS_DOMAIN, result="fail"), ctx)
    paths = quarter_paths(ctx.quarter, ctx.inbox_root, ctx.output_root)
    result = decide_unit(paths, unit_programme, "edu_sports", max_wait_seconds=0)
    assert result.status == "submitted" and result.accepted_path == "教育和体育事业中心/教体中心报表.xlsx"
    assert result.rows[0].progress == "新建幼儿园1所。"
    files = {f.path: f for f in result.files}
    assert files["更正.xlsx"].status == files["更正二.xlsx"].status == "held"
    assert "someone@qq.example" in files["更正.xlsx"].reasons[0] and "未经" in files["更正.xlsx"].reasons[0]

    for unit in unit_programme.units:
        if unit.key != "edu_sports":
            decide_unit(paths, unit_programme, unit.key, max_wait_seconds=0)
    monkeypatch.setattr(QuarterRun, "programme", property(lambda self: unit_programme))
    summary = merge(QuarterRun(quarter="2023Q3", inbox=str(ctx.inbox_root), output=str(ctx.output_root)))
    book = load_workbook(summary["report"])
    text = "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert "伪造" not in text and "新建幼儿园1所。" in text
    assert "待确认：发件人未经验证：「更正.xlsx」" in text
    manifest = (paths.manifest).read_text(encoding="utf-8")
    assert '"held"' in manifest or "待确认" in manifest


def test_the_clerk_moving_a_held_file_into_the_units_folder_makes_it_count(tmp_path, ctx, unit_programme):
    from wcreport.flow.ingest_unit import decide_unit

    ctx.quarter = Quarter(2023, 3)
    mb.take_in(cm.foxmail("edu_sports@units.example.cn", "张", "报表",
                          [("教体.xlsx", _form_bytes(tmp_path, "c.xlsx", "单位另用邮箱发送。"))], when=WHEN,
                          message_id="<other-box@u>"), ctx)
    paths = quarter_paths(ctx.quarter, ctx.inbox_root, ctx.output_root)
    assert decide_unit(paths, unit_programme, "edu_sports", max_wait_seconds=0).status == "missing"
    (paths.inbox / "教育和体育事业中心").mkdir(parents=True)
    (paths.inbox / "教体.xlsx").rename(paths.inbox / "教育和体育事业中心" / "教体.xlsx")
    result = decide_unit(paths, unit_programme, "edu_sports", max_wait_seconds=0)
    assert result.status == "submitted" and result.rows[0].progress == "单位另用邮箱发送。"


# --- a mailbox nobody can jam ---------------------------------------------------------
def _nested(depth: int) -> bytes:
    head = b"From: x@qq.example\r\nSubject: nested\r\nMessage-ID: <deep@x>\r\nDate: Tue, 26 Sep 2023 09:30:00 +0800\r\n"
    body = b"Content-Type: text/plain\r\n\r\nhi\r\n"
    for n in range(depth):
        boundary = f"b{n}".encode()
        body = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--' + boundary + b"\r\n"
                + body + b"\r\n--" + boundary + b"--\r\n")
    return head + body


def test_a_mail_of_thousands_of_nested_parts_is_quarantined_and_the_next_one_taken_in(ctx):
    from wcreport.intake.mailparts import MailUnreadable

    raw = _nested(3000)
    with pytest.raises(MailUnreadable):
        parse_mail(raw, LIMITS)
    entry = mb.take_in(raw, ctx, uid=5, uidvalidity=1)
    assert entry["state"] == "quarantined" and "RecursionError" in entry["reason"]
    assert (ctx.output_root / entry["eml"]).read_bytes() == raw
    assert mb.take_in(raw, ctx, uid=5, uidvalidity=1) == entry                       # recorded once
    good = mb.take_in(cm.foxmail("a@x.cn", "甲", "报表", [("表.xlsx", XLSX)], when=WHEN, message_id="<ok@x>"), ctx)
    assert good["saved_at"]
    assert [m["key"] for m in mb.pending_replies(ctx.output_root)] == ["mid:<ok@x>"]
    assert len(mb.quarantined(ctx.output_root)) == 1


def test_a_mail_of_a_year_without_programme_is_quarantined_and_retaken_once_the_file_exists(ctx, unit_programme):
    from wcreport.core.programme import ProgrammeError

    years = {2023}

    def load(year):
        if year not in years:
            raise ProgrammeError(f"no programme file for {year}")
        return unit_programme

    ctx.load_programme = load
    raw = cm.foxmail("a@x.cn", "甲", "报表", [("表.xlsx", XLSX)], when=dt.datetime(2031, 5, 6, 9, tzinfo=TZ),
                     message_id="<future@x>")
    entry = mb.take_in(raw, ctx, uid=9, uidvalidity=1)
    assert entry["state"] == "quarantined" and "2031" in entry["reason"]
    assert mb.pending_replies(ctx.output_root) == []
    years.add(2031)
    again = mb.retake("mid:<future@x>", ctx)
    assert again["saved_at"] and again["quarter"] == "2031Q2" and again["uid"] == 9
    assert mb.quarantined(ctx.output_root) == {}


@pytest.mark.parametrize(("subject", "headers", "answered"), [
    ("自动回复：我正在休假", [], False),
    ("Automatic reply: Out of Office", [], False),
    ("Auto-Reply: 三季度报表", [], False),
    ("【自动答复】您的邮件已收到", [], False),
    ("休假中，8月20日返回", [], False),
    ("Re: 回执：三季度报表", ["In-Reply-To: <receipt.0123456789abcdef0123456789abcdef@qtk.example>"], False),
    ("回复：报表", ["References: <a@x> <notice.0123456789abcdef0123456789abcdef@qtk.example>"], False),
    ("三季度报表", ["X-Autoreply: yes"], False),
    ("三季度报表", ["Precedence: auto_reply"], False),
    ("三季度报表", ["Auto-Submitted: auto-generated"], False),
    ("关于职工休假制度落实情况的报表", [], True),           # 休假 inside a real subject
    ("Re: 三季度报表", ["In-Reply-To: <someone@x>"], True),
], ids=["zh-subject", "out-of-office", "auto-reply", "auto-answer", "on-leave", "reply-to-receipt",
        "reply-to-notice", "x-autoreply", "precedence", "auto-submitted", "leave-in-subject", "human-reply"])
def test_auto_replies_and_replies_to_our_receipts_get_no_receipt(ctx, subject, headers, answered):
    raw = cm.plain("a@x.cn", subject, "自动回复内容", when=WHEN, message_id="<loop@x>", extra_headers=headers)
    mb.take_in(raw, ctx)
    assert bool(mb.pending_replies(ctx.output_root)) is answered


def test_one_mail_keeps_at_most_the_cap_of_attachments():
    from wcreport.intake.mailparts import MAX_ATTACHMENTS_PER_MAIL

    raw = cm.foxmail("a@x.cn", "甲", "洪水", [(f"表{n}.xlsx", XLSX + bytes([n])) for n in range(200)],
                     when=WHEN, message_id="<flood@x>")
    mail = parse_mail(raw, LIMITS)
    assert len(mail.attachments) == MAX_ATTACHMENTS_PER_MAIL
    assert len(mail.skipped) == 1 and f"其余 {200 - MAX_ATTACHMENTS_PER_MAIL} 个" in mail.skipped[0].reason


def test_an_unknown_sender_gets_a_capped_number_of_files_per_quarter(ctx):
    for n in range(3):
        files = [(f"表{n}-{k}.xlsx", XLSX + f"{n}-{k}".encode()) for k in range(9)]
        entry = mb.take_in(cm.foxmail("flood@qq.example", "甲", f"第{n}封", files, when=WHEN,
                                      message_id=f"<flood{n}@q>"), ctx)
    inbox = quarter_paths("2023Q3", ctx.inbox_root, ctx.output_root).inbox
    assert len(list(inbox.glob("*.xlsx"))) == mb.MAX_FILES_PER_UNKNOWN_SENDER
    assert len(entry["files"]) == 2 and len(entry["skipped"]) == 7
    assert "未登记地址的上限" in entry["skipped"][0]["reason"]
    # a unit whose address our server vouches for is not capped
    unit_files = [(f"教体{k}.xlsx", XLSX + bytes([k])) for k in range(25)]
    unit = mb.take_in(cm.authenticated(cm.foxmail("edu_sports@units.example.cn", "张", "多", unit_files, when=WHEN,
                                                  message_id="<many@u>"), UNITS_DOMAIN), ctx)
    assert len(unit["files"]) == 25


def test_a_mail_without_message_id_delivered_twice_is_kept_and_answered_once(ctx):
    raw = cm.foxmail("a@x.cn", "甲", "报表", [("表.xlsx", XLSX)], when=WHEN, message_id=None)
    again = (b"Delivered-To: alias@qtk.example\r\nReceived: from mx2 by mx.qtk.example.cn; "
             b"Tue, 26 Sep 2023 09:31:00 +0800\r\n" + raw)
    first, second = mb.take_in(raw, ctx), mb.take_in(again, ctx)
    assert first["saved_at"] == second["saved_at"] and len(mb.pending_replies(ctx.output_root)) == 1
    other = cm.foxmail("a@x.cn", "甲", "报表", [("表.xlsx", XLSX + b"2")], when=WHEN, message_id=None)
    assert mb.take_in(other, ctx)["files"] and len(mb.pending_replies(ctx.output_root)) == 2


def test_a_unit_is_told_of_a_file_held_for_it_by_content_once_and_the_clerk_when_it_has_no_address(
        tmp_path, ctx, unit_programme, caplog):
    from wcreport_testing.net import free_port

    from mailsink import MailSink
    from wcreport.deliver.smtp import SmtpSettings
    from wcreport.flow.ingest_unit import decide_unit
    from wcreport.flow.unverified import tell_of_held

    ctx.quarter = Quarter(2023, 3)
    mb.take_in(cm.foxmail("stranger@qq.example", "某人", "报表", [("教体.xlsx", _form_bytes(tmp_path, "d.xlsx", "陌生"))],
                          when=WHEN, message_id="<stranger@q>"), ctx)
    paths = quarter_paths(ctx.quarter, ctx.inbox_root, ctx.output_root)
    result = decide_unit(paths, unit_programme, "edu_sports", max_wait_seconds=0)
    assert [f.status for f in result.files] == ["held"]
    port = free_port()
    smtp = SmtpSettings("127.0.0.1", port, sender="bot@qtk.example", timeout=5)
    with MailSink(port=port) as sink:
        assert tell_of_held(paths, unit_programme, result, lambda: smtp) == 1
        assert tell_of_held(paths, unit_programme, result, lambda: smtp) == 0       # once per mail
        [notice] = sink.wait_for(1, timeout=10)
    assert notice.rcpt_tos == ["edu_sports@units.example.cn"]
    body = notice.message.get_body(("plain",)).get_content()
    assert "stranger@qq.example" in body and "教体.xlsx" in body and "待确认：发件人未经验证" in body

    no_address = unit_programme.model_copy(update={"units": [
        u.model_copy(update={"emails": []}) if u.key == "edu_sports" else u for u in unit_programme.units]})
    mb.take_in(cm.foxmail("other@qq.example", "某人", "报表", [("教体2.xlsx", _form_bytes(tmp_path, "e.xlsx", "又一"))],
                          when=WHEN, message_id="<other@q>"), ctx)
    result = decide_unit(paths, no_address, "edu_sports", max_wait_seconds=0)
    with caplog.at_level("WARNING"):
        assert tell_of_held(paths, no_address, result, lambda: smtp) == 0
    assert "CLERK:" in caplog.text and "教体2.xlsx" in caplog.text
