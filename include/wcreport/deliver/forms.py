"""Blank unit forms laid out like the notice's attachment, one workbook per unit.

Sheet 1 (报表) is the attached form: title, "单位：（盖章）" line, a short 填表说明 (what to
write, the quarter's deadline, the organiser and phone, the stamped scan), then the five
columns pre-filled with the unit's tasks as the notice writes them (序号, 实事名称, 责任单位).
Sheet 2 (指标) lists the numeric indicators the unit reports, with the target and a cell
for the cumulative value (Excel data validation: a number ≥ 0, an input message naming the
target).

The unit types only into the light-yellow cells; every other cell is locked by sheet
protection without a password (rows and columns may still be resized). When the unit's
previous quarter of the same year was accepted, its text stands in a grey column
"上季度报送内容（仅供参考）" beside the input cells, to be updated rather than copied;
the reader ignores that column (``wcreport.intake.locate``) and it is outside the print
area, so the printed, stamped copy is this quarter's form only.

LibreOffice does not size rows whose height is absent from the file: every row gets an
explicit height from its wrapped text.
"""
from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from wcreport.core.model import FORM_FIELDS, FORM_HEADERS_ZH, UnitResult
from wcreport.core.programme import Indicator, Programme
from wcreport.core.quarter import Quarter
from wcreport.core.settings import QuarterPaths
from wcreport.core.templating import date_zh, number
from wcreport.report.safe_cells import set_text

FORM_SHEET = "报表"
INDICATOR_SHEET = "指标"
INDICATOR_HEADERS = ("序号", "指标名称", "目标值", "计量单位", "本年累计完成值")
# Headers of the reference columns; "仅供参考" is what the reader ignores them by.
REFERENCE_MARK = "仅供参考"
REFERENCE_HEADER = f"上季度报送内容（{REFERENCE_MARK}）"
INDICATOR_REFERENCE_HEADER = f"上季度报送值（{REFERENCE_MARK}）"
TITLE_ROW, UNIT_ROW, NOTE_ROW, HEADER_ROW = 1, 2, 3, 4
FIRST_DATA_ROW = 5
PROGRESS_COLUMN, DEADLINE_COLUMN = 4, 5          # D and E: what the unit fills in
INDICATOR_VALUE_COLUMN = 5                       # E of the 指标 sheet
COLUMN_WIDTHS = {"seq": 6, "task_name": 26, "units": 22, "progress": 70, "deadline": 14}
REFERENCE_WIDTH = 50
INDICATOR_REFERENCE_WIDTH = 24
INDICATOR_WIDTHS = (6, 36, 10, 10, 16)
FONT_NAME = "宋体"
_THIN = Side(style="thin")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
WRAP = Alignment(wrap_text=True, vertical="center")
TOP_WRAP = Alignment(wrap_text=True, vertical="top")
CENTRE = Alignment(wrap_text=True, vertical="center", horizontal="center")
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")       # light yellow: type here
REFERENCE_FILL = PatternFill("solid", fgColor="EDEDED")   # grey: read only, last quarter
NOTE_FILL = PatternFill("solid", fgColor="EAF1FB")        # pale blue: the instructions
UNLOCKED = Protection(locked=False)
# Row heights: points per wrapped line (Noto CJK, the fallback for 宋体 here, is taller than
# SimSun), room for six lines of progress text, Excel's maximum row height.
LINE_POINTS = {10: 14.5, 11: 16.0, 12: 17.5}
PADDING_POINTS = 6.0
INPUT_LINES = 6
MAX_ROW_POINTS = 409.0


# --- names and files ------------------------------------------------------------------
def template_filename(programme: Programme, unit_key: str, quarter: Quarter) -> str:
    unit = programme.unit(unit_key)
    return f"{quarter.label_zh}{_safe_name(unit.name)}实事进展情况报表.xlsx"


