"""The organiser's mailbox as an inbox: fetch new mails over IMAP, keep their report files.

IMAP goes through imap-tools (``wcreport.intake.imap``, its names re-exported here as
the mailbox's public API). Which
mails are new is decided by UID: the ledger remembers, per mailbox folder, its
UIDVALIDITY and the highest UID fully taken in. When the server reports another
UIDVALIDITY (the folder was rebuilt), or on the very first run, the folder is searched
by date instead and every mail is recognised by its key (Message-ID, else the sha256 of
its bytes), so nothing is taken in twice. The mailbox is only ever changed by setting
``\\Seen`` on a mail once it is taken in: nothing is moved, deleted or expunged.

``take_in`` keeps one mail: its exact bytes under ``<output>/mailbox/eml/<sha256>.eml``;
each report file byte-identical under ``<inbox>/<quarter>/[<unit name>/]``, the unit
being the one the sender's address belongs to in the programme file when the office's
server authenticated that address (``intake.mailauth``; else the quarter's folder, and the
scan attributes the file by its content); where each file
came from in ``<output>/<quarter>/mailbox/ledger.json`` (``provenance_by_path``); and
the mail itself, state ``saved``, in ``<output>/mailbox/ledger.json``, its entry also kept
beside its .eml so that the ledger can be rebuilt (``intake.mailbox_ledger``). Replies are
deliver's job, and only for mails whose state is ``saved`` (see ``pending_replies``).
``MailboxChannel`` is ``take_in`` as an intake channel (``wcreport.intake.channels``).

Nobody can jam the mailbox: a mail that cannot be taken apart, that belongs to no
programme year, or that is too large to fetch is *quarantined* (``quarantine``): ledger
state ``quarantined`` with its reason, its .eml kept when it was fetched, an ops log line;
the UID bookmark moves past it. ``retake`` tries a quarantined mail again (runbook).
An unknown sender's files are capped per quarter (``MAX_FILES_PER_UNKNOWN_SENDER``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from wcreport.core.io import locked_json, read_json, write_atomic
from wcreport.core.programme import Programme, ProgrammeError, Unit, programme_for_year
from wcreport.core.quarter import TZ, Quarter
from wcreport.core.settings import QuarterPaths, quarter_paths
from wcreport.intake.channels import Delivered
from wcreport.intake.imap import FolderState as FolderState
from wcreport.intake.imap import ImapMailbox as ImapMailbox
from wcreport.intake.imap import ImapSettings as ImapSettings
from wcreport.intake.imap import MailboxUnavailable as MailboxUnavailable
from wcreport.intake.imap import new_uids as new_uids
from wcreport.intake.mailbox_ledger import LEDGER_VERSION as LEDGER_VERSION
from wcreport.intake.mailbox_ledger import keep_entry, kept_entry_path, locked_ledger
from wcreport.intake.mailbox_ledger import ledger_path as ledger_path
from wcreport.intake.mailbox_ledger import mailbox_dir as mailbox_dir
from wcreport.intake.mailbox_ledger import read_ledger as read_ledger
from wcreport.intake.mailheaders import content_hash, safe_filename
from wcreport.intake.mailparts import Attachment, Limits, Mail, MailUnreadable, Origin, Skipped, parse_mail

log = logging.getLogger(__name__)

LATE_GRACE_DAYS = 15
"""A mail received up to this many days after a quarter's deadline belongs to that quarter."""
# Not in core.settings (another engineer's file). A unit's mail is a form and a scan or two;
# 40 MB leaves room for photographed scans while a mail is never read into memory beyond it
# (parsing costs ~13 times the mail's size).
MAX_MAIL_BYTES = 40 * 1024 * 1024
# Files kept per quarter from one sender the office's server does not vouch for as a unit.
MAX_FILES_PER_UNKNOWN_SENDER = 20


# --- which quarter --------------------------------------------------------
def programme_deadline(quarter: Quarter, load: Callable[[int], Programme] = programme_for_year) -> dt.date:
    """The quarter's deadline from its programme file; the quarter's last day without one."""
    try:
        return load(quarter.year).deadline(quarter.number)
    except (ProgrammeError, FileNotFoundError, KeyError):
        return quarter.end


