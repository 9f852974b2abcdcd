"""The quarter-end email: composed from the consolidated model, sent exactly once.

Exactly once, concretely:

* A ledger (JSON, written atomically) records every mail the SMTP server accepted,
  keyed by ``(quarter, content_hash)``.
* Before sending, the current content hash is compared with the *last* mail sent for
  the quarter: equal -> nothing is sent (a retry or a rerun over an unchanged inbox);
  no earlier mail -> the original; different -> a correction (更正版) whose body lists
  what changed since the last mail.
* The ledger entry is written only after the server accepted the message. If the
  server is down the send raises, nothing is recorded, and the Airflow task retries
  with backoff; the first retry that gets through sends the one mail.
* An exclusive lock around check-send-record keeps two concurrent runs (a manual
  trigger next to a scheduled one) from both sending.
* The Message-ID is derived from (quarter, content hash), so in the one window we
  cannot close (server accepted, process killed before the ledger write) a resent copy
  carries the same Message-ID and mail clients collapse it.

The body is rendered from ``templates/report_mail.html.j2`` and its plain-text twin
``templates/report_mail.txt.j2``; both go out as alternatives of one message.

Connection details arrive as ``SmtpSettings`` (``wcreport.deliver.smtp``), read from
the Airflow connection ``smtp_default`` by ``wcreport.orchestration.connections``;
nothing secret is in code or in the repo.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.utils import formataddr
from pathlib import Path
from typing import Any

from wcreport.core.io import DamagedStateError, locked_json, read_json
from wcreport.core.labels import INDICATOR_STATUS_ZH, LATE_ZH
from wcreport.core.programme import Programme
from wcreport.core.templating import number, render
from wcreport.deliver.smtp import MailError, SmtpSettings, send_message
from wcreport.report.consolidate import Consolidated

log = logging.getLogger(__name__)


# --- ledger -----------------------------------------------------------------------
def _empty_ledger() -> dict:
    return {"version": 1, "sent": []}


def load_ledger(path: Path) -> dict:
    data = read_json(path, _empty_ledger)
    _check_ledger(data, path)
    return data


def _check_ledger(data, path: Path) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("sent"), list):
        raise DamagedStateError(f"mail ledger {path} is not a ledger file")


def sent_for_quarter(ledger: dict, quarter: str) -> list[dict]:
    return [e for e in ledger["sent"] if e.get("quarter") == quarter]


# --- what changed -----------------------------------------------------------------------
def describe_changes(previous: dict, current: dict) -> list[str]:
    """Chinese sentences: what differs between two ``Consolidated.snapshot()`` dicts."""
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
    ind_before, ind_after = previous.get("indicators", {}), current.get("indicators", {})
    for key, now in ind_after.items():
        was = ind_before.get(key, {})
        if was.get("value") != now.get("value"):
            lines.append(f"指标「{now['name']}」：{_num(was.get('value'))} → {_num(now.get('value'))}"
                         f"{now.get('measure', '')}")
    if not lines:
        lines.append("汇总内容有调整（单位报送状态与指标数值未变）")
    return lines


def _num(value: Any) -> str:
    return number(value, empty=INDICATOR_STATUS_ZH["no_data"])


# --- composing -----------------------------------------------------------------------
def subject_for(consolidated: Consolidated, kind: str, sequence: int) -> str:
    base = consolidated.title
    if kind == "correction":
        return f"【更正版】{base}（第{sequence}次发送）"
    return base


def compose_html(consolidated: Consolidated, programme: Programme, kind: str = "original",
                 changes: list[str] | None = None, attachment_name: str = "") -> str:
    """The mail as HTML (autoescaped: unit text cannot become markup)."""
    return render(__package__, "report_mail.html.j2",
                  **_mail_context(consolidated, programme, kind, changes, attachment_name))


def compose_text(consolidated: Consolidated, programme: Programme, kind: str = "original",
                 changes: list[str] | None = None, attachment_name: str = "") -> str:
    """The same mail as plain text (the text/plain alternative)."""
    return render(__package__, "report_mail.txt.j2",
                  **_mail_context(consolidated, programme, kind, changes, attachment_name))


def _mail_context(c: Consolidated, programme: Programme, kind: str, changes: list[str] | None,
                  attachment_name: str) -> dict[str, Any]:
    return {
        "c": c, "report": programme.report, "kind": kind, "changes": changes or [],
        "attachment_name": attachment_name,
        "missing": c.units_with_status("missing"),
        "rejected": c.units_with_status("rejected"),
        "late": [u for u in c.late_units if u.status == "submitted"],
        "at_risk": c.indicators_at_risk,
    }


def _addresses(recipients) -> list[str]:
    return [formataddr((r.name, r.email)) for r in recipients]


def message_id_for(quarter: str, content_hash: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "wcreport.local"
    return f"<wcreport.{quarter}.{content_hash[:32]}@{domain}>"


def send_report_once(consolidated: Consolidated, workbook: Path, programme: Programme,
                     ledger_path: Path, smtp: SmtpSettings) -> dict:
    """Send the report mail unless this content was already the last one sent.

    Returns ``{"sent": bool, "kind": "original"|"correction"|"none", ...}``. Raises if
    the SMTP server does not accept the message (the ledger is then unchanged).
    """
    workbook = Path(workbook)
    ledger_path = Path(ledger_path)
    if not workbook.is_file():
        raise FileNotFoundError(f"report workbook not found: {workbook}")
    quarter = consolidated.quarter
    content_hash = consolidated.content_hash()
    with locked_json(ledger_path, _empty_ledger) as ledger:
        _check_ledger(ledger, ledger_path)
        previous = sent_for_quarter(ledger, quarter)
        last = previous[-1] if previous else None
        base = {"quarter": quarter, "content_hash": content_hash}
        if last is not None and last["content_hash"] == content_hash:
            return {**base, "sent": False, "kind": "none", "subject": last.get("subject"),
                    "sent_at": last.get("sent_at"), "sequence": len(previous)}
        kind = "original" if last is None else "correction"
        sequence = len(previous) + 1
        snapshot = consolidated.snapshot()
        changes = describe_changes(last.get("snapshot", {}), snapshot) if last else []
        subject = subject_for(consolidated, kind, sequence)
        body = compose_html(consolidated, programme, kind, changes, workbook.name)
        text = compose_text(consolidated, programme, kind, changes, workbook.name)
        to = _addresses(programme.recipients.to)
        cc = _addresses(programme.recipients.cc)
        message_id = message_id_for(quarter, content_hash, smtp.sender)
        headers = {"X-Report-Quarter": quarter, "X-Report-Content-Hash": content_hash}
        if last is not None and last.get("message_id"):
            headers["In-Reply-To"] = last["message_id"]
            headers["References"] = last["message_id"]
        try:
            send_message(smtp, to, subject, body, text_body=text, cc=cc, attachments=[workbook],
                         message_id=message_id, headers=headers)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"sending the {quarter} report to {smtp.host}:{smtp.port} failed: "
                            f"{exc.__class__.__name__}: {exc}") from exc
        entry = {
            **base, "kind": kind, "sequence": sequence, "subject": subject,
            "sent_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "message_id": message_id, "to": [r.email for r in programme.recipients.to],
            "cc": [r.email for r in programme.recipients.cc], "attachment": workbook.name,
            "changes": changes, "snapshot": snapshot,
        }
        ledger["sent"].append(entry)
        log.info("report mail for %s sent (%s, #%d)", quarter, kind, sequence)
        return {**base, "sent": True, "kind": kind, "subject": subject, "sequence": sequence,
                "message_id": message_id, "changes": changes, "to": entry["to"], "cc": entry["cc"]}
