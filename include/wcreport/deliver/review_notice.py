"""The mail that tells the clerk a correction waits for approval (sent when the card starts waiting).

Once per review: the ledger records ``notified_at`` (``deliver.review.mark_notified``), so a
retried or cleared review task does not mail again. The clerk's addresses are the Airflow
Variable ``report_clerk_email`` (several separated by commas or semicolons), else the
environment variable ``REPORT_CLERK_EMAIL``; the text is ``templates/review_waiting.*.j2``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wcreport.core.settings import settings
from wcreport.core.templating import render
from wcreport.deliver.address_book import addresses_in
from wcreport.deliver.compose import correction_number
from wcreport.deliver.mail_ledger import Review

CLERK_EMAIL_VARIABLE = "report_clerk_email"
CLERK_EMAIL_ENV = "REPORT_CLERK_EMAIL"
REVIEW_ID_HEADER = "X-Report-Review-Id"


@dataclass(frozen=True)
class ReviewNotice:
    """The notifier mail, composed."""

    subject: str
    html: str
    text: str
    headers: dict[str, str]


def clerk_addresses(variable: str | None) -> list[str]:
    """The Variable's addresses, else the environment's; [] when neither names one."""
    return addresses_in(variable) or addresses_in(settings().clerk_email)


def review_notice(review: Review, *, required_actions: str, workbook_link: str) -> ReviewNotice:
    """The mail for review ``review``: what waits, the link to Required Actions and the workbook."""
    context = {"r": review, "correction_no": correction_number(review["sequence"]),
               "required_actions": required_actions, "workbook_link": workbook_link,
               "workbook_name": Path(review["workbook"]).name}
    return ReviewNotice(subject=render(__package__, "review_waiting_subject.txt.j2", **context).strip(),
                        html=render(__package__, "review_waiting.html.j2", **context),
                        text=render(__package__, "review_waiting.txt.j2", **context),
                        headers={REVIEW_ID_HEADER: review["id"]})
