"""汇总表: the notice's attached form for the whole zone, one task per block of rows.

Row heights follow the wrapped text. A task's block starts on a new page when it would
not fit the rest of the current one; a block taller than a page continues on the next
with 序号/实事名称 repeated (实事名称 marked （续）), its text split between rows with
（接下行）/（接上行） (``report.text_flow``). 序号, 实事名称, 责任单位 and 完成时限 are merged
over each page's part of a block.
"""
from __future__ import annotations

from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from wcreport.core.templating import date_zh
from wcreport.report.consolidate import Consolidated
from wcreport.report.layout import (
    MAX_ROW_PT,
    MIN_ROW_PT,
    MIN_TASK_PT,
    SUMMARY,
    SUMMARY_MAX_DEADLINE_WIDTH,
    SUMMARY_MIN_TEXT_WIDTH,
    Pages,
    page_body_pt,
    page_scale,
)
from wcreport.report.measure import height_for_lines, line_count, lines_in, min_width_for, text_mm, usable_mm, wrap
from wcreport.report.safe_cells import clean_text
from wcreport.report.sheets.common import header_row, merge, print_setup, set_widths, title_lines
from wcreport.report.styles import CENTER, TEXT, TEXT_MID, cell
from wcreport.report.text_flow import TextFlow

SHEET = "汇总表"
HEADERS = ["序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", "完成时限"]
CONTINUED = "（续）"


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
    deadline = min(SUMMARY_MAX_DEADLINE_WIDTH, max(SUMMARY.widths[4], min_width_for(names)))
    a, b, units, text, base = SUMMARY.widths
    return [a, b, units, max(SUMMARY_MIN_TEXT_WIDTH, text - (deadline - base)), deadline]


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
                height_for_lines(len(deadlines) and len(wrap("\n".join(deadlines), w_deadline))), MIN_TASK_PT)
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
        rows = flow.fill_page(pages.left)
        carry = height_for_lines(max(len(unit_lines), len(deadline_lines_)))
        rows = _stretch(rows, max(name_pt, carry), limit=pages.left)
        height = sum(h for _, h in rows)
        take = lines_in(height)
        chunk_units, unit_lines = unit_lines[:take], unit_lines[take:]
        chunk_deadlines, deadline_lines_ = deadline_lines_[:take], deadline_lines_[take:]
        chunks.append(Chunk(rows, name, "\n".join(chunk_units), "\n".join(chunk_deadlines), new_page))
        pages.add(height)
    return chunks


def write_summary(wb: Workbook, c: Consolidated) -> None:
    ws = wb.create_sheet(SHEET)
    widths = summary_widths(c)
    scale = page_scale(sum(widths))
    set_widths(ws, widths)
    ws.freeze_panes = "A4"
    titles = title_lines(ws, c.title, f"汇总单位：{c.organiser}", f"填报日期：{date_zh(c.report_date())}",
                         len(HEADERS))
    header = header_row(ws, HEADERS, widths, 3, SUMMARY.header_pt)
    pages = Pages(page_body_pt(scale), repeated=header, first=titles + header)
    row = 4
    for task in c.tasks:
        for chunk in plan_task(task, widths, pages):
            if chunk.new_page and row > 4:
                ws.row_breaks.append(Break(id=row - 1))
            first = row
            for i, (text, height) in enumerate(chunk.rows):
                ws.row_dimensions[row].height = round(height, 1)
                head = [cell(ws, task.seq, CENTER), cell(ws, chunk.name, TEXT_MID),
                        cell(ws, chunk.units, TEXT_MID)] if i == 0 else \
                    [cell(ws, None, CENTER), cell(ws, None, TEXT_MID), cell(ws, None, TEXT_MID)]
                ws.append([*head, cell(ws, text, TEXT), cell(ws, chunk.deadline if i == 0 else None, CENTER)])
                row += 1
            if row - first > 1:
                for col in "ABCE":
                    merge(ws, f"{col}{first}:{col}{row - 1}")
    print_setup(ws, "3:3", scale, f"A1:{get_column_letter(SUMMARY.printed)}{row - 1}")
