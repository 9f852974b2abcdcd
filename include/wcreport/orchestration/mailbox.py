"""The mailbox_intake DAG's work: read ``imap_default``, take mails in, answer each once.

* ``poll_due`` – when to poll: every 10 minutes on the reminder days before a quarter's
  deadline (``deliver.reminders.due_quarter``), else at the top of each hour; manual
  runs always poll.
* ``take_in_mail`` – new mails (by UID, see ``intake.mailbox``) are kept: .eml archived,
  report files saved into the inbox, state ``saved`` in the ledger, then ``\\Seen``.
  A mail over ``MAX_MAIL_BYTES`` (by RFC822.SIZE, before its body is fetched), one that
  cannot be parsed, or one of a year without a programme file is quarantined (ledger,
  ops log line) and the bookmark moves past it: no mail can jam the mailbox. Only our own
  faults (disk, IMAP) leave the bookmark before a mail and fail the task at the end.
  Senders are authenticated by the connection's extra ``authserv_id`` (``intake.mailauth``).
* ``send_receipts`` – every saved, unanswered mail gets its receipt through
  ``smtp_default`` (checks: ``validate.selfcheck.check_file``, as ``wcreport check``);
  state ``replied`` is recorded after the SMTP server accepted it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from wcreport.core.programme import programme_for_year
from wcreport.core.quarter import TZ, Quarter
from wcreport.core.settings import quarter_paths, settings
from wcreport.deliver.receipts import Receipt, ReceivedFile, UnverifiedNotice, send_receipt, send_unverified_notice
from wcreport.deliver.smtp import MailError
from wcreport.intake.mailbox import (
    MAX_MAIL_BYTES,
    ImapMailbox,
    ImapSettings,
    MailboxUnavailable,
    TakeIn,
    first_search_day,
    mailbox_dir,
    new_uids,
    pending_notices,
    pending_replies,
    quarantine,
    read_ledger,
    record_notice,
    record_reply,
    remember_uid,
    take_in,
    take_in_too_large,
)
from wcreport.intake.mailparts import Limits
from wcreport.orchestration.connections import SMTP_CONN_ID
from wcreport.orchestration.failures import fail_fast

log = logging.getLogger(__name__)

IMAP_CONN_ID = "imap_default"
BUSY_EVERY_MINUTES = 10


class MailboxConfigError(ValueError):
    """The IMAP connection cannot work as configured: no retry can fix it."""


class MailIntakeError(RuntimeError):
    """Some mails could not be taken in or answered; the rest were (they are retried next run)."""


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def imap_settings(conn_id: str = IMAP_CONN_ID, folder: str = "INBOX") -> ImapSettings:
    """Read an Airflow connection as the IMAP provider's ImapHook does.

    host, port, login, password; extra ``use_ssl`` (default true: IMAPS, port 993; false:
    plain IMAP on 143, or STARTTLS with extra ``starttls``), extra ``timeout`` in seconds.
    """
    from airflow.sdk import BaseHook  # imported here: keep DAG parsing light

    return imap_settings_of(BaseHook.get_connection(conn_id), conn_id, folder)


def imap_settings_of(conn, conn_id: str = IMAP_CONN_ID, folder: str = "INBOX") -> ImapSettings:
    """``imap_settings`` of a connection already read (the triggerer reads it asynchronously)."""
    extra = conn.extra_dejson or {}
    use_ssl = _flag(extra.get("use_ssl", True))
    starttls = _flag(extra.get("starttls", False)) and not use_ssl
    if not conn.host:
        raise MailboxConfigError(f"Airflow connection {conn_id!r} has no host: set it (Admin → Connections)")
    if not conn.login:
        raise MailboxConfigError(f"Airflow connection {conn_id!r} has no login: set the mailbox account")
    return ImapSettings(host=conn.host, port=int(conn.port or (993 if use_ssl else 143)), user=conn.login,
                        password=conn.password or "", use_ssl=use_ssl, starttls=starttls,
                        folder=folder or "INBOX", timeout=float(extra.get("timeout", 60)))


def authserv_id(conn_id: str = IMAP_CONN_ID) -> str | None:
    """The office's server's authserv-id (extra ``authserv_id``); None: no sender is authenticated."""
    from airflow.sdk import BaseHook

    value = (BaseHook.get_connection(conn_id).extra_dejson or {}).get("authserv_id")
    if not value:
        log.warning("Connection %r has no extra 'authserv_id': no mail sender counts as a unit "
                    "(files are attributed by their folder or content only)", conn_id)
    return str(value).strip() if value else None


# --- when -------------------------------------------------------------------
def poll_due(now: dt.datetime, *, manual: bool = False, busy=None) -> bool:
    """Poll now? Manual runs always; scheduled ones every tick (10 min) in the busy days
    before a deadline, else only the tick at the top of the hour."""
    if manual:
        return True
    local = now.astimezone(TZ)
    if local.minute < BUSY_EVERY_MINUTES:
        return True
    if busy is None:
        from wcreport.deliver.reminders import due_quarter

        busy = due_quarter
    return busy(local.date()) is not None


@fail_fast
def resolve_poll(params: dict) -> dict:
    """The run's settings as plain values (XCom): quarter (or None: by date), folders, since."""
    quarter = params.get("quarter")
    if quarter:
        quarter = str(Quarter.parse(quarter))
    current = settings()          # every setting checked: a wrong one fails this first step at once
    return {"quarter": quarter, "inbox": str(Path(params.get("inbox") or current.inbox_root)),
            "output": str(Path(params.get("output") or current.output_root)),
            "folder": params.get("folder") or "INBOX", "since": params.get("since") or None}


