"""Feedback to a unit by e-mail as soon as its file is checked, once per file version.

After a unit's ingest, each version of its file that was rejected, and the accepted one
when it carries warnings, is mailed to the unit's addresses (``deliver.address_book``: the programme file, or the
Variable ``report_unit_emails``): the
findings in Chinese (``templates/unit_feedback.html.j2`` autoescaped, ``.txt.j2``) with the
feedback page attached. The leaders never get these mails.

Exactly once per version: the ledger ``<output root>/unit_feedback_ledger.json`` keys each
mail on quarter + unit + the file's SHA-256 and records it only after the SMTP server
accepted it, under an exclusive lock held across the send (``core.io.locked_json``). An
outage raises ``MailError`` and records nothing, so the next run sends it; a crash between
sending and recording resends with the same Message-ID. A version that came through the
mailbox got its findings in the receipt (``deliver.receipts``) and gets no mail here.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from wcreport.core.io import locked_json, read_json
from wcreport.core.labels import STAMPED_ZH, stamped_state
from wcreport.core.model import FileRecord, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import TZ
from wcreport.core.settings import QuarterPaths
from wcreport.core.templating import render
from wcreport.deliver.address_book import WHERE_TO_SET_AN_ADDRESS, AddressBook, address_book
from wcreport.deliver.smtp import SmtpSettings, send_message

log = logging.getLogger(__name__)

LEDGER_NAME = "unit_feedback_ledger.json"
LEDGER_VERSION = 1


def ledger_path(output_root: Path) -> Path:
    return Path(output_root) / LEDGER_NAME


def ledger_key(quarter: str, unit_key: str, sha256: str) -> str:
    return f"{quarter}|{unit_key}|{sha256}"


def _empty_ledger() -> dict:
    return {"version": LEDGER_VERSION, "sent": {}}


def sent_keys(output_root: Path) -> set[str]:
    return set(read_json(ledger_path(output_root), _empty_ledger).get("sent", {}))


# --- what is due ------------------------------------------------------------------------
def versions_to_report(result: UnitResult) -> list[FileRecord]:
    """The unit's file versions it should hear about: each rejected one, and the accepted
    one when it has warnings. One record per content (byte-identical copies are one)."""
    due: dict[str, FileRecord] = {}
    for record in sorted(result.files, key=lambda r: (-r.mtime, r.path)):
        if not record.sha256 or record.sha256 in due:
            continue
        warned = any(f.severity == "warning" for f in record.findings)
        if record.status == "rejected" or (record.status == "accepted" and warned
                                           and record.sha256 == result.accepted_sha256):
            due[record.sha256] = record
    return list(due.values())


def mailed_versions(paths: QuarterPaths) -> set[str]:
    """SHA-256 of the quarter's files that came by mail (their receipt listed the findings)."""
    from wcreport.intake.mailbox import provenance_by_path

    return {entry["sha256"] for entry in provenance_by_path(paths).values() if entry.get("sha256")}


# --- the mail ---------------------------------------------------------------------------
@dataclass
class FeedbackMail:
    key: str
    to: list[str]
    subject: str
    html: str
    text: str
    page_name: str                  # the attached feedback page's file name
    page_html: str
    headers: dict[str, str] = field(default_factory=dict)


def compose(paths: QuarterPaths, programme: Programme, result: UnitResult, record: FileRecord,
            today: dt.date | None = None, book: AddressBook | None = None) -> FeedbackMail:
    """The mail about one file version: subject, HTML and text bodies, the feedback page."""
    from wcreport.validate.feedback import problems_of, render_html, safe_name

    unit = programme.units_by_key[result.unit]
    quarter = paths.quarter
    rejected = record.status == "rejected"
    problems = problems_of(record)
    deadline = programme.deadline(quarter.number)
    today = today or dt.datetime.now(TZ).date()
    name = PurePath(record.path).name
    context = {
        "unit_name": unit.name, "file_name": name, "received": _received_zh(record.mtime),
        "rejected": rejected, "quarter_label": quarter.label_zh,
        "errors": [f.as_text() for f in problems if f.severity == "error"],
        "warnings": [f.as_text() for f in problems if f.severity == "warning"],
        "accepted_name": PurePath(result.accepted_path).name if rejected and result.accepted_path else None,
        "deadline": deadline, "overdue": today > deadline, "report": programme.report,
        "page_name": f"反馈意见_{safe_name(PurePath(name).stem)}.html",
        "stamped_owed": _stamped_owed(result),
    }
    state = "已退回，请修改后重新报送" if rejected else f"已接收（有{len(context['warnings'])}条提醒）"
    key = ledger_key(str(quarter), unit.key, record.sha256 or "")
    return FeedbackMail(
        key=key, to=(book or address_book(programme)).of(unit.key),
        subject=f"{quarter.label_zh}实事进展情况报表{state}：{name}",
        html=render(__package__, "unit_feedback.html.j2", **context),
        text=render(__package__, "unit_feedback.txt.j2", **context),
        page_name=context["page_name"],
        page_html=render_html(record.path, unit.name, record, programme.report.title, programme.report.organiser),
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All",
                 "X-Wcreport-Unit": unit.key, "X-Wcreport-Quarter": str(quarter),
                 "X-Wcreport-Feedback": hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]})


