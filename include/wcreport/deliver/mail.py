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

Connection details arrive as ``SmtpSettings`` (``wcreport.deliver.smtp``), read from
the Airflow connection ``smtp_default`` by ``wcreport.orchestration.connections``;
nothing secret is in code or in the repo.
"""
from __future__ import annotations

import datetime as dt
import html
import logging
import smtplib
from email.utils import formataddr
from pathlib import Path
from typing import Any

from wcreport.core.io import DamagedStateError, locked_json, read_json
from wcreport.core.programme import Programme
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
            lines.append(f"{name}：新报送" + ("（逾期）" if now.get("late") else ""))
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
    return "未报数" if value is None else f"{value:g}"


# --- composing -----------------------------------------------------------------------
def subject_for(consolidated: Consolidated, kind: str, sequence: int) -> str:
    base = consolidated.title
    if kind == "correction":
        return f"【更正版】{base}（第{sequence}次发送）"
    return base


def compose_html(consolidated: Consolidated, programme: Programme, kind: str = "original",
                 changes: list[str] | None = None, attachment_name: str = "") -> str:
    c = consolidated
    e = html.escape
    parts = [f"<p>各位领导：</p><p>现将{e(c.title)}报送如下，详见附件"
             f"{('《' + e(attachment_name) + '》') if attachment_name else ''}。</p>"]
    if kind == "correction":
        items = "".join(f"<li>{e(x)}</li>" for x in (changes or []))
        parts.append(f"<h3>更正说明</h3><p>本邮件为更正版，替代此前发送的版本。与上次发送相比：</p><ul>{items}</ul>")
    parts.append("<h3>报送情况</h3>")
    parts.append(f"<p>应报送单位{c.expected_units}个，已报送 <b>{c.submitted_units}/{c.expected_units}</b>。"
                 f"报送截止日期：{c.deadline.year}年{c.deadline.month}月{c.deadline.day}日。</p>")
    missing = c.units_with_status("missing")
    rejected = c.units_with_status("rejected")
    late = [u for u in c.late_units if u.status == "submitted"]
    lst = []
    if missing:
        lst.append(f"<li>未报送（{len(missing)}个）：{'、'.join(e(u.unit_name) for u in missing)}</li>")
    if rejected:
        reasons = "".join(
            f"<li>{e(u.unit_name)}：{e('；'.join(u.reasons) or '未通过审核')}</li>" for u in rejected)
        lst.append(f"<li>报表未通过审核、已退回（{len(rejected)}个）：<ul>{reasons}</ul></li>")
    if late:
        lst.append(f"<li>逾期报送（{len(late)}个）：{'、'.join(e(u.unit_name) for u in late)}</li>")
    if not lst:
        lst.append("<li>全部单位均已按时报送。</li>")
    parts.append(f"<ul>{''.join(lst)}</ul>")
    parts.append("<h3>量化指标进度</h3>")
    risk = c.indicators_at_risk
    if risk:
        rows = "".join(
            f"<tr><td>{i.task_seq}</td><td>{e(i.name)}</td><td>{i.target:g}{e(i.measure)}</td>"
            f"<td>{'' if i.value is None else f'{i.value:g}' + e(i.measure)}</td>"
            f"<td>{'' if i.percent is None else f'{i.percent:g}%'}</td><td>{e(i.status_zh)}</td></tr>"
            for i in risk)
        parts.append(
            f"<p>共{len(c.indicators)}项量化指标，按全年均衡推进本季度应达年度目标的"
            f"{risk[0].expected_percent:g}%，以下{len(risk)}项进度滞后或未报数：</p>"
            "<table border=\"1\" cellspacing=\"0\" cellpadding=\"4\">"
            "<tr><th>序号</th><th>指标</th><th>年度目标</th><th>累计完成</th><th>完成比例</th><th>状态</th></tr>"
            f"{rows}</table>")
    else:
        parts.append(f"<p>共{len(c.indicators)}项量化指标，均达到本季度应达进度。</p>")
    parts.append(f"<p>{e(programme.report.organiser)}"
                 f"{('（联系电话：' + e(programme.report.phone) + '）') if programme.report.phone else ''}</p>")
    parts.append("<p style=\"color:#888\">本邮件由季度报表系统自动发送。</p>")
    # yagmail turns "\n" into <br>; keep the markup on one line
    return "".join(parts).replace("\n", " ")


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
        to = _addresses(programme.recipients.to)
        cc = _addresses(programme.recipients.cc)
        message_id = message_id_for(quarter, content_hash, smtp.sender)
        headers = {"X-Report-Quarter": quarter, "X-Report-Content-Hash": content_hash}
        if last is not None and last.get("message_id"):
            headers["In-Reply-To"] = last["message_id"]
            headers["References"] = last["message_id"]
        try:
            send_message(smtp, to, subject, body, cc=cc, attachments=[workbook], message_id=message_id,
                         headers=headers)
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
