"""The consolidated quarterly workbook: what the clerk forwards and the leaders print.

Sheets (A4 landscape at a scale that fits the table's width, header row repeated on
every page, wrapped text, a CJK font, frozen header; geometry in ``report.layout``):

* 汇总表   the notice's attached form for the whole zone, one task per block of rows.
           Row heights follow the wrapped text. A task's block starts on a new page
           when it would not fit the rest of the current one; a block taller than a
           page continues on the next with 序号/实事名称 repeated (实事名称 marked （续）),
           its text split between rows with （接下行）/（接上行）. 序号, 实事名称, 责任单位 and
           完成时限 are merged over each page's part of a block.
* 报送情况 every expected unit: status, late, time received, warnings/reasons; the
           file names (machine column) sit right of the print area.
* 指标进度 every numeric target with reported value, % of target, what the quarter asks
           for, status and the rule it was judged by (判断依据); the bar chart of % of
           target prints on a page of its own.
* 明细     the long table for analysis (header in row 1, auto-filter, SHA-256 and source
           of every text); in the file but not printed (its print area is one empty
           cell). Text longer than a cell continues in the next row, numbered in 分段.

The workbook is written with openpyxl's write-only mode, so memory stays flat for
thousands of units. Every piece of unit text goes through ``safe_cells.set_text``.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
import weakref
from copy import copy
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from wcreport.core.labels import INDICATOR_STATUS_ZH, LATE_ZH, STAMPED_COLUMN_ZH, STAMPED_ZH, UNIT_STATUS_ZH, stamped_state
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.core.settings import settings
from wcreport.report.consolidate import TZ, Consolidated, report_title
from wcreport.report.layout import (
    MARGIN_BOTTOM_IN,
    MARGIN_SIDE_IN,
    MARGIN_TOP_IN,
    MAX_ROW_LINES,
    MAX_ROW_PT,
    UNIT_MM,
    Pages,
    height_for_lines,
    line_count,
    lines_in,
    min_width_for,
    page_body_pt,
    page_scale,
    quick_lines,
    row_height,
    text_mm,
    usable_mm,
    wrap,
    wrap_marked,
)
from wcreport.report.safe_cells import CELL_LIMIT, clean_text, set_text, split_for_cells, utf16_len

SHEETS = ("汇总表", "报送情况", "指标进度", "明细")
FONT_NAME = "宋体"          # what Chinese offices have; LibreOffice maps it to a CJK font
BODY_PT = 11
CONT_NEXT = "（接下行）"
CONT_PREV = "（接上行）"


def report_filename(programme: Programme, quarter: Quarter | str) -> str:
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(str(quarter))
    name = report_title(programme, q)
    return "".join("_" if ch in '\\/:*?"<>|' else ch for ch in name) + ".xlsx"


# --- styles -----------------------------------------------------------------
_thin = Side(style="thin", color="000000")


@dataclass(frozen=True)
class _Style:
    font: Font
    alignment: Alignment
    border: Border | None = None
    fill: PatternFill | None = None
    number_format: str | None = None


_BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
TITLE = _Style(Font(name=FONT_NAME, size=18, bold=True),
               Alignment(horizontal="center", vertical="center"))
SUBTITLE = _Style(Font(name=FONT_NAME, size=BODY_PT), Alignment(horizontal="left", vertical="center"))
SUBTITLE_R = _Style(Font(name=FONT_NAME, size=BODY_PT), Alignment(horizontal="right", vertical="center"))
HEADER = _Style(Font(name=FONT_NAME, size=BODY_PT, bold=True),
                Alignment(horizontal="center", vertical="center", wrap_text=True), _BORDER,
                PatternFill("solid", fgColor="D9E1F2"))
CENTER = _Style(Font(name=FONT_NAME, size=BODY_PT),
                Alignment(horizontal="center", vertical="center", wrap_text=True), _BORDER)
TEXT = _Style(Font(name=FONT_NAME, size=BODY_PT),
              Alignment(horizontal="left", vertical="top", wrap_text=True), _BORDER)
TEXT_MID = _Style(Font(name=FONT_NAME, size=BODY_PT),
                  Alignment(horizontal="left", vertical="center", wrap_text=True), _BORDER)
NUMBER = _Style(Font(name=FONT_NAME, size=BODY_PT), Alignment(horizontal="right", vertical="center"),
                _BORDER, number_format="#,##0.##")
PERCENT = _Style(Font(name=FONT_NAME, size=BODY_PT), Alignment(horizontal="right", vertical="center"),
                 _BORDER, number_format="0.0%")
WARN = _Style(Font(name=FONT_NAME, size=BODY_PT, color="C00000", bold=True),
              Alignment(horizontal="center", vertical="center", wrap_text=True), _BORDER)
HASH = _Style(Font(name="Consolas", size=8), Alignment(horizontal="left", vertical="center"), _BORDER)
NOTE = _Style(Font(name=FONT_NAME, size=10, italic=True),
              Alignment(horizontal="left", vertical="top", wrap_text=True))


def _cell(ws, value, style: _Style) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws)
    if isinstance(value, str):
        if value:
            set_text(cell, value)   # sets quotePrefix on the cell's own style array
    else:
        cell.value = value
    template = _style_array(ws.parent, style)
    if cell.has_style:            # quotePrefix set above: keep it
        quote = cell._style.quotePrefix
        cell._style = copy(template)
        cell._style.quotePrefix = quote
    else:
        cell._style = copy(template)
    return cell


_STYLE_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _style_array(workbook, style: _Style) -> StyleArray:
    """The style's index array in this workbook, registered once.

    Assigning font/border/fill per cell makes openpyxl hash the style objects for
    every cell, which dominates the time for a few hundred thousand cells.
    """
    per_book = _STYLE_CACHE.setdefault(workbook, {})
    found = per_book.get(id(style))     # styles are module constants; hashing them is slow
    if found is None:
        cell = WriteOnlyCell(_Parent(workbook))
        cell.font = style.font
        cell.alignment = style.alignment
        if style.border is not None:
            cell.border = style.border
        if style.fill is not None:
            cell.fill = style.fill
        if style.number_format:
            cell.number_format = style.number_format
        found = per_book[id(style)] = copy(cell._style)
    return found


class _Parent:
    """Just enough of a worksheet for openpyxl's style descriptors (they use .parent)."""

    def __init__(self, workbook):
        self.parent = workbook


