"""Step 5: the leaders' mail. The quarter's first report goes out unattended (``send``); a
changed report is a correction (更正版N) that waits for the clerk's review (``plan_mail``,
then ``send_correction`` with the clerk's answer); unchanged or rejected content sends nothing."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict, cast
from urllib.parse import quote

from wcreport.core.settings import QuarterPaths
from wcreport.deliver.mail_ledger import load_ledger, runs_requests
from wcreport.deliver.report_mail import send_report_once
from wcreport.deliver.review import answer_review, current_request, mark_notified, open_review, review_request
from wcreport.deliver.review_notice import (
    CLERK_EMAIL_ENV,
    CLERK_EMAIL_VARIABLE,
    ReviewNotice,
    clerk_addresses,
    review_notice,
)
from wcreport.deliver.smtp import SmtpSettings
from wcreport.flow.run import QuarterRun
from wcreport.flow.summaries import MailPlan, MergeSummary, ReviewRequest, StageOutcome
from wcreport.report.consolidate import Consolidated

log = logging.getLogger(__name__)

# The task ids ``plan_mail`` chooses between (``review_requests`` maps the cards, ``review_correction``).
SEND_TASK = "send"
REVIEW_TASK = "review_requests"
DASHBOARD_FILES = "/wcreport/files/"    # the dashboard plugin's download route (output-relative paths)


class CardRef(TypedDict):
    """One approval card of a run: a mapped ``review_correction`` instance, in the order the run asked.

    A run asks again when a unit's rerun changes the content; each request gets its own
    instance (Airflow keeps the first try's card text for a cleared instance), and every
    instance but the last returns at once, asking nothing."""

    review_id: str
    current: bool


class CardShown(TypedDict):
    """Which request the card the clerk answered showed (``review_correction``'s result carries it).

    A review's content never changes (new content is a new review), so its id names the content."""

    review_id: str


NOT_CURRENT_ZH = "所答复的审核单（{shown}）不是当前待审核的内容（{current}），未发送任何邮件"
NOT_ASKED_ZH = "审核单 {current} 已不再等待审核（已处理或已被新内容取代），本次未发送任何邮件"


def read_consolidated(path: str | Path) -> Consolidated:
    return Consolidated.model_validate_json(Path(path).read_text(encoding="utf-8"))


def plan_mail(run: QuarterRun, merged: MergeSummary, *, requested_by: str = "") -> MailPlan:
    """Which mail task runs next (``next``: a task id or None) and, for a correction, its review.

    A correction registers the quarter's one pending review (``deliver.review.open_review``);
    the clerk's card is built from it when the review task starts waiting (``review_card``)."""
    paths = run.paths
    plan = open_review(read_consolidated(merged["consolidated"]), Path(merged["report"]), paths.mail_ledger,
                       paths.output, requested_by=requested_by)
    if plan["action"] == "send":
        return _mail_plan(plan, SEND_TASK)
    if plan["action"] == "none":
        log.info("Mail for %s: nothing to send (%s)", paths.quarter, plan["reason"])
        return _mail_plan(plan, None)
    log.info("Mail for %s: correction %s waits for approval: %s", paths.quarter, plan["id"], plan["changes"])
    return _mail_plan(plan, REVIEW_TASK)


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


def review_cards(run: QuarterRun, run_id: str) -> list[CardRef]:
    """The run's approval cards, oldest first; only the last one that still waits is current."""
    requests = runs_requests(load_ledger(run.paths.mail_ledger), str(run.paths.quarter), run_id)
    last = len(requests) - 1
    return [CardRef(review_id=r["id"], current=i == last and r["state"] == "pending")
            for i, r in enumerate(requests)]


def review_card(run: QuarterRun, review_id: str, *, base_url: str = "", timeout_hours: float | None = None,
                send_on_timeout: bool = False) -> ReviewRequest | None:
    """The card for review ``review_id``, built now from the ledger; None if it no longer waits."""
    paths = run.paths
    review = current_request(paths.mail_ledger, review_id)
    if review is None:
        return None
    subject, body = review_request(review, run.programme, link=download_link(paths, Path(review["workbook"]),
                                                                            base_url),
                                   timeout_hours=timeout_hours, send_on_timeout=send_on_timeout)
    return ReviewRequest(subject=subject, body=body)


def notify_clerk(run: QuarterRun, review_id: str, required_actions: str, clerk_variable: str | None,
                 send_mail: Callable[[list[str], ReviewNotice], None], *, base_url: str = "") -> str:
    """Tell the clerk review ``review_id`` waits, once per review: ``sent``, ``already``, ``gone``
    (no longer waits) or ``no_address``."""
    paths = run.paths
    review = current_request(paths.mail_ledger, review_id)
    if review is None:
        return "gone"
    if review.get("notified_at"):
        return "already"
    to = clerk_addresses(clerk_variable)
    if not to:
        log.warning("Correction %s waits, but no clerk address is set (Variable %s or $%s): nobody was mailed",
                    review_id, CLERK_EMAIL_VARIABLE, CLERK_EMAIL_ENV)
        return "no_address"
    notice = review_notice(review, required_actions=required_actions,
                           workbook_link=download_link(paths, Path(review["workbook"]), base_url))
    send_mail(to, notice)
    mark_notified(paths.mail_ledger, review_id)
    log.info("Correction %s waits: the clerk (%s) was mailed", review_id, ", ".join(to))
    return "sent"


def nothing_asked(run: QuarterRun, plan: MailPlan) -> StageOutcome:
    """No card of the run asked about the current request (it was answered or replaced meanwhile)."""
    log.info("Correction %s for %s: no card asked about it in this run; nothing sent", plan["id"], run.paths.quarter)
    return {"review_id": plan["id"], "sent": False, "outcome": "not_asked",
            "message": NOT_ASKED_ZH.format(current=plan["id"])}


def send_correction(run: QuarterRun, plan: MailPlan, approved: bool, responder: str | None,
                    smtp: SmtpSettings | None, shown: CardShown | None = None) -> StageOutcome:
    """Act on the clerk's answer: send the approved correction once, or record the rejection.

    ``shown`` is what the answered card showed: an answer to any other request than the
    current one sends nothing and says so (the current review keeps waiting for its own card).
    """
    paths, programme = run.paths, run.programme
    if shown is not None and shown["review_id"] != plan["id"]:
        message = NOT_CURRENT_ZH.format(shown=shown["review_id"], current=plan["id"])
        log.warning("Correction %s for %s: the answered card was %s; nothing sent", plan["id"], paths.quarter,
                    shown["review_id"])
        return {"review_id": plan["id"], "answered": shown["review_id"], "sent": False, "outcome": "not_current",
                "message": message}
    consolidated = read_consolidated(paths.consolidated)
    outcome = answer_review(plan["id"], approved, programme, paths.mail_ledger, smtp if approved else None,
                            current_hash=consolidated.content_hash(), current_snapshot=consolidated.snapshot(),
                            responder=responder, keep_dir=paths.output / "sent")
    log.info("Correction %s for %s answered %s by %s: %s", plan["id"], paths.quarter,
             "send" if approved else "hold", responder or "timeout", outcome)
    if outcome["outcome"] == "stale":
        log.warning("Correction %s was approved, but the report changed again before it was sent; nothing was "
                    "sent. The new content is asked for by the next run (or clear plan_mail with downstream).",
                    plan["id"])
        outcome["message"] = outcome.get("note", "")
    return outcome
