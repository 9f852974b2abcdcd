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

Connection details come from the Airflow connection ``smtp_default`` (host, port,
login, password, extras ``from_email``, ``disable_ssl``, ``disable_tls``, ``timeout``,
read the way the SMTP provider reads them); nothing secret is in code or in the repo.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import html
import json
import logging
import os
import smtplib
import tempfile
from dataclasses import dataclass, field
from email.utils import formataddr
from pathlib import Path
from typing import Any

from wcreport.consolidate import Consolidated
from wcreport.programme import Programme

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The SMTP server did not accept the report mail; nothing was recorded."""


# --- settings -------------------------------------------------------------------
@dataclass
class SmtpSettings:
    host: str
    port: int
    user: str = ""
    password: str = field(default="", repr=False)
    use_ssl: bool = False
    starttls: bool = False
    sender: str = ""
    timeout: float = 30.0

    @property
    def skip_login(self) -> bool:
        return not self.user


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def smtp_settings_from_connection(conn_id: str = "smtp_default") -> SmtpSettings:
    """Read an Airflow connection the way the SMTP provider's SmtpHook does.

    SSL and STARTTLS are on unless the extras ``disable_ssl`` / ``disable_tls`` say
    otherwise; STARTTLS is only used without SSL. The sender is ``from_email`` or,
    failing that, the login.
    """
    from airflow.sdk import BaseHook  # imported here: keep DAG parsing light

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    use_ssl = not _flag(extra.get("disable_ssl", False))
    starttls = (not _flag(extra.get("disable_tls", False))) and not use_ssl
    port = conn.port or (465 if use_ssl else 587 if starttls else 25)
    sender = extra.get("from_email") or conn.login or ""
    if not conn.host:
        raise MailError(f"connection {conn_id!r} has no host")
    if not sender:
        raise MailError(f"connection {conn_id!r} has neither extra from_email nor a login")
    return SmtpSettings(host=conn.host, port=int(port), user=conn.login or "",
                        password=conn.password or "", use_ssl=use_ssl, starttls=starttls,
                        sender=sender, timeout=float(extra.get("timeout", 30)))


# --- ledger -----------------------------------------------------------------------
def load_ledger(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": 1, "sent": []}
    if not isinstance(data, dict) or not isinstance(data.get("sent"), list):
        raise ValueError(f"mail ledger {path} is not a ledger file")
    return data


def _write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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


# --- sending ----------------------------------------------------------------------------
def _client(smtp: SmtpSettings):
    """A yagmail client that logs in with the connection's login, sends as ``sender``."""
    import yagmail

    class _Client(yagmail.SMTP):
        def _login(self, password):  # yagmail logs in as its ``user`` (the From address)
            sender = self.user
            self.user = smtp.user or sender
            try:
                super()._login(password)
            finally:
                self.user = sender

    return _Client(
        # password is never None: yagmail would look in a keyring and then prompt
        user=smtp.sender, password=smtp.password, host=smtp.host, port=smtp.port,
        smtp_ssl=smtp.use_ssl, smtp_starttls=smtp.starttls, smtp_skip_login=smtp.skip_login,
        soft_email_validation=False, timeout=smtp.timeout,
    )


def _send(smtp: SmtpSettings, to: list[str], cc: list[str], subject: str, body: str,
          attachment: Path, message_id: str, headers: dict[str, str]) -> None:
    client = _client(smtp)
    try:
        result = client.send(to=to, cc=cc or None, subject=subject, contents=[body],
                             attachments=[str(attachment)], headers=headers,
                             prettify_html=False, message_id=message_id)
    finally:
        with contextlib.suppress(Exception):
            client.close()
    if result is False:
        raise MailError("SMTP server disconnected while sending; nothing recorded")
    if isinstance(result, dict) and result:
        # some recipients were refused: the server accepted the rest
        log.warning("SMTP server refused some recipients: %s", result)


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
    with _locked(ledger_path):
        ledger = load_ledger(ledger_path)
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
            _send(smtp, to, cc, subject, body, workbook, message_id, headers)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"sending the {quarter} report to {smtp.host}:{smtp.port} failed: "
                            f"{exc.__class__.__name__}: {exc}") from exc
        entry = {
            **base, "kind": kind, "sequence": sequence, "subject": subject,
            "sent_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "message_id": message_id, "to": [r.email for r in programme.recipients.to],
            "cc": [r.email for r in programme.recipients.cc], "attachment": workbook.name,
            "changes": changes, "snapshot": snapshot,
        }
        ledger["sent"].append(entry)
        _write_json_atomic(ledger_path, ledger)
        log.info("report mail for %s sent (%s, #%d)", quarter, kind, sequence)
        return {**base, "sent": True, "kind": kind, "subject": subject, "sequence": sequence,
                "message_id": message_id, "changes": changes, "to": entry["to"], "cc": entry["cc"]}
