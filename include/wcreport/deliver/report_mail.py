"""The quarter-end report mail: planned, then sent exactly once.

Exactly once, concretely:

* The mail ledger (``deliver.mail_ledger``) records every mail the SMTP server accepted,
  keyed by ``(quarter, content_hash)``.
* The current content hash is compared with the *last* mail sent for the quarter:
  equal -> nothing is sent (a retry or a rerun over an unchanged inbox); no earlier
  mail -> the original, sent unattended; different -> a correction (更正版N), which is
  sent only once the clerk approved exactly this content (``deliver.review``).
* The ledger entry is written only after the server accepted the message. If the
  server is down the send raises, nothing is recorded, and the Airflow task retries
  with backoff; the first retry that gets through sends the one mail.
* An exclusive lock around every check-send-record keeps concurrent runs (a manual
  trigger next to a scheduled one) from both sending.
* The Message-ID is derived from (quarter, content hash), so in the one window we
  cannot close (server accepted, process killed before the ledger write) a resent copy
  carries the same Message-ID and mail clients collapse it.
* Every workbook that was sent is kept under ``<quarter>/sent/``, with the message
  itself (``deliver.sent_copies``).

Connection details arrive as ``SmtpSettings`` (``wcreport.deliver.smtp``) from the
caller, which reads them from its Airflow connection; nothing secret is in code or in
the repo.
"""
from __future__ import annotations

import logging
import shutil
import smtplib
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from wcreport.core.faults import output_unwritable
from wcreport.core.programme import Programme
from wcreport.deliver.changes import describe_changes
from wcreport.deliver.compose import (
    addresses,
    attachment_name_for,
    compose_html,
    compose_text,
    message_id_for,
    subject_for,
)
from wcreport.deliver.leaders_view import reads_the_same
from wcreport.deliver.mail_ledger import (
    MailLedger,
    SentMail,
    load_ledger,
    locked_ledger,
    now,
    rejection,
    sent_corrections,
    sent_for_quarter,
)
from wcreport.deliver.sent_copies import HASH_HEADER, QUARTER_HEADER, SEQUENCE_HEADER, prepare_copy
from wcreport.deliver.smtp import MailError, SmtpSettings, compose_message, send_composed
from wcreport.report.consolidate import Consolidated

log = logging.getLogger(__name__)

OUTGOING_FOLDER = ".outgoing"   # beside the ledger: a correction's workbook under the name the leaders see


class MailPlan(TypedDict):
    """What the mail step should do with the quarter's current content (``plan_mail``)."""

    quarter: str
    content_hash: str
    sequence: int               # the number the next mail gets (``none``: the last one sent)
    action: Literal["send", "review", "none"]
    kind: Literal["original", "correction", "none"]
    reason: NotRequired[Literal["unchanged", "rejected"]]     # ``none`` only
    subject: NotRequired[str | None]          # unchanged: the last mail's
    sent_at: NotRequired[str | None]
    review_id: NotRequired[str]               # rejected: the review that rejected this content
    decided_at: NotRequired[str | None]
    decided_by: NotRequired[str | None]


def plan(ledger: MailLedger, consolidated: Consolidated) -> MailPlan:
    """The plan for ``consolidated`` against ``ledger`` (see ``plan_mail``).

    A change the leaders would not see (``deliver.leaders_view``) counts as unchanged, and a
    correction is numbered after the corrections actually sent (``next_correction_number``).
    """
    quarter, content_hash, snapshot = consolidated.quarter, consolidated.content_hash(), consolidated.snapshot()
    previous = sent_for_quarter(ledger, quarter)
    last = previous[-1] if previous else None
    base = {"quarter": quarter, "content_hash": content_hash, "sequence": len(previous) + 1}
    if last is None:
        return {**base, "action": "send", "kind": "original"}
    if last["content_hash"] == content_hash or reads_the_same(last.get("snapshot"), snapshot):
        return {**base, "action": "none", "kind": "none", "reason": "unchanged",
                "sequence": len(previous), "subject": last.get("subject"), "sent_at": last.get("sent_at")}
    rejected = rejection(ledger, quarter, content_hash, len(previous), snapshot)
    if rejected is not None:
        return {**base, "action": "none", "kind": "none", "reason": "rejected",
                "review_id": rejected["id"], "decided_at": rejected.get("decided_at"),
                "decided_by": rejected.get("decided_by")}
    return {**base, "action": "review", "kind": "correction",
            "sequence": next_correction_number(ledger, quarter) + 1}


def next_correction_number(ledger: MailLedger, quarter: str) -> int:
    """The N of the quarter's next 更正版N: one after the corrections the SMTP server accepted."""
    return sent_corrections(ledger, quarter) + 1


def plan_mail(consolidated: Consolidated, ledger_path: Path) -> MailPlan:
    """What the mail step should do with this content, without changing anything.

    ``action``: ``send`` (no mail yet for the quarter: the original goes out unattended),
    ``review`` (a correction: needs the clerk's approval) or ``none`` (``reason``:
    ``unchanged``, or ``rejected`` when the clerk already rejected this content).
    """
    return plan(load_ledger(Path(ledger_path)), consolidated)


