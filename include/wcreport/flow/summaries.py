"""What the steps hand on as XCom: small JSON dicts, typed here so producer and readers agree.

Airflow stores them as plain dicts; these types only tell mypy (and the reader) which keys a
step returns and the next one reads. Dicts made by the stages (``deliver``, ``validate``) pass
through with the keys those stages document.
"""
from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from wcreport.core.model import UnitStatus

# A stage's own result dict, passed on as it is (e.g. ``deliver.mail.send_report_once``'s outcome).
StageOutcome = dict[str, Any]


class UnitSummary(TypedDict):
    """``ingest_unit``'s result for one unit (the grid's label is made from it)."""

    unit: str
    unit_name: str
    status: UnitStatus
    files: int
    warnings: int
    feedback: str | None            # the unit's newest feedback page, relative to the output root
    data_docs: str | None           # its Data Docs page, relative to the output root
    feedback_mail: StageOutcome     # ``deliver.unit_feedback``'s outcome, or ``{"not_sent": reason}``


class MergeSummary(TypedDict):
    """``merge``'s result: where the quarter's files are, and the units per status."""

    manifest: str
    report: str
    consolidated: str
    units: dict[UnitStatus, int]    # units per status


class ReviewRequest(TypedDict):
    """The clerk's approval request for a correction (the HITL task's subject and body)."""

    subject: str
    body: str


class MailPlan(TypedDict):
    """``plan_mail``'s result: ``deliver.mail.open_review``'s plan (or review), and what runs next.

    ``action`` is ``send``, ``none`` or ``review``; a review also has ``id``, ``changes`` and
    ``workbook`` (see ``open_review``) and the request to the clerk (``hitl``)."""

    action: str
    next: str | None                # the task id plan_mail branches to, None for no mail
    reason: NotRequired[str]
    id: NotRequired[str]
    workbook: NotRequired[str]
    changes: NotRequired[list[str]]
    hitl: NotRequired[ReviewRequest]