def _limits() -> Limits:
    current = settings()
    return Limits(current.max_file_bytes, current.max_uncompressed_bytes)


# --- taking mails in ---------------------------------------------------------
@contextlib.contextmanager
def one_intake_at_a_time(output_root: Path) -> Iterator[None]:
    """Held across a take-in and across the receipts: the hourly poll (``mailbox_intake``) and the
    event-driven check (``unit_intake``) may run together, and a mail must be kept and answered once."""
    lock_path = mailbox_dir(output_root) / "intake.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@fail_fast
def take_in_mail(run: dict, conn_id: str = IMAP_CONN_ID) -> dict:
    """Keep every new mail of the folder; see the module docstring."""
    with one_intake_at_a_time(Path(run["output"])):
        return _take_in_mail(run, conn_id)


def _take_in_mail(run: dict, conn_id: str) -> dict:
    imap = imap_settings(conn_id, run["folder"])
    output_root = Path(run["output"])
    forced = Quarter.parse(run["quarter"]) if run.get("quarter") else None
    ctx = TakeIn(inbox_root=Path(run["inbox"]), output_root=output_root, limits=_limits(), quarter=forced,
                 authserv_id=authserv_id(conn_id), own_addresses=frozenset({imap.user.strip().lower()} - {""}))
    since = (dt.date.fromisoformat(run["since"]) if run.get("since")
             else first_search_day(dt.datetime.now(TZ).date(), forced))
    summary = {"uids": 0, "kept": 0, "files": 0, "quarantined": 0, "failed": []}
    with ImapMailbox(imap) as box:
        state = box.select()
        uids = new_uids(box, read_ledger(output_root)["folders"].get(imap.folder_id), state, since)
        log.info("Mailbox %s: UIDVALIDITY %s, %d mail(s) to look at", imap.folder_id, state.uidvalidity, len(uids))
        summary["uids"] = len(uids)
        in_order = True
        for uid in uids:
            try:
                entry = _take_in_one(box, uid, state.uidvalidity, ctx)
            except MailboxUnavailable:
                raise
            except Exception:  # one bad mail must not stop the others
                log.exception("Could not take in mail UID %s; it is tried again next run", uid)
                summary["failed"].append(uid)
                in_order = False
                continue
            if entry is not None and entry.get("state") == "quarantined":
                summary["quarantined"] += 1
            elif entry is not None:
                summary["kept"] += 1
                summary["files"] += len(entry.get("files", []))
            if in_order:
                remember_uid(output_root, imap.folder_id, state.uidvalidity, uid)
    log.info("Mailbox intake: %s", summary)
    if summary["failed"]:
        raise MailIntakeError(f"{len(summary['failed'])} mail(s) could not be taken in (UIDs {summary['failed']}); "
                              "see the log above. They stay in the mailbox and are tried again next run.")
    return summary