def quarter_zip_filename(quarter: Quarter) -> str:
    return f"{quarter.label_zh}各责任单位实事进展情况报表.zip"


def previous_accepted(output_root: str | Path | None, unit_key: str, quarter: Quarter) -> UnitResult | None:
    """The unit's accepted result of the quarter before ``quarter`` in the same year, if any."""
    from wcreport.core.unit_results import previous_result

    if output_root is None or quarter.number == 1:
        return None   # a new year: other tasks, cumulative values restart
    paths = QuarterPaths(quarter, Path(output_root), Path(output_root))
    result = previous_result(paths, unit_key)
    return result if result is not None and result.status == "submitted" else None


def write_unit_template(programme: Programme, unit_key: str, quarter: Quarter, path: str | Path, *,
                        output_root: str | Path | None = None) -> Path:
    """Write the blank form for one unit and quarter; return the path written.

    With ``output_root``, the unit's accepted text of the previous quarter is shown for
    reference (``<output_root>/<previous quarter>/units/<key>.json``).
    """
    previous = previous_accepted(output_root, programme.unit(unit_key).key, quarter)
    workbook = build_unit_workbook(programme, unit_key, quarter, previous=previous)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def write_quarter_templates(programme: Programme, quarter: Quarter, out_dir: str | Path, *,
                            output_root: str | Path | None = None,
                            unit_keys: Iterable[str] | None = None) -> list[Path]:
    """One blank form per unit (all units by default) in ``out_dir``; the paths written."""
    keys = list(unit_keys) if unit_keys is not None else [u.key for u in programme.units]
    return [write_unit_template(programme, key, quarter, Path(out_dir) / template_filename(programme, key, quarter),
                                output_root=output_root)
            for key in keys]


def zip_files(files: Iterable[Path], target: str | Path) -> Path:
    """A zip of ``files`` (flat, UTF-8 member names) for mailing; the path written."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, arcname=Path(file).name)
    return target


# --- the workbook ---------------------------------------------------------------------
def build_unit_workbook(programme: Programme, unit_key: str, quarter: Quarter,
                        progress: dict[int, str] | None = None,
                        deadlines: dict[int, str] | None = None,
                        indicator_values: dict[str, object] | None = None,
                        previous: UnitResult | None = None) -> Workbook:
    """The unit's form, optionally filled (the sample generator fills it), with the
    previous quarter's accepted text for reference when ``previous`` is given."""
    unit = programme.unit(unit_key)
    workbook = Workbook()
    form = workbook.active
    form.title = FORM_SHEET
    previous_rows = _previous_texts(previous)
    _write_form(form, programme, unit.key, unit.name, quarter, progress or {}, deadlines or {}, previous_rows)
    indicators = workbook.create_sheet(INDICATOR_SHEET)
    previous_values = {i.key: i.raw for i in (previous.indicators if previous else []) if i.key}
    _write_indicators(indicators, programme, unit.key, quarter, indicator_values or {}, previous_values)
    return workbook


def _previous_texts(previous: UnitResult | None) -> dict[int, str]:
    """seq -> the accepted progress text (and deadline) of the previous quarter."""
    texts: dict[int, str] = {}
    for row in previous.rows if previous else []:
        if row.seq is None or not row.progress.strip():
            continue
        text = row.progress.strip()
        if row.deadline.strip():
            text += f"\n（完成时限：{row.deadline.strip()}）"
        texts[row.seq] = texts[row.seq] + "\n" + text if row.seq in texts else text
    return texts


