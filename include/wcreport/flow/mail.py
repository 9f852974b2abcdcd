"""Step 5: the leaders' mail. The quarter's first report goes out unattended (``send``); a
changed report is a correction (更正版N) that waits for the clerk's review (``plan_mail``,
then ``send_correction`` with the clerk's answer); unchanged or rejected content sends nothing."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from wcreport.core.settings import QuarterPaths
from wcreport.deliver.report_mail import send_report_once
from wcreport.deliver.review import answer_review, open_review, review_request
from wcreport.deliver.smtp import SmtpSettings
from wcreport.flow.run import QuarterRun
from wcreport.flow.summaries import MailPlan, MergeSummary, ReviewRequest, StageOutcome
from wcreport.report.consolidate import Consolidated

log = logging.getLogger(__name__)

# The task ids ``plan_mail`` chooses between.
SEND_TASK = "send"
REVIEW_TASK = "review_correction"
DASHBOARD_FILES = "/wcreport/files/"    # the dashboard plugin's download route (output-relative paths)


class StaleApproval(RuntimeError):
    """The clerk approved content that is no longer the quarter's current content."""


def read_consolidated(path: str | Path) -> Consolidated:
    return Consolidated.model_validate_json(Path(path).read_text(encoding="utf-8"))


def plan_mail(run: QuarterRun, merged: MergeSummary, *, requested_by: str = "", base_url: str = "",
              timeout_hours: float | None = None, send_on_timeout: bool = False) -> MailPlan:
    """Which mail task runs next (``next``: a task id or None) and, for a correction, its review.

    A correction registers the quarter's one pending review (``deliver.review.open_review``) and
    carries the approval request's subject and body (``hitl``)."""
    paths, programme = run.paths, run.programme
    plan = open_review(read_consolidated(merged["consolidated"]), Path(merged["report"]), paths.mail_ledger,
                       paths.output, requested_by=requested_by)
    if plan["action"] == "send":
        return _mail_plan(plan, SEND_TASK)
    if plan["action"] == "none":
        log.info("Mail for %s: nothing to send (%s)", paths.quarter, plan["reason"])
        return _mail_plan(plan, None)
    subject, body = review_request(plan, programme, link=download_link(paths, Path(plan["workbook"]), base_url),
                                   timeout_hours=timeout_hours, send_on_timeout=send_on_timeout)
    log.info("Mail for %s: correction %s waits for approval: %s", paths.quarter, plan["id"], plan["changes"])
    return _mail_plan(plan, REVIEW_TASK, hitl=ReviewRequest(subject=subject, body=body))


def _mail_plan(plan: dict[str, Any], next_task: str | None, **extra: Any) -> MailPlan:
    """The stage's plan with the flow's keys added (``deliver.mail`` returns plain dicts)."""
    return cast(MailPlan, {**plan, "next": next_task, **extra})


def download_link(paths: QuarterPaths, file: Path, base_url: str = "") -> str:
    """The file through the dashboard's download route, on the API server's base URL if known."""
    try:
        relative = file.resolve().relative_to(paths.output_root.resolve())
    except ValueError:
        return ""
    return f"{base_url.rstrip('/')}{DASHBOARD_FILES}{quote(relative.as_posix())}"


def send(run: QuarterRun, merged: MergeSummary, smtp: SmtpSettings) -> StageOutcome:
    """E-mail the quarter's first report, once (a correction goes through the review)."""
    paths, programme = run.paths, run.programme
    outcome = send_report_once(read_consolidated(merged["consolidated"]), Path(merged["report"]), programme,
                               paths.mail_ledger, smtp, keep_dir=paths.output / "sent")
    log.info("Mail for %s: %s", paths.quarter, outcome)
    return outcome


def send_correction(run: QuarterRun, plan: MailPlan, approved: bool, responder: str | None,
                    smtp: SmtpSettings | None) -> StageOutcome:
    """Act on the clerk's answer: send the approved correction once, or record the rejection."""
    paths, programme = run.paths, run.programme
    current = read_consolidated(paths.consolidated).content_hash()
    outcome = answer_review(plan["id"], approved, programme, paths.mail_ledger, smtp if approved else None,
                            current_hash=current, responder=responder, keep_dir=paths.output / "sent")
    log.info("Correction %s for %s answered %s by %s: %s", plan["id"], paths.quarter,
             "send" if approved else "hold", responder or "timeout", outcome)
    if outcome["outcome"] == "stale":
        raise StaleApproval(f"correction {plan['id']} was approved, but the report changed again before it was "
                            "sent; nothing was sent. Clear plan_mail (with downstream) to ask for the new content.")
    return outcome