def _take_in_one(box: ImapMailbox, uid: int, uidvalidity: int, ctx: TakeIn) -> dict | None:
    size = box.size(uid)
    if size is not None and size > MAX_MAIL_BYTES:
        header = box.fetch_header(uid)
        if header is None:
            entry = quarantine(ctx.output_root, f"uid:{box.settings.folder_id}:{uidvalidity}:{uid}",
                               f"mail of {size} bytes is over the {MAX_MAIL_BYTES}-byte limit; not fetched",
                               uid=uid, uidvalidity=uidvalidity, size=size)
        else:
            log.warning("Mail UID %s is %s bytes (limit %s): body not fetched, the sender is told", uid, size,
                        MAX_MAIL_BYTES)
            entry = take_in_too_large(header, size, ctx, uid=uid, uidvalidity=uidvalidity)
        box.mark_seen(uid)
        return entry
    raw = box.fetch(uid)
    if raw is None:
        log.warning("Mail UID %s vanished before it was fetched", uid)
        return None
    entry = take_in(raw, ctx, uid=uid, uidvalidity=uidvalidity)
    box.mark_seen(uid)
    return entry


# --- answering ---------------------------------------------------------------
@fail_fast
def send_receipts(run: dict, conn_id: str = SMTP_CONN_ID, imap_conn_id: str = IMAP_CONN_ID) -> dict:
    """One receipt for every saved, unanswered mail (also those of earlier runs)."""
    with one_intake_at_a_time(Path(run["output"])):
        return _send_receipts(run, conn_id, imap_conn_id)


def _send_receipts(run: dict, conn_id: str, imap_conn_id: str) -> dict:
    from wcreport.orchestration.connections import smtp_settings

    output_root = Path(run["output"])
    pending = pending_replies(output_root)
    notices = pending_notices(output_root)
    summary = {"sent": 0, "not_answered": 0, "notices": 0, "failed": []}
    if not pending and not notices:
        return summary
    smtp = smtp_settings(conn_id)
    for entry in notices:
        summary["notices"] += _tell_claimed_unit(smtp, entry, output_root, summary["failed"])
    own = {smtp.sender.lower(), _imap_login(imap_conn_id)} - {""}
    for entry in pending:
        if entry["sender"] in own:
            record_reply(output_root, entry["key"], no_reply="sent from our own address")
            summary["not_answered"] += 1
            continue
        try:
            receipt = build_receipt(entry, Path(run["inbox"]), output_root)
            message_id = send_receipt(smtp, receipt, unit_key=entry.get("unit"))
        except MailError:
            log.exception("Receipt for %s to %s not sent; tried again next run", entry["key"], entry["sender"])
            summary["failed"].append(entry["key"])
            continue
        record_reply(output_root, entry["key"], reply_message_id=message_id)
        summary["sent"] += 1
        log.info("Receipt %s sent to %s for %s", message_id, entry["sender"], entry["key"])
    if summary["failed"]:
        raise MailError(f"{len(summary['failed'])} receipt(s) not accepted by SMTP; they are sent next run")
    return summary