def submission_quarter(day: dt.date, deadline_of: Callable[[Quarter], dt.date] = programme_deadline) -> Quarter:
    """The quarter whose submission window holds ``day``.

    The window of a quarter ends ``LATE_GRACE_DAYS`` after its deadline: a report mailed in
    the first two weeks after the deadline (often the first weeks of the next quarter) is a
    late report for that quarter, not an early one for the next.
    """
    here = Quarter.containing(day)
    previous = here.previous()
    if day <= deadline_of(previous) + dt.timedelta(days=LATE_GRACE_DAYS):
        return previous
    return here


def first_search_day(today: dt.date, quarter: Quarter | None = None) -> dt.date:
    """How far back a first run (or a run after UIDVALIDITY changed) looks: the start of the
    quarter before the one mailed for, so late reports of the previous quarter are included."""
    current = quarter or submission_quarter(today)
    return current.previous().start


# --- ledgers --------------------------------------------------------------
def provenance_path(paths: QuarterPaths) -> Path:
    return paths.output / "mailbox" / "ledger.json"


def _empty_provenance() -> dict:
    return {"version": LEDGER_VERSION, "files": {}}


def remember_uid(output_root: Path, folder_id: str, uidvalidity: int, last_uid: int) -> None:
    """Record that every mail up to ``last_uid`` of this UIDVALIDITY is taken in."""
    with locked_ledger(output_root) as ledger:
        entry = ledger["folders"].get(folder_id) or {}
        if entry.get("uidvalidity") != uidvalidity:
            entry = {"uidvalidity": uidvalidity, "last_uid": 0}
        entry["last_uid"] = max(int(entry.get("last_uid", 0)), last_uid)
        ledger["folders"][folder_id] = entry


def pending_replies(output_root: Path) -> list[dict]:
    """Mails saved but neither answered nor exempt from an answer, oldest first."""
    messages = read_ledger(output_root)["messages"]
    pending = [dict(m, key=k) for k, m in messages.items()
               if m.get("saved_at") and not m.get("replied_at") and not m.get("no_reply")]
    return sorted(pending, key=lambda m: m["saved_at"])


def record_reply(output_root: Path, key: str, *, reply_message_id: str | None = None,
                 no_reply: str | None = None) -> None:
    """Record that the mail was answered (or why it is never answered)."""
    with locked_ledger(output_root) as ledger:
        entry = ledger["messages"][key]
        if no_reply:
            entry["no_reply"] = no_reply
        else:
            entry["replied_at"] = _now_iso()
            entry["reply_message_id"] = reply_message_id
        keep_entry(output_root, key, entry)


def pending_notices(output_root: Path) -> list[dict]:
    """Saved mails naming a unit by an address nobody vouched for, whose unit is not yet told."""
    messages = read_ledger(output_root)["messages"]
    return [dict(m, key=k) for k, m in messages.items()
            if m.get("saved_at") and m.get("claimed_unit") and not m.get("notice")]


def record_notice(output_root: Path, key: str, outcome: dict) -> None:
    """Record that the claimed unit was told (``{"sent_at", "message_id", "to"}``) or why not."""
    with locked_ledger(output_root) as ledger:
        ledger["messages"][key]["notice"] = {**outcome, "at": _now_iso()}
        keep_entry(output_root, key, ledger["messages"][key])


def provenance_by_path(paths: QuarterPaths, rels: Iterable[str] | None = None) -> dict[str, dict]:
    """Where each inbox file of the quarter came from, by inbox-relative path.

    Only files that arrived by mail are listed: ``{path: {"sender", "sender_unit",
    "subject", "date", "message_id", "attachment", "container", "forwarded_from",
    "sha256", "saved_at", "eml"}}``. With ``rels``, only those paths.
    """
    files = read_json(provenance_path(paths), _empty_provenance).get("files", {})
    if rels is None:
        return dict(files)
    return {rel: files[rel] for rel in rels if rel in files}


# --- keeping one mail ----------------------------------------------------
@dataclass
class TakeIn:
    """What one run needs to keep mails: folders, limits, and how to pick the quarter."""

    inbox_root: Path
    output_root: Path
    limits: Limits
    quarter: Quarter | None = None                  # forced (DAG param), else by date
    authserv_id: str | None = None                  # our server's name in Authentication-Results
    own_addresses: frozenset[str] = frozenset()     # the organiser's addresses (may forward unit mail)
    load_programme: Callable[[int], Programme] = programme_for_year
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(TZ)


