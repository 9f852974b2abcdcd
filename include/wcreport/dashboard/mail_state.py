"""The quarter's mail on the 季度报送 page: what went to the leaders, and each correction's review.

Read from the mail ledger (``<output>/mail_ledger.json``, ``deliver.mail_ledger``) as plain
JSON, like the rest of the page reads manifests: cheap, never locking, never refusing to
show a page because the ledger is damaged (the page then says so). Links are output-relative
paths for the dashboard's download route and, for a review that waits, the path of its card
under Airflow's Required Actions.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wcreport.dashboard.times import beijing_time

LEDGER_NAME = "mail_ledger.json"
REPORT_DAG = "quarterly_report"
CARD_TASK = "review_correction"
REVIEW_STATE_ZH = {
    "pending": "等待审核",
    "sent": "已批准并发送",
    "rejected": "已退回（不发送）",
    "expired": "超时未答复（未发送）",
    "superseded": "已被新内容取代（未发送）",
}


@dataclass(frozen=True)
class SentMailLine:
    """One mail the SMTP server accepted."""

    sequence: int
    kind: str                       # original / correction
    subject: str
    sent_at: str                    # Beijing time, for the page
    to: list[str]
    cc: list[str]
    attachment: str
    workbook: str | None            # output-relative path of the kept workbook
    approved_by: str | None


@dataclass(frozen=True)
class ReviewLine:
    """One correction's review."""

    id: str
    state: str
    state_zh: str
    subject: str
    requested_at: str
    decided_at: str
    decided_by: str | None
    note: str
    content_hash: str
    workbook: str | None            # output-relative path of the workbook approval sends
    required_actions: str | None    # UI path of the card, while it waits
    notified: bool


@dataclass(frozen=True)
class MailState:
    sent: list[SentMailLine] = field(default_factory=list)
    reviews: list[ReviewLine] = field(default_factory=list)
    error: str | None = None

    @property
    def first(self) -> SentMailLine | None:
        return self.sent[0] if self.sent else None

    @property
    def corrections(self) -> list[SentMailLine]:
        return [m for m in self.sent if m.kind == "correction"]


def mail_state(output_root: Path, quarter: str) -> MailState:
    """The quarter's mail, newest review last; an unreadable ledger gives a state with ``error``."""
    path = Path(output_root) / LEDGER_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return MailState()
    except (OSError, ValueError) as exc:
        return MailState(error=f"邮件记录 {LEDGER_NAME} 无法读取：{str(exc)[:200]}")
    if not isinstance(data, dict) or not isinstance(data.get("sent"), list):
        return MailState(error=f"邮件记录 {LEDGER_NAME} 格式不对")
    sent = [e for e in data["sent"] if isinstance(e, dict) and e.get("quarter") == quarter]
    reviews = [r for r in data.get("reviews") or [] if isinstance(r, dict) and r.get("quarter") == quarter]
    return MailState(sent=[_sent_line(e, output_root) for e in sent],
                     reviews=[_review_line(r, reviews, output_root) for r in reviews])


def _sent_line(entry: dict[str, Any], root: Path) -> SentMailLine:
    return SentMailLine(
        sequence=int(entry.get("sequence") or 0), kind=str(entry.get("kind") or ""),
        subject=str(entry.get("subject") or ""), sent_at=beijing_time(entry.get("sent_at")),
        to=[str(a) for a in entry.get("to") or []], cc=[str(a) for a in entry.get("cc") or []],
        attachment=str(entry.get("attachment") or ""), workbook=_relative(entry.get("kept_as"), root),
        approved_by=entry.get("approved_by"))


def _review_line(review: dict[str, Any], quarter_reviews: list[dict[str, Any]], root: Path) -> ReviewLine:
    state = str(review.get("state") or "")
    return ReviewLine(
        id=str(review.get("id") or ""), state=state, state_zh=REVIEW_STATE_ZH.get(state, state),
        subject=str(review.get("subject") or ""), requested_at=beijing_time(review.get("requested_at")),
        decided_at=beijing_time(review.get("decided_at")), decided_by=review.get("decided_by"),
        note=str(review.get("note") or ""), content_hash=str(review.get("content_hash") or ""),
        workbook=_relative(review.get("workbook"), root),
        required_actions=_card_path(review, quarter_reviews) if state == "pending" else None,
        notified=bool(review.get("notified_at")))


def _card_path(review: dict[str, Any], quarter_reviews: list[dict[str, Any]]) -> str | None:
    """The card of the last run that asked: its map index is the review's place among that run's requests."""
    runs = review.get("asked_in") or []
    if not runs:
        return None
    run = runs[-1]
    asked = [r.get("id") for r in quarter_reviews if run in (r.get("asked_in") or [])]
    return (f"/dags/{REPORT_DAG}/runs/{quote(str(run), safe='')}/tasks/{CARD_TASK}/mapped/"
            f"{asked.index(review.get('id'))}/required_actions")


def _relative(path: object, root: Path) -> str | None:
    if not path:
        return None
    try:
        return Path(str(path)).resolve().relative_to(Path(root).resolve()).as_posix()
    except (OSError, ValueError):
        return None
