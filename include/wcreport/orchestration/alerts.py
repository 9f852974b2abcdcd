"""Mail to ops when a task fails, and the small SMTP helper the reminders share.

All mail goes through the Airflow connection ``smtp_default`` (read the way the SMTP
provider's ``SmtpHook`` reads it): host, port, login and TLS settings live there, never
in the repo. The alert's text is in ``templates/alert.html.j2`` and ``alert.txt.j2``. The
ops address comes from the environment variable ``REPORT_OPS_EMAIL`` or, failing that,
the Airflow Variable ``report_ops_email`` (comma-separated for several people).

Heavy or Airflow-runtime imports stay inside functions: DAG files import this module
(through ``wcreport.orchestration.dag_defaults``) at parse time.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wcreport.core.settings import ops_email
from wcreport.orchestration.connections import SMTP_CONN_ID

# The SMTP and template modules are imported when an alert is sent, not when a DAG file
# imports this module (through dag_defaults) at parse time.

log = logging.getLogger(__name__)

OPS_EMAIL_ENV = "REPORT_OPS_EMAIL"
OPS_EMAIL_VARIABLE = "report_ops_email"


# --- sending -------------------------------------------------------------
def send_mail(to: str | Iterable[str], subject: str, html_body: str, *, text_body: str | None = None,
              files: Iterable[str | Path] = (), headers: Mapping[str, str] | None = None,
              conn_id: str = SMTP_CONN_ID) -> None:
    """Send one mail (HTML, plus ``text_body`` as its plain-text alternative) through the
    Airflow SMTP connection, attachments by path.

    The connection's ``from_email`` extra is the sender; for a plain loopback server set
    the extras ``{"disable_ssl": true, "disable_tls": true}``.
    """
    from wcreport.deliver.smtp import send_message
    from wcreport.orchestration.connections import smtp_settings

    send_message(smtp_settings(conn_id), to, subject, html_body, text_body=text_body,
                 attachments=files, headers=headers)


def split_addresses(value: str | None) -> list[str]:
    if not value:
        return []
    parts = value.replace(";", ",").split(",")
    return [p.strip() for p in parts if "@" in p.strip()]


def ops_recipients() -> list[str]:
    """Ops addresses: env REPORT_OPS_EMAIL, else Airflow Variable report_ops_email.

    Read alone, so the alert about another wrong setting still goes out."""
    found = split_addresses(ops_email())
    if found:
        return found
    from wcreport.orchestration.connections import variable

    return split_addresses(variable(OPS_EMAIL_VARIABLE))


# --- the failure alert ---------------------------------------------------
@dataclass(frozen=True)
class FailureReport:
    dag_id: str
    run_id: str
    task_id: str
    unit: str | None          # the mapped instance's rendered name (the unit), if mapped
    map_index: int
    try_number: int | None
    reason: str
    log_url: str | None

    @property
    def where(self) -> str:
        return f"{self.task_id}（{self.unit}）" if self.unit else self.task_id


def describe_failure(context: Mapping[str, Any]) -> FailureReport:
    """Pick the facts ops need out of an Airflow task context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    map_index = getattr(ti, "map_index", -1)
    map_index = -1 if map_index is None else int(map_index)
    unit = getattr(ti, "rendered_map_index", None) or None
    if unit is None and map_index >= 0:
        unit = f"map index {map_index}"
    exception = context.get("exception")
    if exception is None:
        reason = "unknown (no exception in the task context; see the log)"
    elif isinstance(exception, BaseException):
        reason = f"{type(exception).__name__}: {exception}".strip().rstrip(":")
    else:
        reason = str(exception)
    try:
        log_url = getattr(ti, "log_url", None)
    except Exception:  # log_url reads config; never let it break the alert
        log_url = None
    return FailureReport(dag_id=str(dag_id), run_id=str(getattr(ti, "run_id", "?")),
                         task_id=str(getattr(ti, "task_id", "?")), unit=unit,
                         map_index=map_index, try_number=getattr(ti, "try_number", None),
                         reason=reason[:2000], log_url=log_url)


