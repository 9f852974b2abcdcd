"""The clerk's review of a correction (更正版N): the states a review goes through.

A changed report is not sent unattended: the clerk approves exactly the content that
goes out. One *pending* review per quarter, kept in the mail ledger (``ledger["reviews"]``,
``deliver.mail_ledger.Review``); the pipeline asks through Airflow's human-in-the-loop
operator, with the request from ``review_request``.

* ``open_review`` registers the correction for the current content and freezes what
  would be sent (workbook named ``…（更正版N）.xlsx`` and the consolidated model) under
  ``<quarter>/review/<hash prefix>/``. Newer content while a review is pending replaces
  it: the older review becomes ``superseded`` and answering it sends nothing.
* ``answer_review`` acts on the clerk's answer: approve -> send the frozen copy, but
  only if it is still the quarter's current content (else nothing is sent and the
  caller is told the content moved on); reject -> recorded, the last mail stays the
  valid version and the same content is not asked again (newer content is); no answer
  before the timeout -> ``expired``, nothing sent, a later run asks again.

Opening and answering run under the ledger's lock, so concurrent runs neither both ask
nor both send.
"""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import openpyxl

from wcreport.core.io import DamagedStateError, write_text_atomic
from wcreport.core.programme import Programme
from wcreport.core.quarter import TZ
from wcreport.core.templating import render
from wcreport.deliver.changes import describe_changes
from wcreport.deliver.compose import attachment_name_for, correction_number, mail_text, subject_for
from wcreport.deliver.leaders_view import reads_the_same
from wcreport.deliver.mail_ledger import (
    MailLedger,
    Review,
    ReviewState,
    load_ledger,
    locked_ledger,
    now,
    pending_review,
    reviews_for_quarter,
    sent_for_quarter,
)
from wcreport.deliver.report_mail import MailPlan, named_copy, plan, send_and_record
from wcreport.deliver.smtp import MailError, SmtpSettings
from wcreport.report.consolidate import Consolidated
from wcreport.report.sheets.common import correction_mark, mark_title

log = logging.getLogger(__name__)

REVIEW_FOLDER = "review"        # <quarter>/review/<hash prefix>/: what a pending correction would send
NO_ANSWER = "（超时未答复）"     # decided_by when the timeout answered

# Why a review ended as it did (``Review.note``, shown to the clerk).
NOTE_UNCHANGED = "内容已与上次发送的版本一致"
NOTE_REJECTED_BEFORE = "该内容此前已被退回"
NOTE_REPLACED = "等待审核期间内容又有变化，已并入新的更正版"
NOTE_ALREADY_SENT = "该内容已发送过"
NOTE_OTHER_SENT = "审核期间已发送了其他版本，本更正版未发送"
NOTE_KEPT_LAST = "保留上次发送的版本"
NOTE_EXPIRED = "超时未答复，按设置不发送"
NOTE_STALE = "批准后发现内容已再次变化，未发送；新内容需重新审核"
NOTE_SENT = "已批准并发送"


def open_review(consolidated: Consolidated, workbook: Path, ledger_path: Path, quarter_dir: Path, *,
                requested_by: str = "") -> dict[str, Any]:
    """Register the quarter's pending correction for this content, or say why none is needed.

    Returns the plan (``action`` ``send``/``none`` need no review) or, for ``review``, the
    review: ``id``, ``sequence``, ``subject``, ``changes``, ``workbook`` (the frozen copy
    that approval sends), ``consolidated`` (its model) and ``superseded`` (the id of the
    review this one replaces, if any). Idempotent: a retry for the same content (or content
    the leaders read the same, ``deliver.leaders_view``) returns the same pending review, as
    long as no other mail went out meanwhile; ``requested_by`` (the run) is added to its
    ``asked_in``.
    """
    ledger_path, quarter_dir, workbook = Path(ledger_path), Path(quarter_dir), Path(workbook)
    with locked_ledger(ledger_path) as ledger:
        planned = plan(ledger, consolidated)
        quarter = planned["quarter"]
        pending = pending_review(ledger, quarter)
        if planned["action"] != "review":
            if pending is not None and planned["action"] == "none":
                _close(pending, "superseded",
                       note=NOTE_UNCHANGED if planned["reason"] == "unchanged" else NOTE_REJECTED_BEFORE)
            return dict(planned)
        snapshot = consolidated.snapshot()
        if pending is not None and _same_request(pending, planned, snapshot, ledger):
            pending["requested_by"] = requested_by or pending.get("requested_by", "")
            _asked_in(pending, requested_by)
            return {**planned, **pending}
        superseded = None
        if pending is not None:
            other_sent = pending.get("base_sequence") != len(sent_for_quarter(ledger, quarter))
            _close(pending, "superseded", note=NOTE_OTHER_SENT if other_sent else NOTE_REPLACED)
            superseded = pending["id"]
        review = _new_review(ledger, consolidated, planned, workbook, quarter_dir, requested_by, superseded)
        _asked_in(review, requested_by)
        ledger["reviews"].append(review)
        log.info("correction %s for %s waits for approval (%d change(s))", review["id"], quarter,
                 len(review["changes"]))
        return {**planned, **review}


