"""What every sheet of the workbook shares: column widths, title lines, header row, merges, print setup."""
from __future__ import annotations

import datetime as dt

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
)
from wcreport.report.styles import FONT_NAME, HEADER, SUBTITLE, SUBTITLE_R, TITLE, cell

PAGE_FOOTER = "第 &P 页，共 &N 页"
CORRECTION_MARK = "更正版{number}　{date}"


def correction_mark(number: int, day: dt.date) -> str:
    """What a 更正版's every printed sheet says beside its title: 更正版N and its date."""
    return CORRECTION_MARK.format(number=number, date=date_zh(day))


def mark_title(ws, mark: str) -> None:
    """Put ``mark`` in the title area of a written sheet: after the title (row 1, where
    ``title_lines`` writes it) and in the page header, so every printed page carries it,
    the details sheet (no title row) included."""
    title = ws.cell(row=1, column=1)
    if any(r.min_row == r.max_row == 1 and r.min_col == 1 for r in ws.merged_cells.ranges) \
            and isinstance(title.value, str) and mark not in title.value:
        title.value = f"{title.value}（{mark}）"
        title.data_type = "s"
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


def title_lines(ws, title: str, left: str, right: str, ncols: int) -> None:
    """Row 1: title across the table; row 2: left note and 填报日期 on the right."""
    last = get_column_letter(ncols)
    ws.row_dimensions[1].height = TITLE_PT
    ws.merged_cells.add(f"A1:{last}1")
    ws.append([cell(ws, title, TITLE)])
    split = max(1, ncols - 2)
    ws.merged_cells.add(f"A2:{get_column_letter(split)}2")
    ws.merged_cells.add(f"{get_column_letter(split + 1)}2:{last}2")
    ws.row_dimensions[2].height = max(SUBTITLE_PT, row_height([(left, sum(sheet_widths(ws)[:split]))]))
    ws.append([cell(ws, left, SUBTITLE)] + [None] * (split - 1) + [cell(ws, right, SUBTITLE_R)])


def header_row(ws, headers: list[str], widths, row: int, minimum: float) -> float:
    """The header row, as tall as its wrapped labels need."""
    height = max(minimum, row_height(list(zip(headers, widths))))
    ws.row_dimensions[row].height = height
    ws.append([cell(ws, h, HEADER) for h in headers])
    return height


def merge(ws, ref: str) -> None:
    """Merge ``ref``; our ranges never overlap, so skip openpyxl's check (quadratic in the count)."""
    ws.merged_cells.ranges.add(CellRange(ref))