def failure_subject(report: FailureReport) -> str:
    return f"【报表流水线告警】{report.dag_id} · {report.where} 失败 / task failed"


def failure_body(report: FailureReport) -> str:
    """The alert as HTML, from templates/alert.html.j2 (autoescaped)."""
    from wcreport.core.templating import render

    return render(__package__, "alert.html.j2", report=report)


def failure_text(report: FailureReport) -> str:
    """The alert as plain text, from templates/alert.txt.j2."""
    from wcreport.core.templating import render

    return render(__package__, "alert.txt.j2", report=report)


def notify_ops_of_failure(context: Mapping[str, Any]) -> None:
    """on_failure_callback: e-mail ops about the failed task. Never raises."""
    try:
        report = describe_failure(context)
        recipients = ops_recipients()
        if not recipients:
            log.error("Task %s.%s failed but no ops address is set (env %s or Variable %s): %s",
                      report.dag_id, report.where, OPS_EMAIL_ENV, OPS_EMAIL_VARIABLE, report.reason)
            return
        send_mail(recipients, failure_subject(report), failure_body(report), text_body=failure_text(report),
                  headers={"X-Wcreport-Alert": "task-failed", "X-Wcreport-Dag": report.dag_id})
        log.info("Failure alert for %s.%s sent to %s", report.dag_id, report.where, recipients)
    except Exception:
        log.exception("Could not send the failure alert")


# --- an alert from a task that goes on ------------------------------------
# Airflow 3.3 has no "succeeded with warnings" task state (skipped would skip the report
# downstream), so a fault of ours that must not stop the quarter is an error-level log
# line plus this mail.
@dataclass(frozen=True)
class OpsWarning:
    dag_id: str
    run_id: str
    task_id: str
    problem: str
    log_url: str | None


def describe_warning(problem: str, context: Mapping[str, Any] | None = None) -> OpsWarning:
    """The warning with the running task's names (from ``context``, else the current task's)."""
    if context is None:
        try:
            from airflow.sdk import get_current_context

            context = get_current_context()
        except Exception:  # outside a task (a test, the CLI): the names are unknown
            context = {}
    ti = context.get("ti") or context.get("task_instance")
    try:
        log_url = getattr(ti, "log_url", None)
    except Exception:  # log_url reads config; never let it break the alert
        log_url = None
    return OpsWarning(dag_id=str(getattr(ti, "dag_id", "?")), run_id=str(getattr(ti, "run_id", "?")),
                      task_id=str(getattr(ti, "task_id", "?")), problem=problem[:2000], log_url=log_url)


def notify_ops_of_problem(problem: object, context: Mapping[str, Any] | None = None) -> None:
    """E-mail ops about a fault of ours that the task works around (e.g. a missing OCR tool).

    The caller has logged it at error level. Never raises: the alert failing must not stop
    the quarter's report."""
    try:
        warning = describe_warning(str(problem), context)
        recipients = ops_recipients()
        if not recipients:
            log.error("Task %s.%s needs ops but no ops address is set (env %s or Variable %s): %s",
                      warning.dag_id, warning.task_id, OPS_EMAIL_ENV, OPS_EMAIL_VARIABLE, warning.problem)
            return
        from wcreport.core.templating import render

        send_mail(recipients, f"【报表流水线提醒】{warning.dag_id} · {warning.task_id} 需要管理员处理 / needs ops",
                  render(__package__, "warning.html.j2", report=warning),
                  text_body=render(__package__, "warning.txt.j2", report=warning),
                  headers={"X-Wcreport-Alert": "task-warning", "X-Wcreport-Dag": warning.dag_id})
        log.info("Ops alert for %s.%s sent to %s", warning.dag_id, warning.task_id, recipients)
    except Exception:
        log.exception("Could not send the ops alert")
