"""What every sheet of the workbook shares: column widths, title lines, header row, merges, print setup."""
from __future__ import annotations

import datetime as dt
from copy import copy

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from wcreport.core.templating import date_zh
from wcreport.report.layout import (
    MARGIN_BOTTOM_IN,
    MARGIN_FOOTER_IN,
    MARGIN_HEADER_IN,
    MARGIN_SIDE_IN,
    MARGIN_TOP_IN,
    SUBTITLE_PT,
    TITLE_PT,
    row_height,
    text_height,
)
from wcreport.report.styles import FONT_NAME, HEADER, SUBTITLE, SUBTITLE_R, TITLE, TITLE_SIZE_PT, cell

PAGE_FOOTER = "第 &P 页，共 &N 页"
CORRECTION_MARK = "更正版{number}　{date}"
LONGEST_MARK = CORRECTION_MARK.format(number=99, date="2099年12月31日")


def correction_mark(number: int, day: dt.date) -> str:
    """What a 更正版's every printed sheet says beside its title: 更正版N and its date."""
    return CORRECTION_MARK.format(number=number, date=date_zh(day))


def mark_title(ws, mark: str) -> None:
    """Put ``mark`` in the title area of a written sheet: after the title (row 1, where
    ``title_lines`` writes it) and in the page header, so every printed page carries it,
    the details sheet (no title row) included."""
    title = ws.cell(row=1, column=1)
    merged = next((r for r in ws.merged_cells.ranges if r.min_row == r.max_row == 1 and r.min_col == 1), None)
    if merged is not None and isinstance(title.value, str) and mark not in title.value:
        title.value = f"{title.value}（{mark}）"
        title.data_type = "s"
        alignment = copy(title.alignment)
        alignment.wrap_text = True
        title.alignment = alignment
        width = columns_width(ws, merged.min_col, merged.max_col)
        ws.row_dimensions[1].height = max(ws.row_dimensions[1].height or TITLE_PT,
                                          text_height(title.value, width, TITLE_SIZE_PT, TITLE_PT))
    ws.oddHeader.right.text = mark
    ws.oddHeader.right.font = FONT_NAME


def print_setup(ws, title_rows: str | None, scale: int, print_area: str | None = None) -> None:
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
    ws.page_margins.header = MARGIN_HEADER_IN
    ws.page_margins.footer = MARGIN_FOOTER_IN
    ws.oddFooter.center.text = PAGE_FOOTER
    ws.oddFooter.center.font = FONT_NAME


def set_widths(ws, widths) -> None:
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width


def sheet_widths(ws) -> list[float]:
    widths, i = [], 1
    while get_column_letter(i) in ws.column_dimensions:
        widths.append(ws.column_dimensions[get_column_letter(i)].width)
        i += 1
    return widths


def columns_width(ws, first: int, last: int) -> float:
    """Width (units) of columns ``first``..``last`` (1-based) of a loaded sheet, whose column
    dimensions may each cover several columns."""
    total = 0.0
    for dim in ws.column_dimensions.values():
        low, high = dim.min or 0, dim.max or 0
        overlap = min(high, last) - max(low, first) + 1
        if overlap > 0 and dim.width:
            total += overlap * dim.width
    return total


def title_lines(ws, title: str, left: str, right: str, ncols: int) -> float:
    """Row 1: title across the table; row 2: left note and 填报日期 on the right; each row as
    tall as its wrapped text needs.

    Returns the height (pt) a page plan should give the two rows: room for a later
    correction mark too (``mark_title`` makes row 1 taller then), so planned page breaks
    stay right on a 更正版."""
    last = get_column_letter(ncols)
    widths = sheet_widths(ws)
    width = sum(widths[:ncols])
    ws.row_dimensions[1].height = text_height(title, width, TITLE_SIZE_PT, TITLE_PT)
    ws.merged_cells.add(f"A1:{last}1")
    ws.append([cell(ws, title, TITLE)])
    split = max(1, ncols - 2)
    ws.merged_cells.add(f"A2:{get_column_letter(split)}2")
    ws.merged_cells.add(f"{get_column_letter(split + 1)}2:{last}2")
    ws.row_dimensions[2].height = row_height([(left, sum(widths[:split])), (right, sum(widths[split:ncols]))],
                                             SUBTITLE_PT)
    ws.append([cell(ws, left, SUBTITLE)] + [None] * (split - 1) + [cell(ws, right, SUBTITLE_R)])
    marked = text_height(f"{title}（{LONGEST_MARK}）", width, TITLE_SIZE_PT, TITLE_PT)
    return max(ws.row_dimensions[1].height, marked) + ws.row_dimensions[2].height


def header_row(ws, headers: list[str], widths, row: int, minimum: float) -> float:
    """The header row, as tall as its wrapped labels need."""
    height = max(minimum, row_height(list(zip(headers, widths))))
    ws.row_dimensions[row].height = height
    ws.append([cell(ws, h, HEADER) for h in headers])
    return height


def merge(ws, ref: str) -> None:
    """Merge ``ref``; our ranges never overlap, so skip openpyxl's check (quadratic in the count)."""
    ws.merged_cells.ranges.add(CellRange(ref))
