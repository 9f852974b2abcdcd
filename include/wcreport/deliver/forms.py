"""Blank unit forms laid out like the notice's attachment, one workbook per unit.

Sheet 1 (报表) is the attached form: title, "单位：（盖章）" line, the five columns,
pre-filled with the unit's tasks. Sheet 2 (指标) lists the numeric indicators the unit
reports, with the target and an empty cell for the cumulative value.
"""
from __future__ import annotations

import re
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.worksheet.worksheet import Worksheet

from wcreport.core.model import FORM_FIELDS, FORM_HEADERS_ZH
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter

FORM_SHEET = "报表"
INDICATOR_SHEET = "指标"
INDICATOR_HEADERS = ("序号", "指标名称", "目标值", "计量单位", "本年累计完成值")
HEADER_ROW = 3
FIRST_DATA_ROW = 4
COLUMN_WIDTHS = {"seq": 6, "task_name": 26, "units": 22, "progress": 70, "deadline": 14}
FONT_NAME = "宋体"
_THIN = Side(style="thin")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
WRAP = Alignment(wrap_text=True, vertical="center")
CENTRE = Alignment(wrap_text=True, vertical="center", horizontal="center")


def template_filename(programme: Programme, unit_key: str, quarter: Quarter) -> str:
    unit = programme.unit(unit_key)
    return f"{quarter.label_zh}{_safe_name(unit.name)}实事进展情况报表.xlsx"


def write_unit_template(programme: Programme, unit_key: str, quarter: Quarter,
                        path: str | Path) -> Path:
    """Write the blank form for one unit and quarter; return the path written."""
    workbook = build_unit_workbook(programme, unit_key, quarter)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path



def build_unit_workbook(programme: Programme, unit_key: str, quarter: Quarter,
                        progress: dict[int, str] | None = None,
                        deadlines: dict[int, str] | None = None,
                        indicator_values: dict[str, object] | None = None) -> Workbook:
    """The unit's form, optionally filled (used by the sample generator)."""
    unit = programme.unit(unit_key)
    workbook = Workbook()
    form = workbook.active
    form.title = FORM_SHEET
    _write_form(form, programme, unit.key, unit.name, quarter, progress or {}, deadlines or {})
    indicators = workbook.create_sheet(INDICATOR_SHEET)
    _write_indicators(indicators, programme, unit.key, quarter, indicator_values or {})
    return workbook


def _write_form(sheet: Worksheet, programme: Programme, unit_key: str, unit_name: str,
                quarter: Quarter, progress: dict[int, str], deadlines: dict[int, str]) -> None:
    last_col = len(FORM_FIELDS)
    sheet.cell(1, 1, f"{programme.report.title}（{quarter.label_zh}）")
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last_col)
    sheet.cell(1, 1).font = Font(name=FONT_NAME, size=16, bold=True)
    sheet.cell(1, 1).alignment = CENTRE
    sheet.row_dimensions[1].height = 32
    sheet.cell(2, 1, f"单位：（盖章）{unit_name}")
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=last_col)
    sheet.cell(2, 1).font = Font(name=FONT_NAME, size=12)
    for col, field in enumerate(FORM_FIELDS, start=1):
        cell = sheet.cell(HEADER_ROW, col, FORM_HEADERS_ZH[field])
        cell.font = Font(name=FONT_NAME, size=12, bold=True)
        cell.alignment, cell.border = CENTRE, BORDER
        sheet.column_dimensions[cell.column_letter].width = COLUMN_WIDTHS[field]
    for offset, task in enumerate(programme.tasks_of(unit_key)):
        row = FIRST_DATA_ROW + offset
        values = (task.seq, task.name, unit_name, progress.get(task.seq, ""),
                  deadlines.get(task.seq, ""))
        for col, value in enumerate(values, start=1):
            cell = sheet.cell(row, col, value)
            cell.data_type = "n" if isinstance(value, int) else "s"
            cell.font = Font(name=FONT_NAME, size=11)
            cell.alignment = CENTRE if col in (1, 5) else WRAP
            cell.border = BORDER
    _print_setup(sheet, HEADER_ROW)


def _write_indicators(sheet: Worksheet, programme: Programme, unit_key: str,
                      quarter: Quarter, values: dict[str, object]) -> None:
    sheet.cell(1, 1, f"{quarter.label_zh}数量指标完成情况（本年累计）")
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(INDICATOR_HEADERS))
    sheet.cell(1, 1).font = Font(name=FONT_NAME, size=14, bold=True)
    sheet.cell(2, 1, f"单位：（盖章）{programme.unit(unit_key).name}")
    for col, title in enumerate(INDICATOR_HEADERS, start=1):
        cell = sheet.cell(HEADER_ROW, col, title)
        cell.font = Font(name=FONT_NAME, bold=True)
        cell.alignment, cell.border = CENTRE, BORDER
    for offset, (task, indicator) in enumerate(programme.indicators_of(unit_key)):
        row = FIRST_DATA_ROW + offset
        cells = (task.seq, indicator.name, indicator.target, indicator.measure,
                 values.get(indicator.key))
        for col, value in enumerate(cells, start=1):
            cell = sheet.cell(row, col, value)
            cell.border, cell.alignment = BORDER, WRAP
    for letter, width in zip("ABCDE", (6, 36, 10, 10, 16)):
        sheet.column_dimensions[letter].width = width
    _print_setup(sheet, HEADER_ROW)


def _print_setup(sheet: Worksheet, header_row: int) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.freeze_panes = sheet.cell(header_row + 1, 1)


def _safe_name(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name)