# --- layout helpers -----------------------------------------------------------
def _row_height(cells: list[tuple[str, float]], minimum: float = 22.0) -> float:
    return row_height(cells, minimum)


class TextFlow:
    """The visual lines of a column's paragraphs, handed out row by row.

    A row ends after whole paragraphs where it can (a unit's text starts on a fresh row
    rather than mid-sentence); a paragraph that must continue in the next row ends with
    （接下行）, and its rest starts with （接上行）. Each row's text is re-measured, so
    the markers are part of the height.
    """

    def __init__(self, paragraphs: list[str], width: float) -> None:
        self.width = width
        # (paragraph index, line within the paragraph, text, lines of the whole paragraph,
        #  whether the line follows a line break inside the paragraph)
        self.lines: list[tuple[int, int, str, int, bool]] = []
        for p, paragraph in enumerate(paragraphs):
            wrapped = wrap_marked(paragraph, width)
            self.lines += [(p, i, text, len(wrapped), hard) for i, (text, hard) in enumerate(wrapped)]
        self.pos = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.lines)

    def take(self, max_lines: int, room: float | None = None) -> tuple[str, int] | None:
        """Text and wrapped lines of one row of at most ``max_lines`` lines; None when nothing fits.

        ``room`` (pt) is what is left of the page for this row and the next ones.
        """
        for budget in range(max_lines, 0, -1):
            end = self._end(self.pos, budget, room)
            if end == self.pos:
                return None
            text = self._text(self.pos, end)
            marked = self.lines[self.pos][1] > 0 or (end < len(self.lines) and self.lines[end][1] > 0)
            lines = line_count(text, self.width) if marked else end - self.pos
            if lines <= max_lines:
                self.pos = end
                return text, lines
        return None

    def rows(self, max_lines: int | None = None) -> list[tuple[str, int]]:
        """All the remaining text as rows of at most ``max_lines`` lines (default: a row's maximum)."""
        max_lines = max_lines or MAX_ROW_LINES
        out = []
        while not self.done:
            taken = self.take(max_lines)
            if taken is None:
                raise ValueError(f"a line does not fit a row of {max_lines} lines")
            out.append(taken)
        return out or [("", 1)]

    def _end(self, start: int, budget: int, room: float | None) -> int:
        end = min(len(self.lines), start + budget)
        if end < len(self.lines) and self.lines[end][1] > 0:
            # the row would end mid-paragraph: end it before the paragraph if that paragraph
            # fits a fresh row (on this page) whole and something else is already in this row
            first = end - self.lines[end][1]
            fresh = MAX_ROW_LINES if room is None else \
                min(MAX_ROW_LINES, lines_in(room - height_for_lines(first - start)))
            if first > start and self.lines[first][3] <= fresh:
                return first
        return end

    def _text(self, start: int, end: int) -> str:
        parts: list[str] = []
        for k in range(start, end):
            _, i, text, _, hard = self.lines[k]
            if k == start and i > 0:
                parts.append(CONT_PREV + text)
            elif k == start:
                parts.append(text)
            else:
                parts.append(("\n" if i == 0 or hard else "") + text)
        if end < len(self.lines) and self.lines[end][1] > 0:
            parts.append(CONT_NEXT)
        return "".join(parts)