def _same_request(pending: Review, planned: MailPlan, snapshot: dict[str, Any], ledger: MailLedger) -> bool:
    """The pending review already asks about this content, numbered after the mail sent so far."""
    same_content = pending["content_hash"] == planned["content_hash"] or reads_the_same(pending.get("snapshot"),
                                                                                        snapshot)
    return same_content and pending.get("base_sequence") == len(sent_for_quarter(ledger, planned["quarter"]))


def _asked_in(review: Review, run_id: str) -> None:
    runs = review.setdefault("asked_in", [])
    if run_id and run_id not in runs:
        runs.append(run_id)


def _new_review(ledger: MailLedger, consolidated: Consolidated, planned: MailPlan, workbook: Path,
                quarter_dir: Path, requested_by: str, superseded: str | None) -> Review:
    previous = sent_for_quarter(ledger, planned["quarter"])
    folder = quarter_dir / REVIEW_FOLDER / planned["content_hash"][:16]
    frozen = named_copy(workbook, attachment_name_for(workbook.name, "correction", planned["sequence"]), folder)
    mark_correction(frozen, correction_number(planned["sequence"]), dt.datetime.now(TZ).date())
    model = folder / "consolidated.json"
    write_text_atomic(model, consolidated.model_dump_json(indent=2), skip_if_same=True)
    n = len(reviews_for_quarter(ledger, planned["quarter"])) + 1
    return {
        "id": f"{planned['quarter']}-R{n}", "quarter": planned["quarter"], "content_hash": planned["content_hash"],
        "base_sequence": len(previous), "sequence": planned["sequence"], "state": "pending",
        "requested_at": now(), "requested_by": requested_by, "superseded": superseded,
        "subject": subject_for(consolidated, "correction", planned["sequence"]),
        "changes": describe_changes(previous[-1].get("snapshot", {}), consolidated.snapshot()),
        "snapshot": consolidated.snapshot(),
        "workbook": str(frozen), "consolidated": str(model),
        "last_subject": previous[-1].get("subject", ""), "last_sent_at": previous[-1].get("sent_at", ""),
    }


def mark_correction(workbook: Path, number: int, day: dt.date) -> None:
    """Mark every sheet of a 更正版's workbook with 更正版N and its date, in place."""
    book = openpyxl.load_workbook(workbook)
    mark = correction_mark(number, day)
    for sheet in book.worksheets:
        mark_title(sheet, mark)
    marked = workbook.with_name(f".{workbook.name}.marking")
    book.save(marked)
    marked.replace(workbook)


def _close(review: Review, state: ReviewState, *, by: str | None = None, note: str = "") -> None:
    review.update(state=state, decided_at=now(), decided_by=by, note=note)


