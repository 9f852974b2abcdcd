"""Files mailed in a unit's name by a sender the office's mail server did not vouch for.

Such a file is ``held`` (待确认：发件人未经验证): it can never be the version that counts, so
it can never replace the unit's own words. The clerk accepts it by moving it into the unit's
folder; the unit's registered addresses are told once per such mail, so a forgery is seen.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from wcreport.core.model import FileRecord, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import TZ
from wcreport.core.settings import QuarterPaths
from wcreport.deliver.address_book import AddressBook, address_book
from wcreport.deliver.receipts import UnverifiedNotice, send_unverified_notice
from wcreport.deliver.smtp import SmtpSettings
from wcreport.intake.mailbox import provenance_by_path, read_ledger, record_notice

log = logging.getLogger(__name__)


def held_reason(mailed: dict) -> str:
    return (f"该文件由 {mailed.get('sender') or '未知地址'} 于 {mailed.get('date', '')[:16].replace('T', ' ')} "
            "通过邮件发送，发件人未经本单位登记邮箱验证，暂不采用。确属本单位报送的，由工作人员核实后移入本单位文件夹。")


def hold_unverified(paths: QuarterPaths, records: list[FileRecord], unit_key: str) -> list[FileRecord]:
    """The unit's mailed files that only their content attributes to it, from a sender not
    authenticated as the unit: set ``held``. A file in the unit's folder is the clerk's word."""
    candidates = [r for r in records if r.unit == unit_key and r.status in ("pending", "rejected")
                  and r.kind in ("spreadsheet", "stamped_copy", "archive")
                  and "folder" not in (r.unit_source or "").split("+")]
    mailed = provenance_by_path(paths, [_as_received(r.path) for r in candidates])
    held = [r for r in candidates if _as_received(r.path) in mailed
            and mailed[_as_received(r.path)].get("sender_unit") != unit_key]
    for record in held:
        reason = held_reason(mailed[_as_received(record.path)])
        record.status, record.reasons, record.findings = "held", [reason], []
    return held


def _as_received(path: str) -> str:
    """The file as it arrived: a zip member (``x.zip!member``) came as its zip."""
    return path.split("!", 1)[0]


def tell_of_held(paths: QuarterPaths, programme: Programme, result: UnitResult,
                 smtp: Callable[[], SmtpSettings], book: AddressBook | None = None) -> int:
    """Tell the unit's registered addresses of each mail whose files are held for it, once per
    mail (the mailbox ledger remembers; mails naming the unit by address were told at intake).
    A unit without an address is left to the clerk (a ``CLERK:`` log line). Notices sent."""
    held = sorted({_as_received(r.path) for r in result.files if r.status == "held"})
    if not held:
        return 0
    unit = programme.units_by_key[result.unit]
    addresses = (book or address_book(programme)).of(unit.key)
    messages = read_ledger(paths.output_root)["messages"]
    told = 0
    for path, mailed in provenance_by_path(paths, held).items():
        key = mailed.get("message_key")
        if not key or key not in messages or messages[key].get("notice"):
            continue
        if not addresses:
            log.warning("CLERK: %s mailed 「%s」 for %s without authentication; held (待确认：发件人未经验证). "
                        "The unit has no address to tell: call it, then move or delete the file.",
                        mailed.get("sender"), path, unit.name)
            record_notice(paths.output_root, key, {"not_sent": "the unit has no registered address", "unit": unit.key})
            continue
        received = dt.datetime.fromisoformat(mailed["date"]).astimezone(TZ)
        notice = UnverifiedNotice(
            key=key, to=addresses, unit_name=unit.name, sender=mailed.get("sender", ""),
            sender_name=mailed.get("sender_name", ""), subject=mailed.get("subject", ""),
            received_at=f"{received.year}年{received.month}月{received.day}日 {received:%H:%M}",
            forwarded_from=(mailed.get("forwarded_from") or {}).get("sender"), files=[mailed.get("attachment", path)],
            organiser=programme.report.organiser, phone=programme.report.phone)
        message_id = send_unverified_notice(smtp(), notice)
        record_notice(paths.output_root, key, {"message_id": message_id, "to": notice.to, "unit": unit.key})
        told += 1
    return told


def tell_of_held_safely(paths: QuarterPaths, programme: Programme, result: UnitResult,
                        smtp: Callable[[], SmtpSettings], book: AddressBook | None = None) -> None:
    """``tell_of_held``; a mail problem never fails the ingest (the next run tells them)."""
    try:
        told = tell_of_held(paths, programme, result, smtp, book)
    except Exception:  # a mail problem never fails the ingest; the next run tells them
        log.exception("Notice of held files to %s not sent; the next run tries again", result.unit)
        return
    if told:
        log.info("Unit %s told of %d mail(s) held for it", result.unit, told)
