"""The quarter-end email: composed from the consolidated model, sent exactly once.

Exactly once, concretely:

* A ledger (JSON, written atomically) records every mail the SMTP server accepted,
  keyed by ``(quarter, content_hash)``, and every review of a correction.
* The current content hash is compared with the *last* mail sent for the quarter:
  equal -> nothing is sent (a retry or a rerun over an unchanged inbox); no earlier
  mail -> the original, sent unattended; different -> a correction (更正版N), which is
  sent only once the clerk approved exactly this content (``open_review`` /
  ``answer_review``; the pipeline asks through Airflow's human-in-the-loop operator).
* The ledger entry is written only after the server accepted the message. If the
  server is down the send raises, nothing is recorded, and the Airflow task retries
  with backoff; the first retry that gets through sends the one mail.
* An exclusive lock around every check-send-record (and around opening or answering a
  review) keeps concurrent runs (a manual trigger next to a scheduled one) from both
  sending, and from both asking.
* The Message-ID is derived from (quarter, content hash), so in the one window we
  cannot close (server accepted, process killed before the ledger write) a resent copy
  carries the same Message-ID and mail clients collapse it.

Reviews of corrections (``ledger["reviews"]``), one *pending* review per quarter:

* ``open_review`` registers the correction for the current content and freezes what
  would be sent (workbook named ``…（更正版N）.xlsx`` and the consolidated model) under
  ``<quarter>/review/<hash prefix>/``. Newer content while a review is pending replaces
  it: the older review becomes ``superseded`` and answering it sends nothing.
* ``answer_review`` acts on the clerk's answer: approve -> send the frozen copy, but
  only if it is still the quarter's current content (else nothing is sent and the
  caller is told the content moved on); reject -> recorded, the last mail stays the
  valid version and the same content is not asked again (newer content is); no answer
  before the timeout -> ``expired``, nothing sent, a later run asks again.
* Every workbook that was sent is kept under ``<quarter>/sent/``.

The body is rendered from ``templates/report_mail.html.j2`` and its plain-text twin
``templates/report_mail.txt.j2``; both go out as alternatives of one message.

Connection details arrive as ``SmtpSettings`` (``wcreport.deliver.smtp``), read from
the Airflow connection ``smtp_default`` by ``wcreport.orchestration.connections``;
nothing secret is in code or in the repo.
"""
from __future__ import annotations

import datetime as dt
import logging
import shutil
import smtplib
from email.utils import formataddr
from pathlib import Path
from typing import Any

from wcreport.core.faults import output_unwritable
from wcreport.core.io import DamagedStateError, locked_json, read_json, write_text_atomic
from wcreport.core.labels import INDICATOR_STATUS_ZH, LATE_ZH, stamped_missing
from wcreport.core.programme import Programme
from wcreport.core.quarter import TZ
from wcreport.core.templating import number, render
from wcreport.deliver.sent_copies import (
    HASH_HEADER,
    QUARTER_HEADER,
    SEQUENCE_HEADER,
    ledger_fix,
    missing_entries,
    prepare_copy,
)
from wcreport.deliver.smtp import MailError, SmtpSettings, compose_message, send_composed
from wcreport.report.consolidate import Consolidated

log = logging.getLogger(__name__)

REVIEW_FOLDER = "review"        # <quarter>/review/<hash prefix>/: what a pending correction would send
SENT_FOLDER = "sent"            # <quarter>/sent/: every workbook that was sent


# --- ledger -----------------------------------------------------------------------
def _empty_ledger() -> dict:
    return {"version": 2, "sent": [], "reviews": []}


def load_ledger(path: Path) -> dict:
    data = read_json(path, _empty_ledger, fix=ledger_fix(path))
    _check_ledger(data, path)
    return data


def _check_ledger(data, path: Path) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("sent"), list):
        raise DamagedStateError(f"mail ledger {path} is not a ledger file", ledger_fix(path))
    if not isinstance(data.setdefault("reviews", []), list):   # version 1 ledgers have no reviews
        raise DamagedStateError(f"mail ledger {path}: 'reviews' is not a list", ledger_fix(path))
    data["version"] = 2
    _check_against_sent_copies(data, path)


def _check_against_sent_copies(data: dict, path: Path) -> None:
    """Refuse a ledger that lacks mail we kept copies of: the next mail would be misnumbered."""
    missing = missing_entries(data, path.parent)
    if not missing:
        return
    state = "is missing" if not path.exists() else "does not list every report mail that was sent"
    raise DamagedStateError(f"mail ledger {path} {state}; {len(missing)} kept cop(ies) of sent mail say "
                            f"otherwise: {missing[:5]}. Nothing was sent", ledger_fix(path))