def pack_paragraphs(paragraphs: list[str], col_width: float, max_lines: int | None = None) -> list[str]:
    """Texts for consecutive rows of one column, each at most ``max_lines`` wrapped lines."""
    return [text for text, _ in TextFlow(paragraphs, col_width).rows(max_lines or MAX_ROW_LINES)]


def _print_setup(ws, title_rows: str | None, scale: int, print_area: str | None = None) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    # an explicit scale instead of fit-to-width: the page height in sheet rows is then
    # known, which the manual page breaks rely on (report.layout.page_scale)
    ws.page_setup.scale = scale
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=False)
    if title_rows:
        ws.print_title_rows = title_rows
    if print_area:
        ws.print_area = print_area
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = MARGIN_SIDE_IN
    ws.page_margins.top = MARGIN_TOP_IN
    ws.page_margins.bottom = MARGIN_BOTTOM_IN
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.oddFooter.center.font = FONT_NAME


def _widths(ws, widths: list[float]) -> None:
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width


TITLE_PT, SUBTITLE_PT = 36.0, 22.0


def _title_lines(ws, title: str, left: str, right: str, ncols: int) -> None:
    """Row 1: title across the table; row 2: left note and 填报日期 on the right."""
    last = get_column_letter(ncols)
    ws.row_dimensions[1].height = TITLE_PT
    ws.merged_cells.add(f"A1:{last}1")
    ws.append([_cell(ws, title, TITLE)])
    split = max(1, ncols - 2)
    ws.merged_cells.add(f"A2:{get_column_letter(split)}2")
    ws.merged_cells.add(f"{get_column_letter(split + 1)}2:{last}2")
    ws.row_dimensions[2].height = max(SUBTITLE_PT, row_height([(left, sum(_sheet_widths(ws)[:split]))]))
    ws.append([_cell(ws, left, SUBTITLE)] + [None] * (split - 1) + [_cell(ws, right, SUBTITLE_R)])


def _merge(ws, ref: str) -> None:
    """Merge ``ref``; our ranges never overlap, so skip openpyxl's check (quadratic in the count)."""
    ws.merged_cells.ranges.add(CellRange(ref))


def _header_row(ws, headers: list[str], widths: list[float], row: int, minimum: float) -> float:
    """The header row, as tall as its wrapped labels need."""
    height = max(minimum, row_height(list(zip(headers, widths))))
    ws.row_dimensions[row].height = height
    ws.append([_cell(ws, h, HEADER) for h in headers])
    return height


def _sheet_widths(ws) -> list[float]:
    widths, i = [], 1
    while get_column_letter(i) in ws.column_dimensions:
        widths.append(ws.column_dimensions[get_column_letter(i)].width)
        i += 1
    return widths