class MailboxChannel:
    """The organiser's mailbox as an intake channel (``wcreport.intake.channels``): a mail's
    report files go into its quarter's inbox folder, each with the mail it came in."""

    name = "mailbox"

    def __init__(self, ctx: TakeIn):
        self.ctx = ctx

    def deliver(self, item: bytes, /, *, uid: int | None = None, uidvalidity: int | None = None
                ) -> list[Delivered]:
        """``take_in`` of the mail's exact bytes, as the files it saved."""
        entry = take_in(item, self.ctx, uid=uid, uidvalidity=uidvalidity)
        paths = quarter_paths(Quarter.parse(entry["quarter"]), self.ctx.inbox_root, self.ctx.output_root)
        rels = [saved["path"] for saved in entry["files"]]
        found = provenance_by_path(paths, rels)
        return [Delivered(entry["quarter"], rel, found.get(rel, {})) for rel in rels]

    def provenance(self, paths: QuarterPaths, rels: Iterable[str] | None = None) -> dict[str, dict]:
        return provenance_by_path(paths, rels)


def archive_eml(output_root: Path, raw: bytes) -> str:
    """Keep the mail's exact bytes, content-addressed; the path relative to the output root."""
    target = mailbox_dir(output_root) / "eml" / f"{hashlib.sha256(raw).hexdigest()}.eml"
    write_atomic(target, raw, skip_if_same=True)
    return target.relative_to(output_root).as_posix()


def claimed_unit(programme: Programme, mail: Mail, attachment: Attachment | None = None) -> Unit | None:
    """The unit the mail's addresses name (From; for a forwarded file, the forwarded mail's
    From when the forwarder is no unit), whether or not anyone vouched for them."""
    unit = programme.unit_by_address(mail.sender)
    if unit is None and attachment is not None and attachment.forwarded is not None:
        unit = programme.unit_by_address(attachment.forwarded.sender)
    return unit


def sender_unit(programme: Programme, mail: Mail, attachment: Attachment | None = None,
                own_addresses: frozenset[str] = frozenset()) -> Unit | None:
    """The unit the mail is evidence of: its From address's unit when our server authenticated
    that address; for a forwarded file, the forwarded mail's sender's unit only when the
    (authenticated) forwarder is the organiser's own address. Else None."""
    if not mail.sender_authenticated:
        return None
    unit = programme.unit_by_address(mail.sender)
    if (unit is None and attachment is not None and attachment.forwarded is not None
            and mail.sender in own_addresses):
        unit = programme.unit_by_address(attachment.forwarded.sender)
    return unit


def take_in_too_large(header: bytes, size: int, ctx: TakeIn, *, uid: int | None = None,
                      uidvalidity: int | None = None) -> dict:
    """Record a mail over ``MAX_MAIL_BYTES`` from its header alone (its body is never fetched):
    nothing is saved, and its receipt tells the sender why."""
    return take_in(header.rstrip(b"\r\n") + b"\r\n\r\n", ctx, uid=uid, uidvalidity=uidvalidity, too_large=size)


def _too_large_reason(size: int) -> str:
    limit = MAX_MAIL_BYTES / 1024 / 1024
    return (f"整封邮件约 {size / 1024 / 1024:.1f} MB，超过 {limit:.0f} MB 的上限，未接收其中任何附件。"
            f"请压缩扫描件（或降低扫描分辨率）后分多封发送，每封不超过 {limit:.0f} MB。")