def sent_for_quarter(ledger: dict, quarter: str) -> list[dict]:
    return [e for e in ledger["sent"] if e.get("quarter") == quarter]


def reviews_for_quarter(ledger: dict, quarter: str) -> list[dict]:
    return [r for r in ledger.get("reviews", []) if r.get("quarter") == quarter]


def pending_review(ledger: dict, quarter: str) -> dict | None:
    """The quarter's one review waiting for an answer, if any."""
    return next((r for r in reviews_for_quarter(ledger, quarter) if r["state"] == "pending"), None)


def _rejection(ledger: dict, quarter: str, content_hash: str, base: int) -> dict | None:
    """A rejection of this content as a correction of the same last mail (``base`` mails sent)."""
    return next((r for r in reviews_for_quarter(ledger, quarter)
                 if r["state"] == "rejected" and r["content_hash"] == content_hash
                 and r["base_sequence"] == base), None)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --- what changed -----------------------------------------------------------------------
def describe_changes(previous: dict, current: dict) -> list[str]:
    """Chinese sentences: what differs between two ``Consolidated.snapshot()`` dicts."""
    lines = _unit_changes(previous, current)
    lines += _task_changes(previous, current)
    lines += _indicator_changes(previous, current)
    if not lines:
        lines.append("汇总内容有调整（单位报送状态与指标数值未变）")
    return lines


def _unit_changes(previous: dict, current: dict) -> list[str]:
    lines: list[str] = []
    before, after = previous.get("units", {}), current.get("units", {})
    for key, now in after.items():
        was = before.get(key, {})
        name = now.get("name", key)
        if now["status"] == "submitted" and was.get("status") != "submitted":
            lines.append(f"{name}：新报送" + (f"（{LATE_ZH}）" if now.get("late") else ""))
        elif now["status"] == "submitted" and was.get("sha256") != now.get("sha256"):
            lines.append(f"{name}：报送了更正后的报表")
        elif now["status"] == "rejected" and was.get("status") != "rejected":
            lines.append(f"{name}：报表未通过审核，已退回" +
                         ("（此前版本的内容已从汇总中移除）" if was.get("status") == "submitted" else ""))
        elif now["status"] == "missing" and was.get("status") == "submitted":
            lines.append(f"{name}：报表已撤回，内容已从汇总中移除")
    texts_before, texts_after = previous.get("texts", {}), current.get("texts", {})
    changed_units = {k for k in set(texts_before) | set(texts_after)
                     if texts_before.get(k) != texts_after.get(k)}
    mentioned = {after[k].get("name") for k in after}
    for key in sorted(changed_units):
        name = after.get(key, {}).get("name", key)
        if not any(line.startswith(f"{name}：") for line in lines) and name in mentioned:
            lines.append(f"{name}：进展情况内容有变化")
    return lines


def _task_changes(previous: dict, current: dict) -> list[str]:
    """Tasks whose text in the summary changed (snapshots before this field have none)."""
    before, after = previous.get("tasks"), current.get("tasks", {})
    if before is None:
        return []
    return [f"第{seq}项「{now['name']}」：汇总表中的进展情况有变化"
            for seq, now in after.items() if before.get(seq, {}).get("digest") != now.get("digest")]


def _indicator_changes(previous: dict, current: dict) -> list[str]:
    lines: list[str] = []
    ind_before, ind_after = previous.get("indicators", {}), current.get("indicators", {})
    for key, now in ind_after.items():
        was = ind_before.get(key, {})
        status = ""
        if was.get("status") and was.get("status") != now.get("status"):
            status = f"（{_status(was.get('status'))} → {_status(now.get('status'))}）"
        if was.get("value") != now.get("value"):
            lines.append(f"指标「{now['name']}」：{_num(was.get('value'))} → {_num(now.get('value'))}"
                         f"{now.get('measure', '')}{status}")
        elif status:
            lines.append(f"指标「{now['name']}」：进度判断{status}")
    return lines


def _num(value: Any) -> str:
    return number(value, empty=INDICATOR_STATUS_ZH["no_data"])


def _status(status: str | None) -> str:
    return INDICATOR_STATUS_ZH.get(status or "", status or "")


# --- composing -----------------------------------------------------------------------
def correction_number(sequence: int) -> int:
    """The N of 更正版N: the original is mail 1, 更正版1 is mail 2."""
    return sequence - 1


