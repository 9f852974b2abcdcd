"""Chinese labels for every status the pipeline writes: one map per kind of status.

The report workbook, the leaders' mail, the unit feedback page, the reminders and the
dashboard all show these words; keeping them here keeps them identical everywhere.
Keys are the values stored in JSON (``core.model``), so they must stay stable.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wcreport.core.model import StampedCopy, StampedCopySummary

# A unit's result for the quarter (``model.UnitStatus``).
UNIT_STATUS_ZH = {"submitted": "已报送", "missing": "未报送", "rejected": "已退回"}

# A mailed file whose sender the office's server did not vouch for as the unit it names
# (``flow.ingest_unit``): it waits for the clerk and never replaces the unit's file.
HELD_ZH = "待确认：发件人未经验证"

# One file in the inbox (``model.FileStatus``), as the unit's feedback page states it.
FILE_STATUS_ZH = {
    "accepted": "已接收",
    "rejected": "退回，请修改后重新报送",
    "superseded": "已被更新的文件取代",
    "ignored": "已忽略",
    "pending": "待处理",
    "held": HELD_ZH,
}

# One unit's part of one task, as the manifest's ``tasks`` map writes it (dashboard cells).
TASK_STATUS_ZH = {
    "accepted": "已通过",
    "warning": "通过（有警告）",
    "rejected": "已退回",
    "missing": "未报送",
    "unknown": "状态不明",
    "na": "不涉及",
}

# One numeric indicator against the pace the quarter asks for.
INDICATOR_STATUS_ZH = {"done": "已完成", "on_track": "进度正常", "in_progress": "进行中", "at_risk": "进度滞后",
                       "no_data": "未报数"}

# Why a unit gets a reminder (``reminders.ReminderKind``).
REMINDER_KIND_ZH = {"missing": "催报提醒", "rejected": "退回修改提醒", "stamped": "盖章件提醒"}

LATE_ZH = "逾期"

# The annual account (``report.year``): a task's or indicator's result for the year, how the
# year's value of an indicator is taken, and a task/unit/quarter cell without accepted words.
YEAR_VERDICT_ZH = {"done": "已完成", "not_done": "未完成", "in_progress": "进行中", "unknown": "无法判断"}
YEAR_RULE_ZH = {"cumulative": "累计", "point": "时点"}
YEAR_CELL_ZH = {"submitted": "", "silent": "（本季度未填写该项）", "missing": "（未报送）",
                "rejected": "（报表被退回，无采用内容）", "unavailable": "（该季度汇总结果缺失，内容无法列出）"}

# A unit's stamped copy (盖章件, ``ManifestUnit.stamped_copy``), keyed by ``stamped_state``.
STAMPED_ZH = {"received": "已收到", "missing": "未收到", "no_seal": "未见公章", "mismatch": "内容不一致",
              "unknown": "无法确认", "unreadable": "无法读取"}
STAMPED_COLUMN_ZH = "盖章件"


def stamped_state(copy: StampedCopy | StampedCopySummary | None, agreement_min: float) -> str:
    """A key of STAMPED_ZH for a unit's stamped copy (a StampedCopySummary or None).

    ``unknown``: a greyscale scan, the seal cannot be judged (a person checks);
    ``mismatch``: the copy's text agrees with the accepted data below ``agreement_min``;
    ``unknown`` too when nothing positive shows the copy is this unit's (``unit_confirmed``).
    """
    if copy is None:
        return "missing"
    if not copy.readable:
        return "unreadable"
    if copy.seal is False:
        return "no_seal"
    if copy.agreement is not None and copy.agreement < agreement_min:
        return "mismatch"
    return "unknown" if copy.seal is None or copy.unit_confirmed is False else "received"


def stamped_missing(copy: StampedCopy | StampedCopySummary | None) -> bool:
    """No usable stamped copy yet: none received, or none that could be read."""
    return copy is None or not copy.readable


_CELL_LEVEL = re.compile(r"^(工作表「[^」]*」)?[A-Z]{1,3}[0-9]+：")


def returned_summary(reasons: list[str]) -> str:
    """One short sentence for the leaders on why a unit's report was returned.

    Cell-level findings stay with the unit (feedback page) and the dashboard; a single
    file-level reason (encrypted, damaged …) is given as its first sentence.
    """
    if len(reasons) == 1 and not _CELL_LEVEL.match(reasons[0]):
        first = reasons[0].split("。")[0]
        return f"{first}，已退回该单位处理"
    return f"报表有{len(reasons)}处问题未通过校验，已退回该单位修改" if reasons else "报表未通过校验，已退回该单位修改"


def correction_note(accepted_on: str) -> str:
    """A unit whose newer file failed while its earlier accepted version stays (``accepted_on``: 3月28日)."""
    return f"更正件未通过，沿用{accepted_on}版本"


def held_note(path: str) -> str:
    """The leaders' note on a unit with a mailed file waiting for the clerk (``HELD_ZH``)."""
    return f"{HELD_ZH}：「{path}」未采用，待工作人员核实"


def label(labels: Mapping[str, str], status: str | None) -> str:
    """The Chinese label of ``status``; an unknown status is shown as it is."""
    if status is None:
        return ""
    return labels.get(status, status)
