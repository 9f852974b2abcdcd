"""What changed between two versions of the quarter's report: the lines of a correction's 更正说明.

Python decides *what* changed (units, the summary's tasks, indicators), comparing two
``Consolidated.snapshot()`` dicts; the wording of each line is a macro in
``templates/report_mail_parts.txt.j2``.
"""
from __future__ import annotations

from typing import Any

from wcreport.core.labels import INDICATOR_STATUS_ZH, LATE_ZH
from wcreport.core.templating import number
from wcreport.deliver.compose import mail_text


def describe_changes(previous: dict, current: dict) -> list[str]:
    """Chinese sentences: what differs between two ``Consolidated.snapshot()`` dicts."""
    lines = _unit_changes(previous, current)
    lines += _task_changes(previous, current)
    lines += _indicator_changes(previous, current)
    if not lines:
        lines.append(mail_text("nothing_visible"))
    return lines


def _unit_changes(previous: dict, current: dict) -> list[str]:
    lines: list[str] = []
    named: set[str] = set()             # units that already have a line
    before, after = previous.get("units", {}), current.get("units", {})
    for key, now in after.items():
        was = before.get(key, {})
        name = now.get("name", key)
        if now["status"] == "submitted" and was.get("status") != "submitted":
            line = mail_text("unit_submitted", name, LATE_ZH if now.get("late") else "")
        elif now["status"] == "submitted" and was.get("sha256") != now.get("sha256"):
            line = mail_text("unit_corrected", name)
        elif now["status"] == "rejected" and was.get("status") != "rejected":
            line = mail_text("unit_rejected", name, was.get("status") == "submitted")
        elif now["status"] == "missing" and was.get("status") == "submitted":
            line = mail_text("unit_withdrawn", name)
        else:
            continue
        lines.append(line)
        named.add(name)
    texts_before, texts_after = previous.get("texts", {}), current.get("texts", {})
    changed_units = {k for k in set(texts_before) | set(texts_after)
                     if texts_before.get(k) != texts_after.get(k)}
    mentioned = {after[k].get("name") for k in after}
    for key in sorted(changed_units):
        name = after.get(key, {}).get("name", key)
        if name not in named and name in mentioned:
            lines.append(mail_text("unit_text_changed", name))
            named.add(name)
    return lines


def _task_changes(previous: dict, current: dict) -> list[str]:
    """Tasks whose text in the summary changed (snapshots before this field have none)."""
    before, after = previous.get("tasks"), current.get("tasks", {})
    if before is None:
        return []
    return [mail_text("task_changed", seq, now["name"])
            for seq, now in after.items() if before.get(seq, {}).get("digest") != now.get("digest")]


def _indicator_changes(previous: dict, current: dict) -> list[str]:
    lines: list[str] = []
    ind_before, ind_after = previous.get("indicators", {}), current.get("indicators", {})
    for key, now in ind_after.items():
        was = ind_before.get(key, {})
        status = ""
        if was.get("status") and was.get("status") != now.get("status"):
            status = mail_text("status_change", _status(was.get("status")), _status(now.get("status")))
        if was.get("value") != now.get("value"):
            lines.append(mail_text("indicator_value", now["name"], _num(was.get("value")), _num(now.get("value")),
                                   now.get("measure", ""), status))
        elif status:
            lines.append(mail_text("indicator_status", now["name"], status))
    return lines


def _num(value: Any) -> str:
    return number(value, empty=INDICATOR_STATUS_ZH["no_data"])


def _status(status: str | None) -> str:
    return INDICATOR_STATUS_ZH.get(status or "", status or "")