def subject_for(consolidated: Consolidated, kind: str, sequence: int) -> str:
    base = consolidated.title
    if kind == "correction":
        return f"【更正版{correction_number(sequence)}】{base}"
    return base


def attachment_name_for(workbook_name: str, kind: str, sequence: int) -> str:
    """``…报表.xlsx`` for the original, ``…报表（更正版N）.xlsx`` for a correction."""
    if kind != "correction":
        return workbook_name
    path = Path(workbook_name)
    return f"{path.stem}（更正版{correction_number(sequence)}）{path.suffix}"


def compose_html(consolidated: Consolidated, programme: Programme, kind: str = "original",
                 changes: list[str] | None = None, attachment_name: str = "", sequence: int = 0) -> str:
    """The mail as HTML (autoescaped: unit text cannot become markup)."""
    return render(__package__, "report_mail.html.j2",
                  **_mail_context(consolidated, programme, kind, changes, attachment_name, sequence))


def compose_text(consolidated: Consolidated, programme: Programme, kind: str = "original",
                 changes: list[str] | None = None, attachment_name: str = "", sequence: int = 0) -> str:
    """The same mail as plain text (the text/plain alternative)."""
    return render(__package__, "report_mail.txt.j2",
                  **_mail_context(consolidated, programme, kind, changes, attachment_name, sequence))


def _mail_context(c: Consolidated, programme: Programme, kind: str, changes: list[str] | None,
                  attachment_name: str, sequence: int) -> dict[str, Any]:
    return {
        "c": c, "report": programme.report, "kind": kind, "changes": changes or [],
        "correction_no": correction_number(sequence) if sequence else "",
        "attachment_name": attachment_name,
        "missing": c.units_with_status("missing"),
        "rejected": c.units_with_status("rejected"),
        "late": [u for u in c.late_units if u.status == "submitted"],
        "stamped_missing": [u for u in c.units if u.status == "submitted" and stamped_missing(u.stamped_copy)],
        "at_risk": c.indicators_at_risk,
    }


def _addresses(recipients) -> list[str]:
    return [formataddr((r.name, r.email)) for r in recipients]


