"""The mailbox ledger can be rebuilt from the kept mails, and a lost one never answers a mail twice.

Each mail's entry is kept beside its .eml; a ledger that lacks a kept mail (deleted,
replaced by an old backup) is refused until ``wcreport mailbox-ledger rebuild`` writes it
from them. The poll below is the mailbox_intake DAG's (``orchestration.mailbox``): new UIDs,
``take_in``, the UID bookmark, ``\\Seen``; a receipt is recorded as ``send_receipts`` does
once the SMTP server accepted it.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from wcreport_testing import chinese_mail as cm

from wcreport.cli.main import main as cli
from wcreport.core.io import DamagedStateError
from wcreport.core.quarter import TZ
from wcreport.intake import mailbox as mb
from wcreport.intake.mailbox_ledger import kept_entry_path, ledger_path, rebuild_ledger
from wcreport.intake.mailparts import Limits

WHEN = dt.datetime(2023, 9, 26, 9, 30, tzinfo=TZ)
SINCE = dt.date(2023, 7, 1)
LIMITS = Limits(max_file_bytes=1024 * 1024, max_uncompressed_bytes=8 * 1024 * 1024)
XLSX = b"PK\x03\x04 not really a workbook, but bytes to compare"
UNITS_DOMAIN = "units.example.cn"


@pytest.fixture
def unit_programme(programme):
    units = [u.model_copy(update={"emails": [f"{u.key}@units.example.cn"]}) if u.key in ("edu_sports", "sibaoshan")
             else u for u in programme.units]
    return programme.model_copy(update={"units": units})


@pytest.fixture
def ctx(tmp_path, unit_programme):
    return mb.TakeIn(inbox_root=tmp_path / "inbox", output_root=tmp_path / "output", limits=LIMITS,
                     load_programme=lambda year: unit_programme, authserv_id=cm.OUR_AUTHSERV_ID)


def unit_mail(n: int, unit: str = "sibaoshan") -> bytes:
    return cm.authenticated(cm.foxmail(f"{unit}@units.example.cn", "王", f"三季度报表{n}", [(f"报表{n}.xlsx", XLSX)],
                                       when=WHEN + dt.timedelta(hours=n), message_id=f"<r{n}@units>"), UNITS_DOMAIN)


def answer_all(output_root) -> list[str]:
    """What send_receipts does for each pending mail once SMTP accepted its receipt."""
    answered = []
    for entry in mb.pending_replies(output_root):
        mb.record_reply(output_root, entry["key"], reply_message_id=f"<receipt-{len(answered)}@qtk>")
        answered.append(entry["key"])
    return answered


def test_a_deleted_ledger_is_refused_until_rebuilt_and_then_nothing_is_answered_again(ctx):
    for n in (1, 2, 3):
        mb.take_in(unit_mail(n), ctx, uid=n, uidvalidity=7)
    assert answer_all(ctx.output_root) == ["mid:<r1@units>", "mid:<r2@units>", "mid:<r3@units>"]
    mb.take_in(cm.plain("q@x.cn", "问题", "无附件", when=WHEN, message_id="<q@x>"), ctx)   # saved, not yet answered
    before = mb.read_ledger(ctx.output_root)["messages"]

    ledger_path(ctx.output_root).unlink()
    with pytest.raises(DamagedStateError, match="wcreport mailbox-ledger rebuild"):
        mb.pending_replies(ctx.output_root)
    with pytest.raises(DamagedStateError):
        mb.take_in(unit_mail(1), ctx, uid=1, uidvalidity=7)     # polling again takes nothing in
    assert not ledger_path(ctx.output_root).exists()

    rebuilt = rebuild_ledger(ctx.output_root)
    assert (rebuilt.restored, rebuilt.unreadable, rebuilt.old) == (4, [], None)
    assert rebuilt.ledger["messages"] == before
    for n in (1, 2, 3):
        assert mb.take_in(unit_mail(n), ctx, uid=n, uidvalidity=7)["replied_at"]
    assert [m["key"] for m in mb.pending_replies(ctx.output_root)] == ["mid:<q@x>"]


def test_an_old_backup_of_the_ledger_is_refused_and_the_rebuild_keeps_what_it_knows_and_what_it_lost(ctx):
    mb.take_in(unit_mail(1), ctx, uid=1, uidvalidity=7)
    mb.remember_uid(ctx.output_root, "qtk@imap:143/INBOX", 7, 1)
    backup = ledger_path(ctx.output_root).read_text(encoding="utf-8")
    answer_all(ctx.output_root)
    mb.take_in(unit_mail(2), ctx, uid=2, uidvalidity=7)
    ledger_path(ctx.output_root).write_text(backup, encoding="utf-8")      # restored from last night's backup

    with pytest.raises(DamagedStateError, match="lacks mails that were taken in"):
        mb.read_ledger(ctx.output_root)
    rebuilt = rebuild_ledger(ctx.output_root)
    assert rebuilt.old is not None and rebuilt.old.read_text(encoding="utf-8") == backup
    messages = rebuilt.ledger["messages"]
    assert messages["mid:<r1@units>"]["replied_at"]                          # the kept entry is further along
    assert set(messages) == {"mid:<r1@units>", "mid:<r2@units>"}
    assert rebuilt.ledger["folders"] == {"qtk@imap:143/INBOX": {"uidvalidity": 7, "last_uid": 1}}
    assert [m["key"] for m in mb.pending_replies(ctx.output_root)] == ["mid:<r2@units>"]


def test_a_quarantined_mail_retaken_keeps_one_entry(ctx, unit_programme):
    years = {2023: unit_programme}

    def load(year):
        if year not in years:
            raise FileNotFoundError(f"no programme for {year}")
        return years[year]

    ctx.load_programme = load
    raw = cm.foxmail("sibaoshan@units.example.cn", "王", "报表", [("报表.xlsx", XLSX)],
                     when=dt.datetime(2031, 3, 1, 9, tzinfo=TZ), message_id="<late@units>")
    assert mb.take_in(raw, ctx)["state"] == "quarantined"
    years[2031] = unit_programme
    entry = mb.retake("mid:<late@units>", ctx)
    assert entry["saved_at"] and "state" not in entry
    kept = json.loads(kept_entry_path(ctx.output_root, entry["eml"]).read_text(encoding="utf-8"))
    assert kept == {"key": "mid:<late@units>", "entry": entry}
    assert mb.read_ledger(ctx.output_root)["messages"]["mid:<late@units>"] == entry


def test_cli_verify_and_rebuild(ctx, capsys):
    mb.take_in(unit_mail(1), ctx, uid=1, uidvalidity=7)
    root = str(ctx.output_root)
    assert cli(["mailbox-ledger", "verify", "--output", root]) == 0
    ledger_path(ctx.output_root).write_text("{not json", encoding="utf-8")
    assert cli(["mailbox-ledger", "verify", "--output", root]) == 1
    assert "mailbox-ledger rebuild" in capsys.readouterr().out
    assert cli(["mailbox-ledger", "rebuild", "--output", root]) == 0
    out = capsys.readouterr().out
    assert "已重建" in out and "原台账已保留为" in out
    assert cli(["mailbox-ledger", "verify", "--output", root]) == 0
    assert list(mb.read_ledger(ctx.output_root)["messages"]) == ["mid:<r1@units>"]


# --- against Dovecot, as the mailbox_intake DAG polls ---------------------------------


def poll(dovecot, ctx) -> int:
    """``orchestration.mailbox.take_in_mail``'s loop: how many UIDs were looked at."""
    imap = mb.ImapSettings(dovecot.host, dovecot.port, dovecot.user, dovecot.password, use_ssl=False)
    with mb.ImapMailbox(imap) as box:
        state = box.select()
        uids = mb.new_uids(box, mb.read_ledger(ctx.output_root)["folders"].get(imap.folder_id), state, SINCE)
        for uid in uids:
            mb.take_in(box.fetch(uid), ctx, uid=uid, uidvalidity=state.uidvalidity)
            box.mark_seen(uid)
            mb.remember_uid(ctx.output_root, imap.folder_id, state.uidvalidity, uid)
    return len(uids)