def instructions(programme: Programme, quarter: Quarter, with_reference: bool) -> str:
    """The 填表说明 above the form. Never contains 「单位：」: readers of printed copies look for it."""
    deadline = date_zh(programme.deadline(quarter.number))
    contact = programme.report.organiser + (f"（联系电话：{programme.report.phone}）" if programme.report.phone else "")
    lines = [
        "1. 请在浅黄色格内逐项填写本季度具体措施及任务进度情况（做了什么、进展到哪一步、完成多少），"
        f"以及完成时限（如“{programme.year}年12月底”或“长期坚持”）；其他格已按通知填好并锁定，无需改动。",
        f"2. 「{INDICATOR_SHEET}」工作表的浅黄色格填写本年累计完成值，只填数字（如 2200），尚无进展填 0。",
    ]
    lines[0] += "内容较多时，双击行号下边线即可调高该行。"
    if with_reference:
        lines.append("3. 右侧灰色列（不打印）是上季度已报送的内容，仅供参考：请在其基础上写本季度的新进展，不要照抄。")
    lines.append(f"{len(lines) + 1}. 请于{deadline}前将本表（Excel 文件）连同盖章扫描件"
                 f"（本表打印、加盖公章后扫描成 PDF 或图片）一并报送{contact}。")
    return "填表说明：\n" + "\n".join(lines)


def _write_form(sheet: Worksheet, programme: Programme, unit_key: str, unit_name: str, quarter: Quarter,
                progress: dict[int, str], deadlines: dict[int, str], previous: dict[int, str]) -> None:
    last_col = len(FORM_FIELDS)
    widths = [COLUMN_WIDTHS[f] for f in FORM_FIELDS]
    _title(sheet, f"{programme.report.title}（{quarter.label_zh}）", last_col)
    _unit_line(sheet, unit_name, last_col)
    _note(sheet, instructions(programme, quarter, bool(previous)), last_col, sum(widths))
    headers = [FORM_HEADERS_ZH[f] for f in FORM_FIELDS] + ([REFERENCE_HEADER] if previous else [])
    _header(sheet, headers, widths + ([REFERENCE_WIDTH] if previous else []))
    tasks = programme.tasks_of(unit_key)
    for offset, task in enumerate(tasks):
        row = FIRST_DATA_ROW + offset
        units = "\n".join(programme.units_label_for_form(task))
        fixed = (task.seq, task.name, units)
        for col, value in enumerate(fixed, start=1):
            _cell(sheet, row, col, value, CENTRE if col == 1 else WRAP)
        _input_cell(sheet, row, PROGRESS_COLUMN, progress.get(task.seq, ""), TOP_WRAP)
        _input_cell(sheet, row, DEADLINE_COLUMN, deadlines.get(task.seq, ""), CENTRE)
        texts = [(task.name, widths[1], 11), (units, widths[2], 11), (progress.get(task.seq, ""), widths[3], 11)]
        if previous:
            reference = previous.get(task.seq, "（上季度未填写此项）")
            _reference_cell(sheet, row, last_col + 1, reference)
            texts.append((reference, REFERENCE_WIDTH, 10))
        sheet.row_dimensions[row].height = _row_height(texts, minimum_lines=INPUT_LINES)
    last_row = FIRST_DATA_ROW + len(tasks) - 1
    if tasks:
        _prompt(sheet, f"D{FIRST_DATA_ROW}:D{last_row}", FORM_HEADERS_ZH["progress"],
                "写明本季度采取的具体措施、进展到哪一步、完成的数量；不要只写“见附件”“同上”，"
                "也不要照抄上季度内容。")
        _prompt(sheet, f"E{FIRST_DATA_ROW}:E{last_row}", FORM_HEADERS_ZH["deadline"],
                f"如“{programme.year}年12月底”“{programme.year}.12”或“长期坚持”，须在{programme.year}年内。")
    _finish(sheet, last_col, max(last_row, HEADER_ROW), f"{_letter(PROGRESS_COLUMN)}{FIRST_DATA_ROW}")