def answer_review(review_id: str, approved: bool, programme: Programme, ledger_path: Path,
                  smtp: SmtpSettings | None, *, current_hash: str, responder: str | None,
                  keep_dir: Path | None = None, current_snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    """Act on the clerk's answer to review ``review_id``; exactly once, whatever retries.

    ``responder`` is who answered (None: nobody did, the timeout chose). ``current_hash``
    is the quarter's content now: an approval sends only if it still equals the reviewed
    content, or (``current_snapshot`` given) the leaders would read the same in both.
    Returns ``{"sent": bool, "outcome": ...}`` with outcome ``sent``, ``already_sent``,
    ``rejected``, ``expired``, ``superseded`` or ``stale``.
    """
    ledger_path = Path(ledger_path)
    with locked_ledger(ledger_path) as ledger:
        review = next((r for r in ledger["reviews"] if r.get("id") == review_id), None)
        if review is None:
            raise DamagedStateError(f"mail ledger {ledger_path} has no review {review_id}")
        result = {"review_id": review_id, "quarter": review["quarter"], "content_hash": review["content_hash"],
                  "sequence": review["sequence"], "sent": False}
        if review["state"] != "pending":
            already = review["state"] == "sent"
            return {**result, "outcome": "already_sent" if already else review["state"],
                    "note": review.get("note", "")}
        who = responder or NO_ANSWER
        sent = sent_for_quarter(ledger, review["quarter"])
        if sent and sent[-1]["content_hash"] == review["content_hash"]:
            _close(review, "sent", by=who, note=NOTE_ALREADY_SENT)
            return {**result, "outcome": "already_sent"}
        if len(sent) != review["base_sequence"]:
            _close(review, "superseded", by=who, note=NOTE_OTHER_SENT)
            return {**result, "outcome": "superseded"}
        if not approved:
            _close(review, "rejected" if responder else "expired", by=who,
                   note=NOTE_KEPT_LAST if responder else NOTE_EXPIRED)
            return {**result, "outcome": review["state"]}
        if current_hash != review["content_hash"] and not (
                current_snapshot is not None and reads_the_same(review.get("snapshot"), current_snapshot)):
            _close(review, "superseded", by=who, note=NOTE_STALE)
            return {**result, "outcome": "stale", "current_hash": current_hash, "note": NOTE_STALE}
        if smtp is None:
            raise MailError("no SMTP settings to send an approved correction")
        consolidated = Consolidated.model_validate_json(Path(review["consolidated"]).read_text(encoding="utf-8"))
        outcome = send_and_record(ledger, consolidated, Path(review["workbook"]), programme, smtp, keep_dir,
                                  review_id=review_id, approved_by=who)
        _close(review, "sent", by=who, note=NOTE_SENT)
        return {**result, **outcome, "outcome": "sent"}


def review_request(review: Review | dict[str, Any], programme: Programme, *, link: str = "",
                   timeout_hours: float | None = None, send_on_timeout: bool = False) -> tuple[str, str]:
    """Subject and Markdown body of the approval request the clerk sees (Airflow's Required Actions).

    The body is ``templates/correction_review.md.j2``; ``review`` is what ``open_review`` returned.
    """
    context = {"r": review, "link": link, "timeout_hours": timeout_hours, "send_on_timeout": send_on_timeout,
               "correction_no": correction_number(review["sequence"]),
               "workbook_name": Path(review["workbook"]).name,
               "last_sent_at": _local_time(review.get("last_sent_at", "")),
               "recipients": "、".join(r.name for r in [*programme.recipients.to, *programme.recipients.cc])}
    return mail_text("review_subject", review["subject"]), render(__package__, "correction_review.md.j2", **context)


def current_request(ledger_path: Path, review_id: str) -> Review | None:
    """Review ``review_id`` if it still waits for an answer (the card is built from it), else None."""
    ledger = load_ledger(Path(ledger_path))
    review = next((r for r in ledger["reviews"] if r.get("id") == review_id), None)
    return review if review is not None and review["state"] == "pending" else None


def mark_notified(ledger_path: Path, review_id: str) -> bool:
    """Record that the clerk was told review ``review_id`` waits; False if that was already done."""
    with locked_ledger(Path(ledger_path)) as ledger:
        review = next((r for r in ledger["reviews"] if r.get("id") == review_id), None)
        if review is None or review.get("notified_at"):
            return False
        review["notified_at"] = now()
        return True


def _local_time(stamp: str) -> str:
    try:
        value = dt.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return stamp or ""
    return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
