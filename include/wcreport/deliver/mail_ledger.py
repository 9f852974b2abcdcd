"""The mail ledger: every report mail the SMTP server accepted, and every review of a correction.

One JSON file (``<output>/mail_ledger.json``), written atomically and changed only under
an exclusive lock (``locked_ledger``), so concurrent runs neither both send nor both ask.
The records are typed here (``MailLedger``, ``SentMail``, ``Review``) as the JSON keeps
them: plain dicts on disk, so ledgers written before these types still load, and keys
a record does not declare (from older or newer versions) are kept as they are.

A ledger that lacks mail of which a copy was kept (``deliver.sent_copies``) is refused:
the next mail would be misnumbered.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Required, TypedDict

from wcreport.core.io import DamagedStateError, locked_json, read_json
from wcreport.deliver.leaders_view import reads_the_same
from wcreport.deliver.sent_copies import ledger_fix, missing_entries

LEDGER_VERSION = 2                  # version 1 had no reviews

MailKind = Literal["original", "correction"]
ReviewState = Literal["pending", "sent", "rejected", "expired", "superseded"]


class SentMail(TypedDict, total=False):
    """One report mail the SMTP server accepted (``ledger["sent"]``, in sending order)."""

    quarter: Required[str]
    content_hash: Required[str]     # Consolidated.content_hash() of what was sent
    kind: MailKind
    sequence: int                   # the quarter's mail number: 1 the original, N + 1 for 更正版N
    subject: str
    sent_at: str                    # ISO time, UTC
    message_id: str
    to: list[str]
    cc: list[str]
    attachment: str                 # the file name the leaders saw
    kept_as: str | None             # the workbook kept under <quarter>/sent/
    kept_message: str | None        # the .eml kept beside it (deliver.sent_copies)
    changes: list[str]              # the "what changed" lines of a correction
    snapshot: dict[str, Any]        # Consolidated.snapshot(): what the next correction is compared with
    review_id: str                  # a correction: the review that approved it
    approved_by: str
    rebuilt_from: str               # an entry written from a kept copy (``wcreport ledger rebuild``)


class Review(TypedDict, total=False):
    """The clerk's review of one correction (``ledger["reviews"]``); one *pending* per quarter."""

    id: Required[str]               # <quarter>-R<n>
    quarter: Required[str]
    content_hash: Required[str]     # the content this review is about
    state: Required[ReviewState]
    base_sequence: int              # mails sent when the review opened: it corrects mail number base_sequence
    sequence: int                   # the number the correction gets if sent
    requested_at: str
    requested_by: str
    asked_in: list[str]             # the runs that asked the clerk about this review, in order
    notified_at: str                # when the clerk was mailed that the request waits (once per review)
    superseded: str | None          # the id of the review this one replaced
    subject: str                    # the correction's subject (【更正版N】…)
    changes: list[str]
    snapshot: dict[str, Any]        # Consolidated.snapshot() of the reviewed content (deliver.leaders_view)
    workbook: str                   # the frozen workbook that approval sends
    consolidated: str               # the frozen model it was made from
    last_subject: str               # the mail it corrects
    last_sent_at: str
    decided_at: str
    decided_by: str | None          # who answered; （超时未答复） when the timeout did
    note: str                       # why the review ended as it did (shown to the clerk)


class MailLedger(TypedDict):
    """The whole file."""

    version: int
    sent: list[SentMail]
    reviews: list[Review]


def empty_ledger() -> MailLedger:
    return {"version": LEDGER_VERSION, "sent": [], "reviews": []}


def load_ledger(path: Path) -> MailLedger:
    """The ledger as it is now (no lock: for reading only)."""
    data = read_json(path, empty_ledger, fix=ledger_fix(path))
    check_ledger(data, path)
    return data


@contextlib.contextmanager
def locked_ledger(path: Path) -> Iterator[MailLedger]:
    """The ledger under an exclusive lock; saved when the block ends without an exception."""
    path = Path(path)
    with locked_json(path, empty_ledger, fix=ledger_fix(path)) as data:
        check_ledger(data, path)
        yield data


def check_ledger(data: Any, path: Path) -> None:
    """Refuse what is not a ledger, upgrade a version 1 ledger in place."""
    if not isinstance(data, dict) or not isinstance(data.get("sent"), list):
        raise DamagedStateError(f"mail ledger {path} is not a ledger file", ledger_fix(path))
    if not isinstance(data.setdefault("reviews", []), list):   # version 1 ledgers have no reviews
        raise DamagedStateError(f"mail ledger {path}: 'reviews' is not a list", ledger_fix(path))
    data["version"] = LEDGER_VERSION
    _check_against_sent_copies(data, path)


def _check_against_sent_copies(data: MailLedger, path: Path) -> None:
    """Refuse a ledger that lacks mail we kept copies of: the next mail would be misnumbered."""
    missing = missing_entries(data, path.parent)
    if not missing:
        return
    state = "is missing" if not path.exists() else "does not list every report mail that was sent"
    raise DamagedStateError(f"mail ledger {path} {state}; {len(missing)} kept cop(ies) of sent mail say "
                            f"otherwise: {missing[:5]}. Nothing was sent", ledger_fix(path))


def sent_for_quarter(ledger: MailLedger, quarter: str) -> list[SentMail]:
    return [e for e in ledger["sent"] if e.get("quarter") == quarter]


def reviews_for_quarter(ledger: MailLedger, quarter: str) -> list[Review]:
    return [r for r in ledger.get("reviews", []) if r.get("quarter") == quarter]


def pending_review(ledger: MailLedger, quarter: str) -> Review | None:
    """The quarter's one review waiting for an answer, if any."""
    return next((r for r in reviews_for_quarter(ledger, quarter) if r["state"] == "pending"), None)


def rejection(ledger: MailLedger, quarter: str, content_hash: str, base: int,
              snapshot: dict[str, Any] | None = None) -> Review | None:
    """A rejection of this content, or of content the leaders read the same, as a correction of
    the same last mail (``base`` mails sent)."""
    return next((r for r in reviews_for_quarter(ledger, quarter)
                 if r["state"] == "rejected" and r["base_sequence"] == base
                 and (r["content_hash"] == content_hash
                      or (snapshot is not None and reads_the_same(r.get("snapshot"), snapshot)))), None)


def runs_requests(ledger: MailLedger, quarter: str, run_id: str) -> list[Review]:
    """The reviews one DAG run asked the clerk about, oldest first: its approval cards."""
    return [r for r in reviews_for_quarter(ledger, quarter) if run_id in r.get("asked_in", [])]


def sent_corrections(ledger: MailLedger, quarter: str) -> int:
    """How many corrections (更正版) of the quarter the SMTP server accepted."""
    return sum(1 for e in sent_for_quarter(ledger, quarter) if e.get("kind") == "correction")


def now() -> str:
    """A ledger time stamp: ISO, UTC, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