def send_report_once(consolidated: Consolidated, workbook: Path, programme: Programme,
                     ledger_path: Path, smtp: SmtpSettings, *, approved_hash: str | None = None,
                     keep_dir: Path | None = None) -> dict[str, Any]:
    """Send the report mail unless this content was already the last one sent.

    The quarter's first mail (the original) goes out unattended. A correction goes out
    only when ``approved_hash`` is this content's hash (the clerk approved it); otherwise
    nothing is sent and the result is ``kind: "held"`` (``deliver.review.open_review`` asks).

    Returns ``{"sent": bool, "kind": "original"|"correction"|"none"|"held", ...}``. Raises
    if the SMTP server does not accept the message (the ledger is then unchanged).
    """
    workbook = Path(workbook)
    ledger_path = Path(ledger_path)
    if not workbook.is_file():
        raise FileNotFoundError(f"report workbook not found: {workbook}")
    with locked_ledger(ledger_path) as ledger:
        planned = plan(ledger, consolidated)
        base = {"quarter": planned["quarter"], "content_hash": planned["content_hash"]}
        if planned["action"] == "none":
            return {**base, "sent": False, "kind": "none", "reason": planned["reason"],
                    "subject": planned.get("subject"), "sent_at": planned.get("sent_at"),
                    "sequence": planned["sequence"]}
        if planned["action"] == "review" and approved_hash != planned["content_hash"]:
            log.warning("report for %s changed since the last mail: a correction waits for approval",
                        planned["quarter"])
            return {**base, "sent": False, "kind": "held", "sequence": planned["sequence"]}
        attachment = workbook
        if planned["kind"] == "correction":
            attachment = named_copy(workbook, attachment_name_for(workbook.name, "correction", planned["sequence"]),
                                    ledger_path.parent / OUTGOING_FOLDER / planned["content_hash"][:16])
        return send_and_record(ledger, consolidated, attachment, programme, smtp, keep_dir)


def send_and_record(ledger: MailLedger, consolidated: Consolidated, attachment: Path, programme: Programme,
                    smtp: SmtpSettings, keep_dir: Path | None, **extra: Any) -> dict[str, Any]:
    """Send the report for ``consolidated`` as the quarter's next mail and record it (lock held).

    ``extra`` goes into the ledger entry (an approved correction: who approved it).
    """
    quarter, content_hash = consolidated.quarter, consolidated.content_hash()
    previous = sent_for_quarter(ledger, quarter)
    last = previous[-1] if previous else None
    kind = "original" if last is None else "correction"
    sequence = len(previous) + 1
    snapshot = consolidated.snapshot()
    changes = describe_changes(last.get("snapshot", {}), snapshot) if last else []
    subject = subject_for(consolidated, kind, sequence)
    body = compose_html(consolidated, programme, kind, changes, attachment.name, sequence)
    text = compose_text(consolidated, programme, kind, changes, attachment.name, sequence)
    message_id = message_id_for(quarter, content_hash, smtp.sender)
    headers = {QUARTER_HEADER: quarter, HASH_HEADER: content_hash, SEQUENCE_HEADER: str(sequence)}
    if last is not None and last.get("message_id"):
        headers["In-Reply-To"] = last["message_id"]
        headers["References"] = last["message_id"]
    to, cc = addresses(programme.recipients.to), addresses(programme.recipients.cc)
    message = compose_message(smtp.sender, to, subject, body, text_body=text, cc=cc, attachments=[attachment],
                              message_id=message_id, headers=headers)
    entry: SentMail = {
        "quarter": quarter, "content_hash": content_hash, "kind": kind, "sequence": sequence,
        "subject": subject, "sent_at": now(), "message_id": message_id,
        "to": [r.email for r in programme.recipients.to], "cc": [r.email for r in programme.recipients.cc],
        "attachment": attachment.name, "kept_as": _keep_copy(attachment, keep_dir), "changes": changes,
        "snapshot": snapshot, **extra,
    }
    # the copy is written before sending: a disk that cannot keep it stops the mail
    pending = prepare_copy(keep_dir, message, entry) if keep_dir is not None else None
    try:
        send_composed(smtp, message, to + cc)
    except BaseException as exc:
        if pending is not None:
            pending.discard()
        if isinstance(exc, (smtplib.SMTPException, OSError)):
            raise MailError(f"sending the {quarter} report to {smtp.host}:{smtp.port} failed: "
                            f"{exc.__class__.__name__}: {exc}") from exc
        raise
    entry["kept_message"] = str(pending.commit()) if pending is not None else None
    ledger["sent"].append(entry)
    log.info("report mail for %s sent (%s, #%d)", quarter, kind, sequence)
    return {"quarter": quarter, "content_hash": content_hash, "sent": True, "kind": kind,
            "subject": subject, "sequence": sequence, "message_id": message_id, "changes": changes,
            "to": entry["to"], "cc": entry["cc"], "attachment": attachment.name}


def _keep_copy(attachment: Path, keep_dir: Path | None) -> str | None:
    if keep_dir is None:
        return None
    target = keep_dir / attachment.name
    try:
        keep_dir.mkdir(parents=True, exist_ok=True)
        if target.resolve() != attachment.resolve():
            shutil.copyfile(attachment, target)
    except OSError as exc:
        raise output_unwritable(target, exc) from exc
    return str(target)


def named_copy(source: Path, name: str, folder: Path) -> Path:
    """``source`` under the name the recipients will see (the attachment's file name)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    return target
