"""The consolidated quarterly workbook: what the clerk forwards and the leaders print.

Sheets (all print-ready: A4 landscape, one page wide, header row repeated on every
page, wrapped text, a CJK font, frozen header):

* 汇总表   the notice's attached form for the whole zone, one task per block of rows.
           A task whose text does not fit one row (Excel caps a row at 409 pt and a cell
           at 32,767 characters) continues in further rows of the same block, marked
           （接下行）/（接上行）; 序号, 实事名称, 责任单位 and 完成时限 are merged over the block.
* 报送情况 every expected unit: status, late, file, time received, warnings/reasons.
* 指标进度 every numeric target with reported value, % of target, pace, status, and a
           bar chart of % of target.
* 明细     the long table for analysis (header in row 1, auto-filter); text longer than
           a cell continues in the next row, numbered in the 分段 column.

The workbook is written with openpyxl's write-only mode, so memory stays flat for
thousands of units. Every piece of unit text goes through ``safe_cells.set_text``.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
import unicodedata
import weakref
from copy import copy
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from wcreport.core.labels import INDICATOR_STATUS_ZH, LATE_ZH, UNIT_STATUS_ZH
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.report.consolidate import TZ, Consolidated, report_title
from wcreport.report.safe_cells import CELL_LIMIT, clean_text, set_text, split_for_cells, utf16_len

SHEETS = ("汇总表", "报送情况", "指标进度", "明细")
FONT_NAME = "宋体"          # what Chinese offices have; LibreOffice maps it to a CJK font
BODY_PT = 11
LINE_PT = 15.0              # height of one wrapped line of BODY_PT text
MAX_ROW_PT = 400.0          # Excel's limit is 409.5 pt; keep a margin
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
@lru_cache(maxsize=65536)
def _char_width(ch: str) -> float:
    return 2.15 if unicodedata.east_asian_width(ch) in ("W", "F") else 1.1


def _display_width(text: str) -> float:
    """Width in column-width units (a '0' of the body font); CJK and full-width count ~2."""
    return sum(map(_char_width, text))


def _wrapped_lines(text: str, col_width: float) -> int:
    usable = max(col_width - 1.5, 4)
    return sum(max(1, math.ceil(_display_width(line) / usable)) for line in text.split("\n"))


def _row_height(texts_and_widths: list[tuple[str, float]], minimum: float = 22.0) -> float:
    lines = max((_wrapped_lines(t, w) for t, w in texts_and_widths if t), default=1)
    return min(max(minimum, lines * LINE_PT + 6), 409.0)


def _segments(text: str, col_width: float) -> list[tuple[str, str]]:
    """Visual lines of ``text`` at ``col_width``, each with the separator that precedes it."""
    usable = max(col_width - 1.5, 4)
    out: list[tuple[str, str]] = []
    for i, line in enumerate(text.split("\n")):
        sep = "\n" if i else ""
        if _display_width(line) <= usable:
            out.append((line, sep))
            continue
        start, width = 0, 0.0
        for j, ch in enumerate(line):
            w = _char_width(ch)
            if width + w > usable and j > start:
                out.append((line[start:j], sep))
                sep, start, width = "", j, 0.0
            width += w
        out.append((line[start:], sep))
    return out


def pack_paragraphs(paragraphs: list[str], col_width: float,
                    max_lines: int | None = None) -> list[str]:
    """Texts for consecutive rows of one column: each row fits a row height and a cell.

    Paragraphs are separated by a line break. A paragraph that does not fit the rest of
    a row is continued in the next row with visible markers; nothing is dropped.
    """
    if max_lines is None:
        max_lines = int((MAX_ROW_PT - 6) // LINE_PT)
    budget = CELL_LIMIT - utf16_len(CONT_NEXT + CONT_PREV) - 2
    rows: list[str] = []
    current, lines, units = "", 0, 0
    for _p_index, para in enumerate(paragraphs):
        segments = _segments(para, col_width)
        para_units = utf16_len(para) + 1
        fits_fresh_row = len(segments) <= max_lines and para_units <= budget
        if lines and fits_fresh_row and (lines + len(segments) > max_lines
                                         or units + para_units > budget):
            # Start a unit's paragraph on a new row rather than splitting it mid-sentence.
            rows.append(current)
            current, lines, units = "", 0, 0
        for s_index, (seg, sep) in enumerate(segments):
            if s_index == 0:
                sep = "\n" if current else ""
            piece_units = utf16_len(sep + seg)
            if lines and (lines + 1 > max_lines or units + piece_units > budget):
                mid_paragraph = s_index > 0
                rows.append(current + CONT_NEXT if mid_paragraph else current)
                current = CONT_PREV if mid_paragraph else ""
                lines, units, sep = 0, utf16_len(current), ""
                piece_units = utf16_len(seg)
            current += sep + seg
            lines += 1
            units += piece_units
    rows.append(current)
    return rows


def _print_setup(ws, title_rows: str | None, landscape: bool = True) -> None:
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    if title_rows:
        ws.print_title_rows = title_rows
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.oddFooter.center.font = FONT_NAME


def _widths(ws, widths: list[float]) -> None:
    from openpyxl.utils import get_column_letter
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width


def _title_lines(ws, title: str, left: str, right: str, ncols: int) -> None:
    """Row 1: title across the table; row 2: left note and 填报日期 on the right."""
    from openpyxl.utils import get_column_letter
    last = get_column_letter(ncols)
    ws.row_dimensions[1].height = 36
    ws.row_dimensions[2].height = 22
    ws.merged_cells.add(f"A1:{last}1")
    ws.append([_cell(ws, title, TITLE)])
    split = max(1, ncols - 2)
    ws.merged_cells.add(f"A2:{get_column_letter(split)}2")
    ws.merged_cells.add(f"{get_column_letter(split + 1)}2:{last}2")
    ws.append([_cell(ws, left, SUBTITLE)] + [None] * (split - 1) + [_cell(ws, right, SUBTITLE_R)])


def _date_zh(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# --- sheets -------------------------------------------------------------------
SUMMARY_HEADERS = ["序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", "完成时限"]
SUMMARY_WIDTHS = [6, 20, 24, 92, 14]


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


def _write_summary(wb: Workbook, c: Consolidated) -> None:
    ws = wb.create_sheet("汇总表")
    _widths(ws, SUMMARY_WIDTHS)
    ws.freeze_panes = "A4"
    _print_setup(ws, "3:3")
    _title_lines(ws, c.title, f"汇总单位：{c.organiser}",
                 f"填报日期：{_date_zh(c.report_date())}", len(SUMMARY_HEADERS))
    ws.row_dimensions[3].height = 36
    ws.append([_cell(ws, h, HEADER) for h in SUMMARY_HEADERS])
    row = 4
    for task in c.tasks:
        units_label = "\n".join(task.units_label)
        deadline = task.deadline_text
        chunks = pack_paragraphs(summary_paragraphs(task), SUMMARY_WIDTHS[3])
        first = row
        for i, chunk in enumerate(chunks):
            fixed = [(units_label, SUMMARY_WIDTHS[2]), (task.name, SUMMARY_WIDTHS[1]),
                     (deadline, SUMMARY_WIDTHS[4])] if len(chunks) == 1 else []
            ws.row_dimensions[row].height = _row_height([(chunk, SUMMARY_WIDTHS[3])] + fixed, 30)
            if i == 0:
                ws.append([_cell(ws, task.seq, CENTER), _cell(ws, task.name, TEXT_MID),
                           _cell(ws, units_label, TEXT_MID), _cell(ws, chunk, TEXT),
                           _cell(ws, deadline, CENTER)])
            else:
                ws.append([_cell(ws, None, CENTER), _cell(ws, None, TEXT_MID),
                           _cell(ws, None, TEXT_MID), _cell(ws, chunk, TEXT),
                           _cell(ws, None, CENTER)])
            row += 1
        if row - first > 1:
            for col in "ABCE":
                ws.merged_cells.add(f"{col}{first}:{col}{row - 1}")
    ws.print_area = f"A1:E{row - 1}"


STATUS_HEADERS = ["序号", "单位", "报送状态", "是否逾期", "报送文件", "接收时间", "说明（警告或退回原因）"]
STATUS_WIDTHS = [6, 34, 12, 10, 40, 18, 70]


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
    _print_setup(ws, "3:3")
    rejected = len(c.units_with_status("rejected"))
    missing = len(c.units_with_status("missing"))
    left = (f"应报送{c.expected_units}个单位，已报送{c.submitted_units}个，未报送{missing}个，"
            f"退回{rejected}个，逾期{len(c.late_units)}个；报送截止：{_date_zh(c.deadline)}")
    _title_lines(ws, f"{c.title}——报送情况", left, f"填报日期：{_date_zh(c.report_date())}",
                 len(STATUS_HEADERS))
    ws.row_dimensions[3].height = 28
    ws.append([_cell(ws, h, HEADER) for h in STATUS_HEADERS])
    for i, unit in enumerate(c.units, 4):
        note = "\n".join([*(f"退回：{r}" for r in unit.reasons), *unit.warnings])
        file_name = unit.accepted_file or ("\n".join(unit.files) if unit.files else "")
        ws.row_dimensions[i].height = _row_height(
            [(note, STATUS_WIDTHS[6]), (file_name, STATUS_WIDTHS[4]), (unit.unit_name, STATUS_WIDTHS[1])])
        status_style = CENTER if unit.status == "submitted" else WARN
        ws.append([_cell(ws, i - 3, CENTER), _cell(ws, unit.unit_name, TEXT_MID),
                   _cell(ws, UNIT_STATUS_ZH[unit.status], status_style),
                   _cell(ws, LATE_ZH if unit.late else "", WARN if unit.late else CENTER),
                   _cell(ws, file_name, TEXT_MID), _cell(ws, _local_time(unit.received_at), CENTER),
                   _cell(ws, note, TEXT_MID)])
    for j, warning in enumerate(c.warnings):
        r = len(c.units) + 5 + j
        ws.row_dimensions[r].height = _row_height([(warning, sum(STATUS_WIDTHS))])
        ws.merged_cells.add(f"A{r}:G{r}")
        if j == 0:
            ws.append([])
        ws.append([_cell(ws, f"注：{warning}", NOTE)])


INDICATOR_HEADERS = ["序号", "实事名称", "指标", "计量单位", "年度目标", "累计完成",
                     "完成比例", "本季度应达", "进度状态", "报数单位"]
INDICATOR_WIDTHS = [6, 26, 28, 8, 10, 10, 10, 10, 10, 30]


def _write_indicators(wb: Workbook, c: Consolidated) -> None:
    ws = wb.create_sheet("指标进度")
    _widths(ws, INDICATOR_WIDTHS)
    ws.freeze_panes = "A4"
    _print_setup(ws, "3:3")
    at_risk = len(c.indicators_at_risk)
    _title_lines(ws, f"{c.title}——指标进度",
                 f"共{len(c.indicators)}项量化指标，进度滞后或未报数{at_risk}项；"
                 f"按全年均衡推进，本季度应达年度目标的{c.indicators[0].expected_percent:g}%"
                 if c.indicators else "本年度无量化指标",
                 f"填报日期：{_date_zh(c.report_date())}", len(INDICATOR_HEADERS))
    ws.row_dimensions[3].height = 28
    ws.append([_cell(ws, h, HEADER) for h in INDICATOR_HEADERS])
    for i, ind in enumerate(c.indicators, 4):
        reporters = "、".join(ind.reported_by) if ind.reported_by else "（无）"
        ws.row_dimensions[i].height = _row_height(
            [(ind.task_name, INDICATOR_WIDTHS[1]), (ind.name, INDICATOR_WIDTHS[2]),
             (reporters, INDICATOR_WIDTHS[9])])
        ws.append([
            _cell(ws, ind.task_seq, CENTER), _cell(ws, ind.task_name, TEXT_MID),
            _cell(ws, ind.name, TEXT_MID), _cell(ws, ind.measure, CENTER),
            _cell(ws, ind.target, NUMBER), _cell(ws, ind.value, NUMBER),
            _cell(ws, None if ind.percent is None else ind.percent / 100, PERCENT),
            _cell(ws, ind.expected_percent / 100, PERCENT),
            _cell(ws, INDICATOR_STATUS_ZH[ind.status], CENTER if ind.on_track else WARN),
            _cell(ws, reporters, TEXT_MID),
        ])
    last = len(c.indicators) + 3
    if c.indicators:
        ws.add_chart(_percent_chart(ws, c, last), f"A{last + 2}")


def _percent_chart(ws, c: Consolidated, last: int) -> BarChart:
    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = f"各指标完成年度目标比例（本季度应达{c.indicators[0].expected_percent:g}%）"
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
    chart.width = 30
    chart.height = max(8.0, 0.6 * len(c.indicators) + 3)
    return chart


DETAIL_HEADERS = ["季度", "序号", "实事名称", "单位", "本季度具体措施及任务进度情况", "完成时限",
                  "来源文件", "SHA-256", "来源位置", "分段"]
DETAIL_WIDTHS = [9, 6, 24, 24, 70, 12, 28, 20, 12, 7]


def _write_details(wb: Workbook, c: Consolidated) -> None:
    ws = wb.create_sheet("明细")
    _widths(ws, DETAIL_WIDTHS)
    ws.freeze_panes = "A2"
    _print_setup(ws, "1:1")
    ws.auto_filter.ref = f"A1:J{max(2, 1 + _detail_row_count(c))}"
    ws.row_dimensions[1].height = 28
    ws.append([_cell(ws, h, HEADER) for h in DETAIL_HEADERS])
    row = 2
    for d in c.details:
        text = clean_text(d.text).text
        chunks = split_for_cells(text)
        where = f"{d.sheet}!{d.row}" if d.sheet and d.row else ""
        for k, chunk in enumerate(chunks, 1):
            ws.row_dimensions[row].height = _row_height(
                [(chunk, DETAIL_WIDTHS[4]), (d.task, DETAIL_WIDTHS[2]), (d.unit_name, DETAIL_WIDTHS[3])])
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
    _write_indicators(wb, consolidated)
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
