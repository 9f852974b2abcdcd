"""报送情况: every expected unit with its status, lateness, 盖章件, time received and warnings or reasons.

The file names (a machine column) sit right of the print area; a cell's text is cut to
what one row shows, so a printed cell never clips.
"""
from __future__ import annotations

from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from wcreport.core.labels import LATE_ZH, STAMPED_COLUMN_ZH, STAMPED_ZH, UNIT_STATUS_ZH, stamped_state
from wcreport.core.model import ManifestUnit
from wcreport.core.quarter import local_time
from wcreport.core.settings import settings
from wcreport.core.templating import date_zh
from wcreport.report.consolidate import Consolidated
from wcreport.report.layout import MAX_ROW_LINES, STATUS, page_scale, row_height
from wcreport.report.measure import line_count, wrap
from wcreport.report.sheets.common import header_row, merge, print_setup, set_widths, title_lines
from wcreport.report.styles import CENTER, NOTE, TEXT_MID, WARN, CellStyle, cell

SHEET = "报送情况"
HEADERS = ["序号", "单位", "报送状态", "是否逾期", STAMPED_COLUMN_ZH, "接收时间", "说明（警告或退回原因）", "报送文件"]


def fit_rows(text: str, width: float, more: str) -> str:
    """``text`` cut to what one row shows (ending in ``more``): a printed cell never clips."""
    if line_count(text, width) <= MAX_ROW_LINES:
        return text
    room = MAX_ROW_LINES - line_count(more, width)
    kept: list[str] = []
    for paragraph in text.split("\n"):
        lines = wrap(paragraph, width)[:room]
        kept.append("".join(lines))
        room -= len(lines)
        if room <= 0:
            break
    return "\n".join(kept) + more


def _local_time(stamp: str | None) -> str:
    value = local_time(stamp)
    return value.strftime("%Y-%m-%d %H:%M") if value else (stamp or "")


def write_status(wb: Workbook, c: Consolidated) -> None:
    ws = wb.create_sheet(SHEET)
    widths = STATUS.widths
    set_widths(ws, widths)
    ws.freeze_panes = "A4"
    rejected = len(c.units_with_status("rejected"))
    missing = len(c.units_with_status("missing"))
    left = (f"应报送{c.expected_units}个单位，已报送{c.submitted_units}个，未报送{missing}个，"
            f"退回{rejected}个，逾期{len(c.late_units)}个；报送截止：{date_zh(c.deadline)}")
    title_lines(ws, f"{c.title}——报送情况", left, f"填报日期：{date_zh(c.report_date())}", STATUS.printed)
    header_row(ws, HEADERS, widths, 3, STATUS.header_pt)
    for i, unit in enumerate(c.units, 4):
        row = _status_row(unit, i - 3, widths)
        # every cell of the row is measured: a short column (接收时间, 盖章件) wraps too
        ws.row_dimensions[i].height = row_height([(str(p.value), width) for p, width in zip(row, widths)])
        ws.append([cell(ws, p.value, p.style) for p in row])
    last = len(c.units) + 3
    note_width = sum(widths[:STATUS.printed])
    printed = get_column_letter(STATUS.printed)
    for j, warning in enumerate(c.warnings):
        r = len(c.units) + 5 + j
        ws.row_dimensions[r].height = row_height([(f"注：{warning}", note_width)])
        merge(ws, f"A{r}:{printed}{r}")
        if j == 0:
            ws.append([])
        ws.append([cell(ws, f"注：{warning}", NOTE)])
        last = r
    print_setup(ws, "3:3", page_scale(note_width), f"A1:{printed}{last}")


@dataclass(frozen=True)
class Printed:
    """One printed cell of a unit's row: its value and style."""

    value: str | int
    style: CellStyle


def _status_row(unit: ManifestUnit, number: int, widths: tuple[float, ...]) -> list[Printed]:
    """The row's cells in the order of ``HEADERS``."""
    note = fit_rows("\n".join([*unit.notes, *(f"退回：{r}" for r in unit.reasons), *unit.warnings]),
                    widths[6], "……（其余内容见该单位的反馈表）")
    file_name = fit_rows(unit.accepted_file or "\n".join(unit.files), widths[7], "……")
    return [Printed(number, CENTER), Printed(unit.unit_name, TEXT_MID),
            Printed(UNIT_STATUS_ZH[unit.status], CENTER if unit.status == "submitted" else WARN),
            Printed(LATE_ZH if unit.late else "", WARN if unit.late else CENTER),
            _stamped(unit), Printed(_local_time(unit.received_at), CENTER), Printed(note, TEXT_MID),
            Printed(file_name, TEXT_MID)]


def _stamped(unit: ManifestUnit) -> Printed:
    """盖章件: 已收到 / 未收到 / 未见公章 / 内容不一致 / 无法确认 / 无法读取 (core.labels.STAMPED_ZH)."""
    state = stamped_state(unit.stamped_copy, settings().stamped_agreement_min)
    return Printed(STAMPED_ZH[state], CENTER if state == "received" else WARN)