def _date_zh(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# --- 汇总表 ------------------------------------------------------------------------
SUMMARY_HEADERS = ["序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", "完成时限"]
SUMMARY_WIDTHS = [5, 16, 20, 85, 14]          # 完成时限 widens to fit unit names, the text column gives way
SUMMARY_HEADER_PT = 36.0
MIN_TEXT_WIDTH = 64
MAX_DEADLINE_WIDTH = 48
CONTINUED = "（续）"
MIN_ROW_PT = 22.0
MAX_LISTED = 10             # longer lists of units are cut to this many names and a count


def summary_paragraphs(task) -> list[str]:
    paras = [f"【{e.unit_name}】{clean_text(e.text).text}" for e in task.entries]
    notes = []
    pending = [n for n in task.missing_units if n not in task.rejected_units]
    if pending:
        notes.append("未报送：" + "、".join(pending))
    if task.rejected_units:
        notes.append("报送未通过审核（已退回）：" + "、".join(task.rejected_units))
    if task.silent_units:
        notes.append("本季度未填写该项：" + "、".join(task.silent_units))
    if notes:
        paras.append("（" + "；".join(notes) + "）")
    return paras or ["（本季度无单位报送）"]


def deadline_lines(task, width: float) -> list[str]:
    """完成时限 of a task: one value when all units agree, else one "单位：时限" per unit.

    The unit's name is never broken: when name and deadline do not fit one line, the
    deadline goes on the next.
    """
    values = [e.deadline for e in task.entries if e.deadline]
    if not values:
        return []
    if len(set(values)) == 1:
        return [values[0]]
    room = usable_mm(width)
    lines = []
    for e in task.entries:
        if not e.deadline:
            continue
        label = f"{e.unit_name}："
        if text_mm(label + e.deadline) <= room:
            lines.append(label + e.deadline)
        else:
            lines += [label, e.deadline]
    return lines


def summary_widths(c: Consolidated) -> list[float]:
    """Column widths of the 汇总表: 完成时限 as wide as its longest unit name needs."""
    names = [f"{e.unit_name}：" for t in c.tasks if len({e.deadline for e in t.entries if e.deadline}) > 1
             for e in t.entries if e.deadline]
    deadline = min(MAX_DEADLINE_WIDTH, max(SUMMARY_WIDTHS[4], min_width_for(names)))
    a, b, units, text, base = SUMMARY_WIDTHS
    return [a, b, units, max(MIN_TEXT_WIDTH, text - (deadline - base)), deadline]


@dataclass
class Chunk:
    """The rows of one task's block on one page; 序号/实事名称/责任单位/完成时限 merged over them."""

    rows: list[tuple[str, float]]      # (text of the progress column, height pt)
    name: str
    units: str
    deadline: str
    new_page: bool

    @property
    def height(self) -> float:
        return sum(h for _, h in self.rows)


def plan_task(task, widths: list[float], pages: Pages) -> list[Chunk]:
    """The task's block, cut into pages: whole on one page when it fits one."""
    _, w_name, w_units, w_text, w_deadline = widths
    units = "\n".join(task.units_label)
    deadlines = deadline_lines(task, w_deadline)
    flow = TextFlow(summary_paragraphs(task), w_text)
    rows = [(text, height_for_lines(lines)) for text, lines in flow.rows()]
    fixed = max(height_for_lines(line_count(task.name, w_name)), height_for_lines(len(wrap(units, w_units))),
                height_for_lines(len(deadlines) and len(wrap("\n".join(deadlines), w_deadline))), 30.0)
    rows = _stretch(rows, fixed)
    total = sum(h for _, h in rows)
    fits_here = pages.fits(total)
    if fits_here or (total <= pages.capacity and not pages.at_top):
        if not fits_here:
            pages.new_page()
        pages.add(total)
        return [Chunk(rows, task.name, units, "\n".join(deadlines), not fits_here)]
    # taller than a page, or than what is left of page 1 below the title
    flow.pos = 0
    return _plan_tall_task(task, widths, pages, flow, wrap(units, w_units),
                           wrap("\n".join(deadlines), w_deadline) if deadlines else [])


def _stretch(rows: list[tuple[str, float]], height: float, limit: float = float("inf")) -> list[tuple[str, float]]:
    """Make the rows at least ``height`` tall (but no taller than ``limit``): grow the last row,
    then add empty rows."""
    rows = list(rows) or [("", 0.0)]
    height = min(height, limit)
    missing = height - sum(h for _, h in rows)
    if missing <= 0:
        return rows
    text, h = rows[-1]
    grown = min(MAX_ROW_PT, h + missing)
    rows[-1] = (text, grown)
    missing -= grown - h
    while missing > 0:
        add = min(MAX_ROW_PT, max(missing, MIN_ROW_PT))
        if sum(h for _, h in rows) + add > limit:
            break
        rows.append(("", add))
        missing -= add
    return rows


def _plan_tall_task(task, widths: list[float], pages: Pages, flow: TextFlow,
                    unit_lines: list[str], deadline_lines_: list[str]) -> list[Chunk]:
    """A block taller than a page: one chunk per page, 序号/实事名称 repeated on each."""
    _, w_name, _, w_text, _ = widths
    chunks: list[Chunk] = []
    while not flow.done or unit_lines or deadline_lines_:
        name = task.name if not chunks else f"{task.name}{CONTINUED}"
        name_pt = height_for_lines(line_count(name, w_name))
        new_page = bool(chunks) or pages.left < max(name_pt, height_for_lines(6))
        if new_page:
            pages.new_page()
        rows = _fill_page(flow, pages.left)
        carry = height_for_lines(max(len(unit_lines), len(deadline_lines_)))
        rows = _stretch(rows, max(name_pt, carry), limit=pages.left)
        height = sum(h for _, h in rows)
        take = lines_in(height)
        chunk_units, unit_lines = unit_lines[:take], unit_lines[take:]
        chunk_deadlines, deadline_lines_ = deadline_lines_[:take], deadline_lines_[take:]
        chunks.append(Chunk(rows, name, "\n".join(chunk_units), "\n".join(chunk_deadlines), new_page))
        pages.add(height)
    return chunks


def _fill_page(flow: TextFlow, room: float) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    while not flow.done:
        left = room - sum(h for _, h in rows)
        max_lines = min(MAX_ROW_LINES, lines_in(left))
        taken = flow.take(max_lines, left) if max_lines >= 1 else None
        if taken is None:
            break
        rows.append((taken[0], height_for_lines(taken[1])))
    return rows


def _write_summary(wb: Workbook, c: Consolidated) -> None:
    ws = wb.create_sheet("汇总表")
    widths = summary_widths(c)
    scale = page_scale(sum(widths))
    _widths(ws, widths)
    ws.freeze_panes = "A4"
    _title_lines(ws, c.title, f"汇总单位：{c.organiser}",
                 f"填报日期：{_date_zh(c.report_date())}", len(SUMMARY_HEADERS))
    header = _header_row(ws, SUMMARY_HEADERS, widths, 3, SUMMARY_HEADER_PT)
    pages = Pages(page_body_pt(scale), repeated=header,
                  first=ws.row_dimensions[1].height + ws.row_dimensions[2].height + header)
    row = 4
    for task in c.tasks:
        for chunk in plan_task(task, widths, pages):
            if chunk.new_page and row > 4:
                ws.row_breaks.append(Break(id=row - 1))
            first = row
            for i, (text, height) in enumerate(chunk.rows):
                ws.row_dimensions[row].height = round(height, 1)
                head = [_cell(ws, task.seq, CENTER), _cell(ws, chunk.name, TEXT_MID),
                        _cell(ws, chunk.units, TEXT_MID)] if i == 0 else \
                    [_cell(ws, None, CENTER), _cell(ws, None, TEXT_MID), _cell(ws, None, TEXT_MID)]
                ws.append([*head, _cell(ws, text, TEXT),
                           _cell(ws, chunk.deadline if i == 0 else None, CENTER)])
                row += 1
            if row - first > 1:
                for col in "ABCE":
                    _merge(ws, f"{col}{first}:{col}{row - 1}")
    _print_setup(ws, "3:3", scale, f"A1:E{row - 1}")


# --- 报送情况 ------------------------------------------------------------------------
STATUS_HEADERS = ["序号", "单位", "报送状态", "是否逾期", STAMPED_COLUMN_ZH, "接收时间", "说明（警告或退回原因）",
                  "报送文件"]
STATUS_WIDTHS = [6, 30, 10, 9, 11, 17, 60, 40]
STATUS_PRINTED = 7          # 报送文件 (file names) is a machine column: right of the print area


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
    if not stamp:
        return ""
    try:
        value = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if value.tzinfo is not None:
        value = value.astimezone(TZ)
    return value.strftime("%Y-%m-%d %H:%M")


def _write_status(wb: Workbook, c: Consolidated) -> None:
    ws = wb.create_sheet("报送情况")
    _widths(ws, STATUS_WIDTHS)
    ws.freeze_panes = "A4"
    rejected = len(c.units_with_status("rejected"))
    missing = len(c.units_with_status("missing"))
    left = (f"应报送{c.expected_units}个单位，已报送{c.submitted_units}个，未报送{missing}个，"
            f"退回{rejected}个，逾期{len(c.late_units)}个；报送截止：{_date_zh(c.deadline)}")
    _title_lines(ws, f"{c.title}——报送情况", left, f"填报日期：{_date_zh(c.report_date())}", STATUS_PRINTED)
    _header_row(ws, STATUS_HEADERS, STATUS_WIDTHS, 3, 28.0)
    w_name, w_note, w_file = STATUS_WIDTHS[1], STATUS_WIDTHS[6], STATUS_WIDTHS[7]
    for i, unit in enumerate(c.units, 4):
        note = fit_rows("\n".join([*unit.notes, *(f"退回：{r}" for r in unit.reasons), *unit.warnings]),
                        w_note, "……（其余内容见该单位的反馈表）")
        file_name = fit_rows(unit.accepted_file or ("\n".join(unit.files) if unit.files else ""), w_file, "……")
        ws.row_dimensions[i].height = _row_height([(note, w_note), (file_name, w_file), (unit.unit_name, w_name)])
        status_style = CENTER if unit.status == "submitted" else WARN
        ws.append([_cell(ws, i - 3, CENTER), _cell(ws, unit.unit_name, TEXT_MID),
                   _cell(ws, UNIT_STATUS_ZH[unit.status], status_style),
                   _cell(ws, LATE_ZH if unit.late else "", WARN if unit.late else CENTER),
                   _stamped_cell(ws, unit), _cell(ws, _local_time(unit.received_at), CENTER),
                   _cell(ws, note, TEXT_MID), _cell(ws, file_name, TEXT_MID)])
    last = len(c.units) + 3
    note_width = sum(STATUS_WIDTHS[:STATUS_PRINTED])
    printed = get_column_letter(STATUS_PRINTED)
    for j, warning in enumerate(c.warnings):
        r = len(c.units) + 5 + j
        ws.row_dimensions[r].height = _row_height([(f"注：{warning}", note_width)])
        _merge(ws, f"A{r}:{printed}{r}")
        if j == 0:
            ws.append([])
        ws.append([_cell(ws, f"注：{warning}", NOTE)])
        last = r
    _print_setup(ws, "3:3", page_scale(note_width), f"A1:{printed}{last}")


def _stamped_cell(ws: Worksheet, unit):
    """盖章件: 已收到 / 未收到 / 未见公章 / 内容不一致 / 无法确认 / 无法读取 (core.labels.STAMPED_ZH)."""
    state = stamped_state(unit.stamped_copy, settings().stamped_agreement_min)
    return _cell(ws, STAMPED_ZH[state], CENTER if state == "received" else WARN)


# --- 指标进度 ------------------------------------------------------------------------
INDICATOR_HEADERS = ["序号", "实事名称", "指标", "计量单位", "年度目标", "累计完成",
                     "完成比例", "本季度应达", "进度状态", "判断依据", "报数单位"]
INDICATOR_WIDTHS = [5, 14, 18, 6, 9, 9, 8, 9, 8, 32, 30]
INDICATOR_HEADER_PT = 28.0
CHART_ROW_PT = 20.0


def unit_list(names: list[str]) -> str:
    """Names joined with 、; a long list is cut to its first names and the count."""
    if len(names) <= MAX_LISTED:
        return "、".join(names)
    return "、".join(names[:MAX_LISTED]) + f"等{len(names)}个单位"


def expected_text(ind) -> str:
    """本季度应达 as a reader wants it: an amount, or why nothing is asked yet."""
    if ind.expected_value is None:
        return "年底判断"
    if ind.expected_value <= 0:
        return "不作要求"
    return f"{ind.expected_value:g}{ind.measure}"


def grouped_names(programme: Programme, names: list[str]) -> list[str]:
    """Unit names as the notice's form writes them: all area units together as its label."""
    area = programme.area_group
    if not area:
        return names
    members = {programme.units_by_key[k].name for k in area.units}
    if not members <= set(names):
        return names
    return [n for n in names if n not in members] + [area.label]


def _write_indicators(wb: Workbook, c: Consolidated, programme: Programme) -> None:
    ws = wb.create_sheet("指标进度")
    _widths(ws, INDICATOR_WIDTHS)
    scale = page_scale(sum(INDICATOR_WIDTHS))
    ws.freeze_panes = "A4"
    at_risk = len(c.indicators_at_risk)
    _title_lines(ws, f"{c.title}——指标进度",
                 f"共{len(c.indicators)}项量化指标，进度滞后或未报数{at_risk}项；各指标的衡量方法见“判断依据”列"
                 if c.indicators else "本年度无量化指标",
                 f"填报日期：{_date_zh(c.report_date())}", len(INDICATOR_HEADERS))
    header = _header_row(ws, INDICATOR_HEADERS, INDICATOR_WIDTHS, 3, INDICATOR_HEADER_PT)
    for i, ind in enumerate(c.indicators, 4):
        reporters = unit_list(grouped_names(programme, ind.reported_by)) if ind.reported_by else "（无）"
        ws.row_dimensions[i].height = _row_height(
            [(ind.task_name, INDICATOR_WIDTHS[1]), (ind.name, INDICATOR_WIDTHS[2]),
             (ind.basis, INDICATOR_WIDTHS[9]), (reporters, INDICATOR_WIDTHS[10]),
             (expected_text(ind), INDICATOR_WIDTHS[7])])
        ws.append([
            _cell(ws, ind.task_seq, CENTER), _cell(ws, ind.task_name, TEXT_MID),
            _cell(ws, ind.name, TEXT_MID), _cell(ws, ind.measure, CENTER),
            _cell(ws, ind.target, NUMBER), _cell(ws, ind.value, NUMBER),
            _cell(ws, None if ind.percent is None else ind.percent / 100, PERCENT),
            _cell(ws, expected_text(ind), CENTER),
            _cell(ws, INDICATOR_STATUS_ZH[ind.status], CENTER if ind.on_track else WARN),
            _cell(ws, ind.basis, TEXT_MID),
            _cell(ws, reporters, TEXT_MID),
        ])
    last = len(c.indicators) + 3
    if not c.indicators:
        _print_setup(ws, "3:3", scale, f"A1:K{last}")
        return
    # the chart prints on a page of its own: a manual break after the table, then rows of a
    # known height for the chart to sit on, no taller than a page holds
    room = page_body_pt(scale) - header - 2 * CHART_ROW_PT
    chart = _percent_chart(ws, c, last, room)
    rows = math.ceil(chart.height * 72 / 2.54 / CHART_ROW_PT) + 1
    ws.row_breaks.append(Break(id=last))
    for r in range(last + 1, last + 1 + rows):
        ws.row_dimensions[r].height = CHART_ROW_PT
        ws.append([])
    ws.add_chart(chart, f"A{last + 1}")
    _print_setup(ws, "3:3", scale, f"A1:K{last + rows}")


def _percent_chart(ws, c: Consolidated, last: int, room_pt: float) -> BarChart:
    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = "各指标完成年度目标比例"
    chart.add_data(Reference(ws, min_col=7, min_row=3, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=3, min_row=4, max_row=last))
    chart.legend = None
    chart.x_axis.scaling.orientation = "maxMin"     # first indicator on top, as in the table
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.majorGridlines = None
    # value only: LibreOffice shows category and series name too unless told not to
    chart.dataLabels = DataLabelList(showVal=True, showCatName=False, showSerName=False,
                                     showLegendKey=False, showPercent=False)
    chart.gapWidth = 60
    # as wide as the table (narrowest renderer), as tall as the bars need but within a page
    chart.width = round(sum(INDICATOR_WIDTHS) * UNIT_MM / 10 * 0.97, 1)
    chart.height = round(min(max(8.0, 0.6 * len(c.indicators) + 3), room_pt * 2.54 / 72), 1)
    return chart


# --- 明细 ------------------------------------------------------------------------
DETAIL_HEADERS = ["季度", "序号", "实事名称", "单位", "本季度具体措施及任务进度情况", "完成时限",
                  "来源文件", "SHA-256", "来源位置", "分段"]
DETAIL_WIDTHS = [9, 6, 24, 24, 70, 12, 28, 20, 12, 7]
DETAIL_NO_PRINT = "L1"      # the print area: one empty cell, so the analysis table never prints


def _write_details(wb: Workbook, c: Consolidated) -> None:
    ws = wb.create_sheet("明细")
    _widths(ws, DETAIL_WIDTHS)
    ws.freeze_panes = "A2"
    _print_setup(ws, None, page_scale(sum(DETAIL_WIDTHS)), DETAIL_NO_PRINT)
    ws.auto_filter.ref = f"A1:J{max(2, 1 + _detail_row_count(c))}"
    _header_row(ws, DETAIL_HEADERS, DETAIL_WIDTHS, 1, 28.0)
    row = 2
    for d in c.details:
        text = clean_text(d.text).text
        chunks = split_for_cells(text)
        where = f"{d.sheet}!{d.row}" if d.sheet and d.row else ""
        for k, chunk in enumerate(chunks, 1):
            lines = max(quick_lines(chunk, DETAIL_WIDTHS[4]), quick_lines(d.task, DETAIL_WIDTHS[2]),
                        quick_lines(d.unit_name, DETAIL_WIDTHS[3]))
            ws.row_dimensions[row].height = min(MAX_ROW_PT, max(22.0, height_for_lines(lines)))
            ws.append([_cell(ws, d.quarter, CENTER), _cell(ws, d.seq, CENTER),
                       _cell(ws, d.task, TEXT_MID), _cell(ws, d.unit_name, TEXT_MID),
                       _cell(ws, chunk, TEXT), _cell(ws, d.deadline, CENTER),
                       _cell(ws, d.source_file, TEXT_MID), _cell(ws, d.sha256, HASH),
                       _cell(ws, where, CENTER),
                       _cell(ws, f"{k}/{len(chunks)}" if len(chunks) > 1 else "", CENTER)])
            row += 1


def _detail_row_count(c: Consolidated) -> int:
    return sum(len(split_for_cells(clean_text(d.text).text)) if utf16_len(d.text) > CELL_LIMIT
               else 1 for d in c.details)


# --- entry point --------------------------------------------------------------
def write_report(consolidated: Consolidated, programme: Programme, path: str | os.PathLike) -> Path:
    """Write the workbook to ``path`` atomically (temp file + rename); return the path.

    ``path`` may be a folder (an existing one, or any path not ending in .xlsx): the
    file is then named by ``report_filename``.
    """
    path = Path(path)
    if path.is_dir() or path.suffix.lower() != ".xlsx":
        path = path / report_filename(programme, consolidated.quarter)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    wb.properties.title = consolidated.title
    wb.properties.creator = programme.report.organiser
    _write_summary(wb, consolidated)
    _write_status(wb, consolidated)
    _write_indicators(wb, consolidated, programme)
    _write_details(wb, consolidated)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