def take_in(raw: bytes, ctx: TakeIn, *, uid: int | None = None, uidvalidity: int | None = None,
            too_large: int | None = None) -> dict:
    """Keep one mail (see the module docstring); return its ledger entry. Idempotent.
    Never raises for the mail's content: a mail that cannot be kept is quarantined.
    ``too_large``: ``raw`` is only the header of a mail of that size (``take_in_too_large``)."""
    try:
        mail = parse_mail(raw, ctx.limits, ctx.authserv_id)
    except MailUnreadable as exc:
        return quarantine(ctx.output_root, f"sha256:{content_hash(raw)}", str(exc), raw=raw,
                          uid=uid, uidvalidity=uidvalidity)
    if too_large is not None:
        mail.attachments, mail.skipped = [], [Skipped("整封邮件", _too_large_reason(too_large))]
    existing = read_ledger(ctx.output_root)["messages"].get(mail.key)
    if existing and (existing.get("saved_at") or existing.get("quarantined_at")):
        return existing
    eml = archive_eml(ctx.output_root, raw)
    received = mail.date or ctx.now()
    try:
        quarter = ctx.quarter or submission_quarter(
            received.astimezone(TZ).date(), lambda q: programme_deadline(q, ctx.load_programme))
        programme = ctx.load_programme(quarter.year)
    except (ProgrammeError, OSError, ValueError, KeyError) as exc:
        return quarantine(ctx.output_root, mail.key, f"no programme for the mail's year ({received:%Y}): {exc}",
                          raw=raw, uid=uid, uidvalidity=uidvalidity)
    paths = quarter_paths(quarter, ctx.inbox_root, ctx.output_root)
    saved = _save_all(paths, programme, mail, received, eml, ctx.own_addresses)
    unit = sender_unit(programme, mail, own_addresses=ctx.own_addresses)
    claimed = claimed_unit(programme, mail)
    claimed_key = (claimed.key if claimed and claimed is not unit
                   else next((f["claimed_unit"] for f in saved if f.get("claimed_unit")), None))
    entry = {
        "message_id": mail.message_id, "sender": mail.sender, "sender_name": mail.sender_name,
        "subject": mail.subject, "date": received.isoformat(timespec="seconds"),
        "references": mail.references, "quarter": str(quarter),
        "unit": unit.key if unit else None, "unit_name": unit.name if unit else None,
        "sender_authenticated": mail.sender_authenticated,
        "claimed_unit": claimed_key,
        "eml": eml, "uid": uid, "uidvalidity": uidvalidity, "files": saved,
        "skipped": [{"name": s.name, "reason": s.reason, "container": s.container} for s in mail.skipped],
        "automatic": mail.automatic, "saved_at": _now_iso(),
    }
    if too_large is not None:
        entry["too_large"] = too_large         # its eml is the header only
    if mail.automatic:
        entry["no_reply"] = mail.automatic
    with locked_ledger(ctx.output_root) as ledger:
        ledger["messages"][mail.key] = entry
        keep_entry(ctx.output_root, mail.key, entry)
    log.info("Mail %s from %s (%s): %d file(s) kept, %d not kept, quarter %s", mail.key, mail.sender,
             entry["unit"] or "unknown sender", len(saved), len(mail.skipped), quarter)
    return entry


def _unknown_sender_room(paths: QuarterPaths, mail: Mail) -> int:
    """How many more files this quarter takes from a sender that is no authenticated unit."""
    files = read_json(provenance_path(paths), _empty_provenance).get("files", {})
    taken = sum(1 for f in files.values() if f.get("sender") == mail.sender and not f.get("sender_unit"))
    return max(MAX_FILES_PER_UNKNOWN_SENDER - taken, 0)


def _save_all(paths: QuarterPaths, programme: Programme, mail: Mail, received: dt.datetime,
              eml: str, own_addresses: frozenset[str] = frozenset()) -> list[dict]:
    saved: list[dict] = []
    records: dict[str, dict] = {}
    room = None if sender_unit(programme, mail) else _unknown_sender_room(paths, mail)
    for attachment in mail.attachments:
        unit = sender_unit(programme, mail, attachment, own_addresses)
        if unit is None and room is not None:
            if room <= 0:
                mail.skipped.append(Skipped(attachment.name, (
                    f"本季度已收到该发件地址的 {MAX_FILES_PER_UNKNOWN_SENDER} 个文件，达到未登记地址的上限，"
                    f"「{attachment.name}」未保存。请用本单位登记的邮箱发送，或联系工作人员。"),
                    attachment.container))
                continue
            room -= 1
        folder = paths.inbox / unit.name if unit else paths.inbox
        target = save_file(folder, attachment.name, attachment.data, received)
        rel = target.relative_to(paths.inbox).as_posix()
        claimed = claimed_unit(programme, mail, attachment)
        claimed_key = claimed.key if claimed and claimed is not unit else None
        saved.append({"name": attachment.name, "path": rel, "kind": attachment.kind,
                      "sha256": attachment.sha256, "size": len(attachment.data),
                      "container": attachment.container, "note": attachment.note,
                      "unit": unit.key if unit else None, "claimed_unit": claimed_key,
                      "forwarded_from": attachment.forwarded.sender if attachment.forwarded else None})
        records[rel] = _provenance(mail, attachment, unit, received, eml, claimed_key)
    if records:
        with locked_json(provenance_path(paths), _empty_provenance) as ledger:
            for rel, record in records.items():
                ledger["files"].setdefault(rel, record)
    return saved


