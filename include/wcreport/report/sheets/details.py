"""明细: the long table for analysis (header in row 1, auto-filter, SHA-256 and source of every text).

In the file but not printed (its print area is one empty cell). Text longer than a cell
continues in the next row, numbered in 分段; the sheet does not print, so row heights use
the quick estimate (``measure.quick_lines``).
"""
from __future__ import annotations

from openpyxl import Workbook

from wcreport.report.consolidate import Consolidated
from wcreport.report.layout import DETAILS, DETAILS_PRINT_AREA, MAX_ROW_PT, MIN_ROW_PT, page_scale
from wcreport.report.measure import height_for_lines, quick_lines
from wcreport.report.safe_cells import CELL_LIMIT, clean_text, split_for_cells, utf16_len
from wcreport.report.sheets.common import header_row, print_setup, set_widths
from wcreport.report.styles import CENTER, HASH, TEXT, TEXT_MID, cell

SHEET = "明细"
HEADERS = ["季度", "序号", "实事名称", "单位", "本季度具体措施及任务进度情况", "完成时限",
           "来源文件", "SHA-256", "来源位置", "分段"]


def write_details(wb: Workbook, c: Consolidated) -> None:
    ws = wb.create_sheet(SHEET)
    widths = DETAILS.widths
    set_widths(ws, widths)
    ws.freeze_panes = "A2"
    print_setup(ws, None, page_scale(sum(widths)), DETAILS_PRINT_AREA)
    ws.auto_filter.ref = f"A1:J{max(2, 1 + _row_count(c))}"
    header_row(ws, HEADERS, widths, 1, DETAILS.header_pt)
    row = 2
    for d in c.details:
        text = clean_text(d.text).text
        chunks = split_for_cells(text)
        where = f"{d.sheet}!{d.row}" if d.sheet and d.row else ""
        for k, chunk in enumerate(chunks, 1):
            lines = max(quick_lines(chunk, widths[4]), quick_lines(d.task, widths[2]),
                        quick_lines(d.unit_name, widths[3]))
            ws.row_dimensions[row].height = min(MAX_ROW_PT, max(MIN_ROW_PT, height_for_lines(lines)))
            ws.append([cell(ws, d.quarter, CENTER), cell(ws, d.seq, CENTER),
                       cell(ws, d.task, TEXT_MID), cell(ws, d.unit_name, TEXT_MID),
                       cell(ws, chunk, TEXT), cell(ws, d.deadline, CENTER),
                       cell(ws, d.source_file, TEXT_MID), cell(ws, d.sha256, HASH),
                       cell(ws, where, CENTER),
                       cell(ws, f"{k}/{len(chunks)}" if len(chunks) > 1 else "", CENTER)])
            row += 1


def _row_count(c: Consolidated) -> int:
    return sum(len(split_for_cells(clean_text(d.text).text)) if utf16_len(d.text) > CELL_LIMIT
               else 1 for d in c.details)