def message_id_for(quarter: str, content_hash: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "wcreport.local"
    return f"<wcreport.{quarter}.{content_hash[:32]}@{domain}>"


# --- planning -----------------------------------------------------------------------
def _plan(ledger: dict, consolidated: Consolidated) -> dict:
    quarter, content_hash = consolidated.quarter, consolidated.content_hash()
    previous = sent_for_quarter(ledger, quarter)
    last = previous[-1] if previous else None
    plan = {"quarter": quarter, "content_hash": content_hash, "sequence": len(previous) + 1}
    if last is None:
        return {**plan, "action": "send", "kind": "original"}
    if last["content_hash"] == content_hash:
        return {**plan, "action": "none", "kind": "none", "reason": "unchanged",
                "sequence": len(previous), "subject": last.get("subject"), "sent_at": last.get("sent_at")}
    rejected = _rejection(ledger, quarter, content_hash, len(previous))
    if rejected is not None:
        return {**plan, "action": "none", "kind": "none", "reason": "rejected",
                "review_id": rejected["id"], "decided_at": rejected.get("decided_at"),
                "decided_by": rejected.get("decided_by")}
    return {**plan, "action": "review", "kind": "correction"}


def plan_mail(consolidated: Consolidated, ledger_path: Path) -> dict:
    """What the mail step should do with this content, without changing anything.

    ``action``: ``send`` (no mail yet for the quarter: the original goes out unattended),
    ``review`` (a correction: needs the clerk's approval) or ``none`` (``reason``:
    ``unchanged``, or ``rejected`` when the clerk already rejected this content).
    """
    return _plan(load_ledger(Path(ledger_path)), consolidated)


# --- sending -----------------------------------------------------------------------
def _send_and_record(ledger: dict, consolidated: Consolidated, attachment: Path, programme: Programme,
                     smtp: SmtpSettings, keep_dir: Path | None, **extra) -> dict:
    """Send the report for ``consolidated`` as the quarter's next mail and record it (lock held)."""
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
    to, cc = _addresses(programme.recipients.to), _addresses(programme.recipients.cc)
    message = compose_message(smtp.sender, to, subject, body, text_body=text, cc=cc, attachments=[attachment],
                              message_id=message_id, headers=headers)
    entry = {
        "quarter": quarter, "content_hash": content_hash, "kind": kind, "sequence": sequence,
        "subject": subject, "sent_at": _now(), "message_id": message_id,
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


def send_report_once(consolidated: Consolidated, workbook: Path, programme: Programme,
                     ledger_path: Path, smtp: SmtpSettings, *, approved_hash: str | None = None,
                     keep_dir: Path | None = None) -> dict:
    """Send the report mail unless this content was already the last one sent.

    The quarter's first mail (the original) goes out unattended. A correction goes out
    only when ``approved_hash`` is this content's hash (the clerk approved it); otherwise
    nothing is sent and the result is ``kind: "held"`` (``open_review`` asks).

    Returns ``{"sent": bool, "kind": "original"|"correction"|"none"|"held", ...}``. Raises
    if the SMTP server does not accept the message (the ledger is then unchanged).
    """
    workbook = Path(workbook)
    ledger_path = Path(ledger_path)
    if not workbook.is_file():
        raise FileNotFoundError(f"report workbook not found: {workbook}")
    with locked_json(ledger_path, _empty_ledger, fix=ledger_fix(ledger_path)) as ledger:
        _check_ledger(ledger, ledger_path)
        plan = _plan(ledger, consolidated)
        base = {"quarter": plan["quarter"], "content_hash": plan["content_hash"]}
        if plan["action"] == "none":
            return {**base, "sent": False, "kind": "none", "reason": plan["reason"],
                    "subject": plan.get("subject"), "sent_at": plan.get("sent_at"), "sequence": plan["sequence"]}
        if plan["action"] == "review" and approved_hash != plan["content_hash"]:
            log.warning("report for %s changed since the last mail: a correction waits for approval",
                        plan["quarter"])
            return {**base, "sent": False, "kind": "held", "sequence": plan["sequence"]}
        attachment = workbook
        if plan["kind"] == "correction":
            attachment = _named_copy(workbook, attachment_name_for(workbook.name, "correction", plan["sequence"]),
                                     ledger_path.parent / ".outgoing" / plan["content_hash"][:16])
        return _send_and_record(ledger, consolidated, attachment, programme, smtp, keep_dir)


def _named_copy(source: Path, name: str, folder: Path) -> Path:
    """``source`` under the name the recipients will see (the attachment's file name)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    return target


# --- reviews of corrections ------------------------------------------------------------
def open_review(consolidated: Consolidated, workbook: Path, ledger_path: Path, quarter_dir: Path, *,
                requested_by: str = "") -> dict:
    """Register the quarter's pending correction for this content, or say why none is needed.

    Returns the plan (``action`` ``send``/``none`` need no review) or, for ``review``, the
    review: ``id``, ``sequence``, ``subject``, ``changes``, ``workbook`` (the frozen copy
    that approval sends), ``consolidated`` (its model) and ``superseded`` (the id of the
    review this one replaces, if any). Idempotent: a retry for the same content returns
    the same pending review.
    """
    ledger_path, quarter_dir, workbook = Path(ledger_path), Path(quarter_dir), Path(workbook)
    with locked_json(ledger_path, _empty_ledger, fix=ledger_fix(ledger_path)) as ledger:
        _check_ledger(ledger, ledger_path)
        plan = _plan(ledger, consolidated)
        quarter = plan["quarter"]
        pending = pending_review(ledger, quarter)
        if plan["action"] != "review":
            if pending is not None and plan["action"] == "none":
                _close(pending, "superseded", note="内容已与上次发送的版本一致" if plan["reason"] == "unchanged"
                       else "该内容此前已被退回")
            return plan
        if pending is not None and pending["content_hash"] == plan["content_hash"]:
            pending["requested_by"] = requested_by or pending.get("requested_by", "")
            return {**plan, **pending}
        superseded = None
        if pending is not None:
            _close(pending, "superseded", note="等待审核期间内容又有变化，已并入新的更正版")
            superseded = pending["id"]
        review = _new_review(ledger, consolidated, plan, workbook, quarter_dir, requested_by, superseded)
        ledger["reviews"].append(review)
        log.info("correction %s for %s waits for approval (%d change(s))", review["id"], quarter,
                 len(review["changes"]))
        return {**plan, **review}


def _new_review(ledger: dict, consolidated: Consolidated, plan: dict, workbook: Path, quarter_dir: Path,
                requested_by: str, superseded: str | None) -> dict:
    previous = sent_for_quarter(ledger, plan["quarter"])
    folder = quarter_dir / REVIEW_FOLDER / plan["content_hash"][:16]
    frozen = _named_copy(workbook, attachment_name_for(workbook.name, "correction", plan["sequence"]), folder)
    model = folder / "consolidated.json"
    write_text_atomic(model, consolidated.model_dump_json(indent=2), skip_if_same=True)
    n = len(reviews_for_quarter(ledger, plan["quarter"])) + 1
    return {
        "id": f"{plan['quarter']}-R{n}", "quarter": plan["quarter"], "content_hash": plan["content_hash"],
        "base_sequence": len(previous), "sequence": plan["sequence"], "state": "pending",
        "requested_at": _now(), "requested_by": requested_by, "superseded": superseded,
        "subject": subject_for(consolidated, "correction", plan["sequence"]),
        "changes": describe_changes(previous[-1].get("snapshot", {}), consolidated.snapshot()),
        "workbook": str(frozen), "consolidated": str(model),
        "last_subject": previous[-1].get("subject", ""), "last_sent_at": previous[-1].get("sent_at", ""),
    }


def _close(review: dict, state: str, *, by: str | None = None, note: str = "") -> None:
    review.update(state=state, decided_at=_now(), decided_by=by, note=note)


def answer_review(review_id: str, approved: bool, programme: Programme, ledger_path: Path,
                  smtp: SmtpSettings | None, *, current_hash: str, responder: str | None,
                  keep_dir: Path | None = None) -> dict:
    """Act on the clerk's answer to review ``review_id``; exactly once, whatever retries.

    ``responder`` is who answered (None: nobody did, the timeout chose). ``current_hash``
    is the quarter's content now: an approval sends only if it still equals the reviewed
    content. Returns ``{"sent": bool, "outcome": ...}`` with outcome ``sent``,
    ``already_sent``, ``rejected``, ``expired``, ``superseded`` or ``stale``.
    """
    ledger_path = Path(ledger_path)
    with locked_json(ledger_path, _empty_ledger, fix=ledger_fix(ledger_path)) as ledger:
        _check_ledger(ledger, ledger_path)
        review = next((r for r in ledger["reviews"] if r.get("id") == review_id), None)
        if review is None:
            raise DamagedStateError(f"mail ledger {ledger_path} has no review {review_id}")
        result = {"review_id": review_id, "quarter": review["quarter"], "content_hash": review["content_hash"],
                  "sequence": review["sequence"], "sent": False}
        if review["state"] != "pending":
            already = review["state"] == "sent"
            return {**result, "outcome": "already_sent" if already else review["state"],
                    "note": review.get("note", "")}
        who = responder or "（超时未答复）"
        sent = sent_for_quarter(ledger, review["quarter"])
        if sent and sent[-1]["content_hash"] == review["content_hash"]:
            _close(review, "sent", by=who, note="该内容已发送过")
            return {**result, "outcome": "already_sent"}
        if len(sent) != review["base_sequence"]:
            _close(review, "superseded", by=who, note="审核期间已发送了其他版本，本更正版未发送")
            return {**result, "outcome": "superseded"}
        if not approved:
            _close(review, "rejected" if responder else "expired", by=who,
                   note="保留上次发送的版本" if responder else "超时未答复，按设置不发送")
            return {**result, "outcome": review["state"]}
        if current_hash != review["content_hash"]:
            _close(review, "superseded", by=who, note="批准后发现内容已再次变化，未发送；新内容需重新审核")
            return {**result, "outcome": "stale", "current_hash": current_hash}
        if smtp is None:
            raise MailError("no SMTP settings to send an approved correction")
        consolidated = Consolidated.model_validate_json(Path(review["consolidated"]).read_text(encoding="utf-8"))
        outcome = _send_and_record(ledger, consolidated, Path(review["workbook"]), programme, smtp, keep_dir,
                                   review_id=review_id, approved_by=who)
        _close(review, "sent", by=who, note="已批准并发送")
        return {**result, **outcome, "outcome": "sent"}


def review_request(review: dict, programme: Programme, *, link: str = "", timeout_hours: float | None = None,
                   send_on_timeout: bool = False) -> tuple[str, str]:
    """Subject and Markdown body of the approval request the clerk sees (Airflow's Required Actions)."""
    context = {"r": review, "link": link, "timeout_hours": timeout_hours, "send_on_timeout": send_on_timeout,
               "workbook_name": Path(review["workbook"]).name,
               "last_sent_at": _local_time(review.get("last_sent_at", "")),
               "recipients": "、".join(r.name for r in [*programme.recipients.to, *programme.recipients.cc])}
    subject = f"审核{review['subject']}"
    return subject, render(__package__, "correction_review.md.j2", **context)


def _local_time(stamp: str) -> str:
    try:
        value = dt.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return stamp or ""
    return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