def _stamped_owed(result: UnitResult) -> str | None:
    """How the unit's stamped copy falls short (未收到, 未见公章, 无法读取), or None when it does not."""
    if result.status != "submitted":
        return None  # the rejection itself asks for the form and the stamped scan together
    state = stamped_state(result.stamped_copy, 0.0)
    return STAMPED_ZH[state] if state in ("missing", "no_seal", "unreadable") else None


def _received_zh(mtime: float) -> str:
    moment = dt.datetime.fromtimestamp(mtime, TZ)
    return f"{moment.month}月{moment.day}日{moment:%H:%M}"


def feedback_message_id(key: str, sender: str) -> str:
    """The same Message-ID for the same version: a resend after a crash is recognisably one mail."""
    domain = sender.rsplit("@", 1)[-1].strip(">") if "@" in sender else "wcreport.invalid"
    return f"<feedback.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


# --- sending ----------------------------------------------------------------------------
@dataclass
class FeedbackOutcome:
    sent: list[str] = field(default_factory=list)              # inbox paths mailed now
    already_sent: list[str] = field(default_factory=list)
    by_receipt: list[str] = field(default_factory=list)        # came by mail: the receipt told them
    no_address: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


def send_unit_feedback(paths: QuarterPaths, programme: Programme, result: UnitResult,
                       smtp: Callable[[], SmtpSettings], *, send: Callable[..., None] = send_message,
                       today: dt.date | None = None, book: AddressBook | None = None) -> FeedbackOutcome:
    """Mail the unit about each due version not mailed before (see the module docstring), to its
    addresses in ``book`` (default: the programme file's only).

    ``smtp`` is called only when a mail is due. Raises ``MailError`` when the server does
    not accept a mail; versions mailed before the failure stay recorded.
    """
    outcome = FeedbackOutcome()
    due = versions_to_report(result)
    if not due:
        return outcome
    unit = programme.units_by_key[result.unit]
    book = book or address_book(programme)
    if not book.of(unit.key):
        log.warning("No e-mail address for unit %s (%s): %s", unit.key, unit.name, WHERE_TO_SET_AN_ADDRESS)
        outcome.no_address = [r.path for r in due]
        return outcome
    by_mail = mailed_versions(paths)
    done = sent_keys(paths.output_root)
    settings: SmtpSettings | None = None
    for record in due:
        key = ledger_key(str(paths.quarter), unit.key, record.sha256 or "")
        if record.sha256 in by_mail:
            outcome.by_receipt.append(record.path)
            continue
        if key in done:
            outcome.already_sent.append(record.path)
            continue
        settings = settings or smtp()
        if _send_once(paths, compose(paths, programme, result, record, today, book), record, settings, send):
            outcome.sent.append(record.path)
            log.info("Feedback on %s mailed to %s (%s)", record.path, unit.name, ", ".join(book.of(unit.key)))
        else:
            outcome.already_sent.append(record.path)
    return outcome


def _send_once(paths: QuarterPaths, mail: FeedbackMail, record: FileRecord, smtp: SmtpSettings,
               send: Callable[..., None]) -> bool:
    """Send under the ledger's lock unless another process recorded it first; record on success."""
    with locked_json(ledger_path(paths.output_root), _empty_ledger) as ledger:
        sent = ledger.setdefault("sent", {})
        if mail.key in sent:
            return False
        message_id = feedback_message_id(mail.key, smtp.sender)
        with tempfile.TemporaryDirectory(prefix="wcreport-feedback-") as folder:
            page = Path(folder) / mail.page_name
            page.write_text(mail.page_html, encoding="utf-8")
            send(smtp, mail.to, mail.subject, mail.html, text_body=mail.text, attachments=[page],
                 headers=mail.headers, message_id=message_id)
        sent[mail.key] = {"quarter": str(paths.quarter), "unit": record.unit, "file": record.path,
                          "sha256": record.sha256, "status": record.status, "to": mail.to,
                          "message_id": message_id,
                          "sent_at": dt.datetime.now(TZ).isoformat(timespec="seconds")}
    return True
