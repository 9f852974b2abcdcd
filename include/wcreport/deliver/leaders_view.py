"""Does a change alter what the leaders read? The rule that decides whether a correction is asked.

The content hash (``Consolidated.content_hash``) covers everything the pipeline knows about
a quarter, including how a rejection was worded, a superseded file's reason and which bytes a
unit's accepted file had. The leaders read less than that: each unit's status and lateness,
the texts under every task, the summary rows and the indicators. A correction (更正版N) is
asked for, and a rejected one is asked again, only when that part changes; a re-worded finding
or a unit resending the same words in a new file is not a reason to interrupt the clerk.

The comparison runs on ``Consolidated.snapshot()`` dicts, which the mail ledger keeps for every
mail and every review. A snapshot from before a field existed compares as changed (asking once
too often is safe; asking never is not).
"""
from __future__ import annotations

from typing import Any


def leaders_view(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The part of a ``Consolidated.snapshot()`` that the workbook's readers see."""
    units = snapshot.get("units", {})
    return {
        "units": {key: {"name": u.get("name"), "status": u.get("status"), "late": bool(u.get("late"))}
                  for key, u in units.items()},
        "texts": snapshot.get("texts", {}),
        "tasks": snapshot.get("tasks"),
        "indicators": snapshot.get("indicators", {}),
    }


def reads_the_same(previous: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """True when the leaders would read exactly the same in both versions (no snapshot: False)."""
    if not previous or "tasks" not in previous:
        return False
    return leaders_view(previous) == leaders_view(current)