def _write_indicators(sheet: Worksheet, programme: Programme, unit_key: str, quarter: Quarter,
                      values: dict[str, object], previous: dict[str, str]) -> None:
    last_col = len(INDICATOR_HEADERS)
    _title(sheet, f"{quarter.label_zh}数量指标完成情况（本年累计）", last_col, size=14)
    _unit_line(sheet, programme.unit(unit_key).name, last_col)
    note = (f"填表说明：浅黄色格填写{programme.year}年1月1日起至本季度末的累计完成值，只填数字"
            "（如 2200；百分比指标填数值，如 85 表示 85%），尚无进展填 0。鼠标停在格上可看到全年目标。")
    _note(sheet, note, last_col, sum(INDICATOR_WIDTHS))
    headers = list(INDICATOR_HEADERS) + ([INDICATOR_REFERENCE_HEADER] if previous else [])
    _header(sheet, headers, list(INDICATOR_WIDTHS) + ([INDICATOR_REFERENCE_WIDTH] if previous else []))
    pairs = programme.indicators_of(unit_key)
    for offset, (task, indicator) in enumerate(pairs):
        row = FIRST_DATA_ROW + offset
        fixed = (task.seq, indicator.name, _plain(indicator.target), indicator.measure)
        for col, value in enumerate(fixed, start=1):
            _cell(sheet, row, col, value, WRAP if col == 2 else CENTRE)
        cell = _input_cell(sheet, row, INDICATOR_VALUE_COLUMN, values.get(indicator.key), CENTRE)
        _number_validation(sheet, cell.coordinate, indicator)
        if previous:
            _reference_cell(sheet, row, last_col + 1, previous.get(indicator.key, "（未填写）"))
        sheet.row_dimensions[row].height = _row_height([(indicator.name, INDICATOR_WIDTHS[1], 11)], minimum_lines=2)
    _finish(sheet, last_col, max(FIRST_DATA_ROW + len(pairs) - 1, HEADER_ROW),
            f"{_letter(INDICATOR_VALUE_COLUMN)}{FIRST_DATA_ROW}")


# --- cells ----------------------------------------------------------------------------
def _title(sheet: Worksheet, text: str, last_col: int, size: int = 16) -> None:
    cell = _cell(sheet, TITLE_ROW, 1, text, CENTRE, border=False)
    cell.font = Font(name=FONT_NAME, size=size, bold=True)
    sheet.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=last_col)
    sheet.row_dimensions[TITLE_ROW].height = 32


def _unit_line(sheet: Worksheet, unit_name: str, last_col: int) -> None:
    cell = _cell(sheet, UNIT_ROW, 1, f"单位：（盖章）{unit_name}", Alignment(vertical="center"), border=False)
    cell.font = Font(name=FONT_NAME, size=12)
    sheet.merge_cells(start_row=UNIT_ROW, start_column=1, end_row=UNIT_ROW, end_column=last_col)
    sheet.row_dimensions[UNIT_ROW].height = 24


def _note(sheet: Worksheet, text: str, last_col: int, width: float) -> None:
    cell = _cell(sheet, NOTE_ROW, 1, text, Alignment(wrap_text=True, vertical="top"), border=False)
    cell.font = Font(name=FONT_NAME, size=10, color="1F3864")
    cell.fill = NOTE_FILL
    sheet.merge_cells(start_row=NOTE_ROW, start_column=1, end_row=NOTE_ROW, end_column=last_col)
    sheet.row_dimensions[NOTE_ROW].height = _row_height([(text, width, 10)], minimum_lines=1)


def _header(sheet: Worksheet, titles: list[str], widths: list[float]) -> None:
    for col, (title, width) in enumerate(zip(titles, widths), start=1):
        cell = _cell(sheet, HEADER_ROW, col, title, CENTRE)
        cell.font = Font(name=FONT_NAME, size=12 if REFERENCE_MARK not in title else 10, bold=True)
        sheet.column_dimensions[_letter(col)].width = width
    sheet.row_dimensions[HEADER_ROW].height = _row_height(
        [(t, w, 12) for t, w in zip(titles, widths)], minimum_lines=2)