def _tell_claimed_unit(smtp, entry: dict, output_root: Path, failed: list[str]) -> int:
    """Tell the unit a mail named by address that its files wait (``deliver.receipts.UnverifiedNotice``);
    a unit without an address is left to the clerk (log). 1 when a notice went out."""
    quarter = Quarter.parse(entry["quarter"])
    programme = programme_for_year(quarter.year)
    unit = programme.units_by_key.get(entry["claimed_unit"])
    if unit is None or not unit.addresses:
        log.warning("CLERK: mail %s from unauthenticated %s names unit %s, which has no address to tell; "
                    "its files are held (待确认：发件人未经验证)", entry["key"], entry["sender"], entry["claimed_unit"])
        record_notice(output_root, entry["key"], {"not_sent": "the unit has no registered address"})
        return 0
    received = dt.datetime.fromisoformat(entry["date"]).astimezone(TZ)
    notice = UnverifiedNotice(
        key=entry["key"], to=list(unit.addresses), unit_name=unit.name, sender=entry["sender"],
        sender_name=entry.get("sender_name", ""), subject=entry.get("subject", ""),
        received_at=f"{received.year}年{received.month}月{received.day}日 {received:%H:%M}",
        forwarded_from=next((f["forwarded_from"] for f in entry.get("files", []) if f.get("forwarded_from")), None),
        files=[f["name"] for f in entry.get("files", [])], organiser=programme.report.organiser,
        phone=programme.report.phone)
    try:
        message_id = send_unverified_notice(smtp, notice)
    except MailError:
        log.exception("Notice to %s about %s not sent; tried again next run", unit.key, entry["key"])
        failed.append(entry["key"])
        return 0
    record_notice(output_root, entry["key"], {"message_id": message_id, "to": notice.to})
    log.warning("Unit %s told that %s sent mail %s in its name without authentication", unit.key,
                entry["sender"], entry["key"])
    return 1


def _imap_login(conn_id: str) -> str:
    try:
        from airflow.sdk import BaseHook

        return (BaseHook.get_connection(conn_id).login or "").strip().lower()
    except Exception:  # no such connection: nothing to exclude
        return ""


def build_receipt(entry: dict, inbox_root: Path, output_root: Path) -> Receipt:
    """The receipt for one ledger entry, with the self-check of each saved spreadsheet."""
    quarter = Quarter.parse(entry["quarter"])
    programme = programme_for_year(quarter.year)
    folder = quarter_paths(quarter, inbox_root, output_root).inbox
    files = [_received_file(f, folder, programme) for f in entry.get("files", [])]
    received = dt.datetime.fromisoformat(entry["date"]).astimezone(TZ)
    return Receipt(key=entry["key"], to=entry["sender"], subject=entry.get("subject", ""),
                   message_id=entry.get("message_id"), references=entry.get("references", []),
                   received_at=f"{received.year}年{received.month}月{received.day}日 {received:%H:%M}",
                   quarter_label=quarter.label_zh, unit_name=entry.get("unit_name"),
                   sender_name=entry.get("sender_name", ""), files=files, skipped=entry.get("skipped", []),
                   organiser=programme.report.organiser, phone=programme.report.phone,
                   unverified_unit=_unit_name(programme, entry.get("claimed_unit")))


def _unit_name(programme, key: str | None) -> str | None:
    unit = programme.units_by_key.get(key) if key else None
    return unit.name if unit else None


def _received_file(saved: dict, folder: Path, programme) -> ReceivedFile:
    item = ReceivedFile(name=saved["name"], kind=saved["kind"], container=saved.get("container"),
                        note=saved.get("note"))
    if item.kind == "spreadsheet":
        item.accepted, item.feedback = _self_check(folder / saved["path"], programme, saved.get("unit"))
    return item


def _self_check(path: Path, programme, unit_key: str | None) -> tuple[bool, str]:
    """The same check as ``wcreport check FILE``; an internal error becomes a Chinese note."""
    from wcreport.validate.selfcheck import check_file

    try:
        return check_file(path, programme, unit_key)
    except Exception:  # a checker bug must not stop the receipts
        log.exception("Self-check of %s failed", path)
        return False, "自动检查时发生内部错误，文件已保存，工作人员将人工核对。"