def _provenance(mail: Mail, attachment: Attachment, unit: Unit | None, received: dt.datetime,
                eml: str, claimed_key: str | None = None) -> dict:
    origin: Origin | None = attachment.forwarded
    return {"sender": mail.sender, "sender_name": mail.sender_name, "sender_unit": unit.key if unit else None,
            "sender_authenticated": mail.sender_authenticated,
            "claimed_unit": claimed_key,
            "subject": mail.subject, "date": received.isoformat(timespec="seconds"),
            "message_id": mail.message_id, "message_key": mail.key, "attachment": attachment.name,
            "container": attachment.container,
            "forwarded_from": None if origin is None else {
                "sender": origin.sender, "subject": origin.subject, "date": origin.date,
                "message_id": origin.message_id},
            "sha256": attachment.sha256, "saved_at": _now_iso(), "eml": eml}


def quarantine(output_root: Path, key: str, reason: str, *, raw: bytes | None = None,
               uid: int | None = None, uidvalidity: int | None = None, size: int | None = None) -> dict:
    """Set a mail aside that cannot be kept: ledger state ``quarantined`` with ``reason``,
    its .eml kept when we have its bytes. Never answered; ``retake`` tries it again."""
    entry = {"state": "quarantined", "reason": reason, "uid": uid, "uidvalidity": uidvalidity,
             "size": size if size is not None else (len(raw) if raw is not None else None),
             "eml": archive_eml(output_root, raw) if raw is not None else None, "quarantined_at": _now_iso()}
    with locked_ledger(output_root) as ledger:
        entry = ledger["messages"].setdefault(key, entry)
        keep_entry(output_root, key, entry)
    log.error("QUARANTINED mail %s (UID %s): %s; eml %s. See the runbook, 'Quarantined mails'.",
              key, uid, reason, entry.get("eml") or "not fetched")
    return entry


def quarantined(output_root: Path) -> dict[str, dict]:
    """The mails set aside, by ledger key."""
    return {k: m for k, m in read_ledger(output_root)["messages"].items() if m.get("state") == "quarantined"}


def retake(key: str, ctx: TakeIn, raw: bytes | None = None) -> dict:
    """Take a quarantined mail in again from its kept .eml, or from ``raw`` (a mail too large to
    fetch, saved from a mail client), after the cause was fixed (e.g. the year's programme file
    added); it is quarantined again, with the new reason, if it still fails."""
    entry = quarantined(ctx.output_root)[key]
    if raw is None and not entry.get("eml"):
        raise ValueError(f"{key} was never fetched (too large): save it from a mail client and pass its bytes")
    data = raw if raw is not None else (ctx.output_root / entry["eml"]).read_bytes()
    with locked_ledger(ctx.output_root) as ledger:
        ledger["messages"].pop(key, None)
        if entry.get("eml"):             # taken in anew below, its kept entry with it
            kept_entry_path(ctx.output_root, entry["eml"]).unlink(missing_ok=True)
    return take_in(data, ctx, uid=entry.get("uid"), uidvalidity=entry.get("uidvalidity"))


def save_file(folder: Path, name: str, data: bytes, received: dt.datetime | None = None) -> Path:
    """Write ``data`` under a safe form of ``name`` in ``folder``; never overwrite other bytes.

    The same bytes already there under that name (or a numbered variant) are reused, so
    a rerun writes nothing; another file of that name gets `` (2)``, `` (3)`` … The file's
    modification time is the mail's receipt time (never in the future): the inbox takes a
    unit's newest file by it.
    """
    safe = safe_filename(name)
    stem, suffix = PurePosixPath(safe).stem, PurePosixPath(safe).suffix
    for n in range(1, 1000):
        target = folder / (safe if n == 1 else f"{stem} ({n}){suffix}")
        if target.is_symlink():
            continue
        if target.exists():
            if target.is_file() and _same_bytes(target, data):
                return target
            continue
        write_atomic(target, data)
        _set_mtime(target, received)
        return target
    raise RuntimeError(f"too many files named {safe!r} in {folder}")


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _set_mtime(path: Path, received: dt.datetime | None) -> None:
    if received is None:
        return
    stamp = min(received.timestamp(), dt.datetime.now(dt.UTC).timestamp())
    os.utime(path, (stamp, stamp))


def _now_iso() -> str:
    return dt.datetime.now(TZ).isoformat(timespec="seconds")