def _cell(sheet: Worksheet, row: int, col: int, value, alignment: Alignment, border: bool = True):
    cell = sheet.cell(row, col)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        cell.value = value
    elif value not in (None, ""):
        set_text(cell, value)
    cell.font = Font(name=FONT_NAME, size=11)
    cell.alignment = alignment
    if border:
        cell.border = BORDER
    return cell


def _input_cell(sheet: Worksheet, row: int, col: int, value, alignment: Alignment):
    cell = _cell(sheet, row, col, value, alignment)
    cell.fill = INPUT_FILL
    cell.protection = UNLOCKED
    return cell


def _reference_cell(sheet: Worksheet, row: int, col: int, text: str) -> None:
    """Last quarter's text: always a string cell, never a formula (it came from a unit's file)."""
    cell = _cell(sheet, row, col, text, TOP_WRAP)
    cell.font = Font(name=FONT_NAME, size=10, color="595959")
    cell.fill = REFERENCE_FILL


def _prompt(sheet: Worksheet, cells: str, title: str, text: str) -> None:
    """An input message on ``cells`` (any value allowed)."""
    validation = DataValidation(allow_blank=True, showInputMessage=True, promptTitle=title[:32], prompt=text[:255])
    validation.add(cells)
    sheet.add_data_validation(validation)


def _number_validation(sheet: Worksheet, cell: str, indicator: Indicator) -> None:
    """A decimal ≥ 0, with the target and measure in the input message."""
    target = target_words(indicator)
    validation = DataValidation(
        type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
        showInputMessage=True, promptTitle=indicator.name[:32],
        prompt=(f"全年目标：{target}。请填写本年累计完成值（计量单位：{indicator.measure}），只填数字；"
                "尚无进展填 0。")[:255],
        showErrorMessage=True, errorStyle="stop", errorTitle="请只填写数字",
        error=f"请填写不小于 0 的数字（计量单位：{indicator.measure}），不要加“约”“以上”等文字。"[:255])
    validation.add(cell)
    sheet.add_data_validation(validation)


def target_words(indicator: Indicator) -> str:
    """The year's target as the notice words it: "2200个以上", "约12000人", "2所"."""
    value = f"{number(indicator.target)}{indicator.measure}"
    return {"at_least": f"{value}以上", "about": f"约{value}"}.get(indicator.comparison, value)


def _finish(sheet: Worksheet, last_col: int, last_row: int, first_input: str) -> None:
    """Print setup, frozen header, the first input cell selected, protection without password."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.page_margins.left = sheet.page_margins.right = 0.5
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.print_area = f"A1:{_letter(last_col)}{last_row}"   # the reference column is not printed
    sheet.freeze_panes = sheet.cell(FIRST_DATA_ROW, 1)
    sheet.sheet_view.selection[-1].activeCell = first_input
    sheet.sheet_view.selection[-1].sqref = first_input
    protection = sheet.protection
    protection.sheet = True
    protection.formatRows = False          # False = allowed: a unit may make a row taller
    protection.formatColumns = False
    protection.selectLockedCells = False
    protection.selectUnlockedCells = False


# --- sizes ----------------------------------------------------------------------------
def _display_units(text: str) -> float:
    """Width of ``text`` in CJK characters (Latin letters and digits count half)."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def wrapped_lines(text: str, width: float, font_size: int = 11) -> int:
    """Lines ``text`` takes in a wrapped cell ``width`` characters wide (Excel width units)."""
    per_line = max(1.0, width / 2.0 * 11 / font_size - 1)
    return sum(max(1, math.ceil(_display_units(part) / per_line)) for part in str(text).split("\n"))


def _row_height(texts: list[tuple[str, float, int]], minimum_lines: int) -> float:
    points = 0.0
    for text, width, size in texts:
        points = max(points, wrapped_lines(text, width, size) * LINE_POINTS[size])
    points = max(points, minimum_lines * LINE_POINTS[11])
    return min(MAX_ROW_POINTS, points + PADDING_POINTS)


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _safe_name(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name)