@pytest.mark.slow
def test_deleting_the_ledger_and_polling_again_answers_nothing_twice(dovecot, ctx):
    for n in (1, 2, 3):
        dovecot.append(unit_mail(n), when=WHEN + dt.timedelta(hours=n))
    assert poll(dovecot, ctx) == 3
    receipts = answer_all(ctx.output_root)
    assert len(receipts) == 3

    ledger_path(ctx.output_root).unlink()
    with pytest.raises(DamagedStateError):
        poll(dovecot, ctx)
    with pytest.raises(DamagedStateError):
        answer_all(ctx.output_root)
    assert cli(["mailbox-ledger", "rebuild", "--output", str(ctx.output_root)]) == 0

    assert poll(dovecot, ctx) == 3                  # no bookmark: searched by date, each mail recognised
    assert answer_all(ctx.output_root) == []
    dovecot.append(unit_mail(4, "edu_sports"), when=WHEN + dt.timedelta(hours=4))
    assert poll(dovecot, ctx) == 1
    receipts += answer_all(ctx.output_root)
    assert receipts == ["mid:<r1@units>", "mid:<r2@units>", "mid:<r3@units>", "mid:<r4@units>"]
    assert poll(dovecot, ctx) == 0
    inbox = ctx.inbox_root / "2023Q3"
    assert sorted(p.name for p in (inbox / "四宝山街道").iterdir()) == ["报表1.xlsx", "报表2.xlsx", "报表3.xlsx"]
