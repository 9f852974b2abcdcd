"""Locate the notice's form inside a workbook grid and read it without losing anything.

Handles the drift seen in real submissions: title rows above the header, the
"单位：（盖章）" line, header variants ("序 号", "实事\\n名称", "进度情况", "完成时间"),
merged cells, multi-line cells, blank and repeated header rows, rows in any order,
extra columns, several or hidden sheets, numbers stored as text and full-width digits.
Values are kept as written (``cell_text``); only matching uses normalised text.
"""
from __future__ import annotations

import difflib
import functools
import re

from wcreport.core.findings_catalogue import finding
from wcreport.core.model import FORM_FIELDS, FORM_HEADERS_ZH, Finding, IndicatorValue, ParsedReport, ProgressRow
from wcreport.core.quarter import Quarter
from wcreport.intake.cells import cell_text, date_text, parse_number, parse_seq, squeeze
from wcreport.intake.header import HeaderLayout, find_header_row, is_reference, layout_at, merge_anchors
from wcreport.intake.quarter_names import Naming, judge
from wcreport.intake.reader import SheetGrid, WorkbookGrid
from wcreport.intake.sheets import Candidate, Choice, choose_sheet, sheet_note

_UNIT_LINE_RE = re.compile(r"^(?:填报|报送|填表|上报)?单位(?:名称)?(?:\(盖章\))?[:：]")
_UNIT_LINE_STOP = re.compile(r"(填报人|填表人|联系人|联系电话|电话|报送日期|填报日期|填表日期|日期|审核人|负责人)[:：]?")
_STAMP_RE = re.compile(r"[(（]?\s*(?:加盖)?(?:公章|盖章|签章)\s*[)）]?")
_FOOTER_PREFIXES = ("填报人", "填表人", "联系人", "联系电话", "审核人", "负责人",
                    "注：", "注:", "说明", "备注：", "备注:", "填表说明")
# What a clerk writes in a cell that says nothing: not worth a "column not read" warning.
_NOTHING = {"无", "/", "／", "-", "—", "——", "暂无", "无。", "空", "NA", "N/A", "0"}
_CELLS_LISTED = 8


def col_letter(col: int) -> str:
    """0-based column index -> spreadsheet letters (0 -> A, 27 -> AB)."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def a1(row: int, col: int) -> str:
    """0-based (row, col) -> "D7"."""
    return f"{col_letter(col)}{row + 1}"


def sheet_a1(sheet: SheetGrid, row: int, col: int) -> str:
    """0-based grid (row, col) -> the reference the unit finds in its file: "D7" counted from
    the sheet's top, or for a Word table from the table's first row (rows kept above it aside)."""
    return a1(row - sheet.rows_above, col)


def sheet_row(sheet: SheetGrid, row: int) -> int:
    """0-based grid row -> the 1-based row number the unit sees (see ``sheet_a1``)."""
    return row + 1 - sheet.rows_above


def header_field(value) -> str | None:
    """Which form field a header cell names, tolerant of spaces, newlines and variants."""
    return _form_field_named(squeeze(value))


def indicator_header_field(value) -> str | None:
    """Which indicator-table field a header cell names."""
    return _indicator_field_named(squeeze(value))


# Both namings are pure functions of the squeezed text, remembered: a form repeats its
# labels, and locating asks about every cell of every row below the header.
@functools.lru_cache(maxsize=8192)
def _form_field_named(text: str) -> str | None:
    if not text or len(text) > 30 or is_reference(text):
        return None
    text = text.strip("*＊:：")
    if text in ("序号", "序", "编号", "No", "No.", "NO", "NO.", "序列号"):
        return "seq"
    if any(k in text for k in ("时限", "完成时间", "完成期限", "时间节点", "截止时间")):
        return "deadline"
    if any(k in text for k in ("进度", "进展", "措施", "完成情况", "工作情况", "推进情况")):
        return "progress"
    if (any(k in text for k in ("实事名称", "实事项目", "项目名称", "任务名称", "事项名称"))
            or text in ("实事", "名称", "项目", "任务")):
        return "task_name"
    if any(k in text for k in ("责任单位", "牵头单位", "责任部门", "承办单位")) or text in ("单位", "部门"):
        return "units"
    return None


@functools.lru_cache(maxsize=8192)
def _indicator_field_named(text: str) -> str | None:
    if not text or len(text) > 30 or is_reference(text):
        return None
    if text in ("序号", "序", "编号"):
        return "seq"
    if "指标" in text and ("名称" in text or text == "指标" or "内容" in text):
        return "name"
    if "目标" in text:
        return "target"
    if "计量" in text or text in ("单位", "计量单位"):
        return "measure"
    if any(k in text for k in ("完成值", "累计完成", "完成数", "实际完成", "累计值")):
        return "value"
    return None


def fill_merged(sheet: SheetGrid) -> list[list[object]]:
    """A copy of the sheet's cells where every cell of a merged range holds the anchor's value."""
    cells = [list(row) for row in sheet.cells]
    for r1, c1, r2, c2 in sheet.merged:
        if r1 >= len(cells):
            continue
        anchor = cells[r1][c1] if c1 < len(cells[r1]) else None
        for r in range(r1, min(r2, len(cells) - 1) + 1):
            row = cells[r]
            if len(row) <= c2:
                row.extend([None] * (c2 + 1 - len(row)))
            for c in range(c1, c2 + 1):
                if (r, c) != (r1, c1):
                    row[c] = anchor
    return cells


def _find_header(cells: list[list[object]], classify, need: set[str]) -> tuple[int, dict[str, int]] | None:
    """First row whose cells name at least the ``need`` fields (and 3 fields in all)."""
    best = None
    for r, row in enumerate(cells[:60]):
        found: dict[str, int] = {}
        for c, value in enumerate(row):
            name = classify(value)
            if name and name not in found:
                found[name] = c
        if need <= set(found) and len(found) >= 3:
            if best is None or len(found) > len(best[1]):
                best = (r, found)
            if len(found) >= 5:
                break
    return best


def _is_header_row(row: list[object], columns: dict[str, int], classify) -> bool:
    hits = sum(1 for f, c in columns.items() if c < len(row) and classify(row[c]) == f)
    return hits >= 3


def _value(row: list[object], col: int | None) -> object:
    if col is None or col >= len(row):
        return None
    return row[col]


def _unit_line(cells: list[list[object]], upto: int) -> str | None:
    """Text after "单位：" above the header (the stamp note removed)."""
    for r in range(min(upto, len(cells))):
        row = cells[r]
        for c, value in enumerate(row):
            text = cell_text(value)
            flat = squeeze(text)
            if not _UNIT_LINE_RE.match(flat):
                continue
            rest = re.split(r"[:：]", text, maxsplit=1)[1] if re.search(r"[:：]", text) else ""
            rest = _UNIT_LINE_STOP.split(rest)[0]
            rest = _STAMP_RE.sub("", rest).strip(" \u3000:：")
            if not rest:  # the name may stand in the next non-empty cell of the row
                for later in row[c + 1:]:
                    later_text = cell_text(later)
                    if later_text and later_text != text:
                        candidate = _STAMP_RE.sub("", _UNIT_LINE_STOP.split(later_text)[0]).strip(" \u3000:：")
                        if candidate and not _UNIT_LINE_STOP.match(squeeze(later_text)):
                            rest = candidate
                        break
            return rest or ""
    return None


def _match_task(name: str, programme) -> int | None:
    # Full, short and derived names (wcreport.intake.task_names); None when ambiguous or unknown.
    if programme is None or not name:
        return None
    from wcreport.intake.task_names import match_task

    return match_task(name, programme).seq


def _match_indicator(name: str, programme) -> str | None:
    if programme is None or not name:
        return None
    wanted = squeeze(name)
    by_name = {squeeze(i.name): i.key for t in programme.tasks for i in t.indicators}
    if wanted in by_name:
        return by_name[wanted]
    inside = [key for n, key in by_name.items() if len(wanted) >= 3 and (wanted in n or n in wanted)]
    if len(set(inside)) == 1:
        return inside[0]
    close = difflib.get_close_matches(wanted, list(by_name), n=1, cutoff=0.75)
    return by_name[close[0]] if close else None


def _read_rows(sheet: SheetGrid, cells, layout: HeaderLayout, programme
               ) -> tuple[list[ProgressRow], list[Finding]]:
    """The form's rows below the header; a warning for each 序号 that contradicts its task name
    and for each column no header field claims that holds text in the form's rows."""
    columns = layout.columns
    rows: list[ProgressRow] = []
    findings: list[Finding] = []
    anchors = merge_anchors(sheet)
    row_at: dict[int, ProgressRow] = {}           # 0-based sheet row -> the task row read there
    unread: dict[int, list[str]] = {}             # unplaced column -> its cells holding text
    for r in range(layout.last_row + 1, len(cells)):
        row = cells[r]
        if all(cell_text(v) == "" for v in row):
            continue
        if _is_header_row(row, columns, header_field):
            continue
        if indicator_header_field(_value(row, columns.get("task_name"))) == "name" or \
                sum(1 for v in row if indicator_header_field(v)) >= 3:
            break  # an indicator section below the form
        texts = {f: cell_text(_value(row, c)) for f, c in columns.items()}
        progress, progress_cell = _progress_text(sheet, row, r, layout, anchors, own_only=False)
        if "progress" in columns:
            texts["progress"] = progress
        first = next((cell_text(v) for v in row if cell_text(v)), "")
        if squeeze(first).startswith(_FOOTER_PREFIXES) and not texts.get("progress"):
            continue
        if not any(texts.get(f) for f in ("seq", "task_name", "progress")):
            continue
        _note_unread(sheet, row, r, layout, anchors, unread)
        task = _continued_task(r, columns, anchors, row_at)
        if task is not None:
            _append_fragment(task, _progress_text(sheet, row, r, layout, anchors, own_only=True)[0])
            continue
        seq_written = parse_seq(_value(row, columns.get("seq")))
        seq = _match_task(texts.get("task_name", ""), programme) or seq_written
        refs = {}
        for f, c in columns.items():
            # A merged cell's value lives at its anchor: point the unit there only
            # when the row's own cell is part of a merge that starts elsewhere.
            refs[f] = sheet_a1(sheet, *anchors.get((r, c), (r, c)))
        if progress_cell:
            refs["progress"] = progress_cell
        if seq_written is not None and seq is not None and seq_written != seq and texts.get("task_name"):
            findings.append(finding("table.seq_mismatch", sheet=sheet.name, cell=refs.get("seq"),
                                    written=seq_written, task_name=texts["task_name"], seq=seq))
        rows.append(ProgressRow(
            seq=seq, task_name=texts.get("task_name", ""), units=texts.get("units", ""),
            progress=texts.get("progress", ""), deadline=date_text(_value(row, columns.get("deadline"))),
            sheet=sheet.name, row=sheet_row(sheet, r), cells=refs))
        row_at[r] = rows[-1]
    return rows, findings + _unread_findings(sheet, layout, unread)


def _progress_text(sheet: SheetGrid, row: list[object], r: int, layout: HeaderLayout, anchors, *, own_only: bool
                   ) -> tuple[str, str | None]:
    """The row's progress text and the cell it starts in.

    Every column under the progress header is read, in column order, a cell merged across
    several of them once. With several columns named differently (「具体措施」|「进度情况」)
    each piece is written on its own line after its column's name, as the leaders read it:
    「具体措施：…\n进度情况：…」 (a piece that already starts with the name keeps its own
    wording); columns without names of their own are joined by line breaks. ``own_only``
    (a row continuing a task above): only cells that start on this row.
    """
    pieces: list[str] = []
    first_cell: str | None = None
    seen: set[tuple[int, int]] = set()
    for column in layout.progress:
        anchor = anchors.get((r, column.col), (r, column.col))
        text = cell_text(_value(row, column.col))
        if anchor in seen or not text or (own_only and anchor[0] != r):
            continue
        seen.add(anchor)
        first_cell = first_cell or sheet_a1(sheet, *anchor)
        label = column.label
        labelled = layout.labelled and not squeeze(text).startswith(squeeze(label))
        pieces.append(f"{label}：{text}" if labelled else text)
    return "\n".join(pieces), first_cell


def _note_unread(sheet: SheetGrid, row: list[object], r: int, layout: HeaderLayout, anchors,
                 unread: dict[int, list[str]]) -> None:
    """Remember the row's cells with text in columns no header field claims."""
    for col in layout.unplaced:
        if anchors.get((r, col), (r, col)) != (r, col):
            continue        # merged from a cell read (or noted) elsewhere
        text = squeeze(_value(row, col))
        if text and text not in _NOTHING:
            unread.setdefault(col, []).append(sheet_a1(sheet, r, col))


def _unread_findings(sheet: SheetGrid, layout: HeaderLayout, unread: dict[int, list[str]]) -> list[Finding]:
    out = []
    for col, cells in sorted(unread.items()):
        listed = "、".join(cells[:_CELLS_LISTED]) + (f" 等 {len(cells)} 处" if len(cells) > _CELLS_LISTED else "")
        out.append(finding("table.column_not_read", sheet=sheet.name, cell=cells[0], column=col_letter(col),
                           header=layout.unplaced[col] or "无表头", cells=listed))
    return out


def _continued_task(r: int, columns: dict[str, int], anchors, row_at: dict[int, ProgressRow]) -> ProgressRow | None:
    """The task this row continues: its 序号 (or 实事名称) cell is merged down from a task row above."""
    key_col = columns.get("seq", columns.get("task_name"))
    if key_col is None:
        return None
    anchor_row = anchors.get((r, key_col), (r, key_col))[0]
    return row_at.get(anchor_row) if anchor_row != r else None


def _append_fragment(task: ProgressRow, text: str) -> None:
    """Add the row's own progress text (a fragment like 二是…) to the task, keeping line breaks."""
    if text:
        task.progress = f"{task.progress}\n{text}" if task.progress else text


def _read_indicators(sheet: SheetGrid, cells, programme, start: int = 0) -> list[IndicatorValue]:
    found = _find_header(cells[start:], indicator_header_field, {"name", "value"})
    if found is None:
        return []
    header_row, columns = found
    header_row += start
    values: list[IndicatorValue] = []
    for r in range(header_row + 1, len(cells)):
        row = cells[r]
        name = cell_text(_value(row, columns["name"]))
        if not name:
            continue
        if indicator_header_field(name) == "name":
            continue  # repeated header
        raw_value = _value(row, columns["value"])
        raw = cell_text(raw_value)
        if raw == "":
            continue
        number = parse_number(raw_value)
        cell = sheet_a1(sheet, r, columns["value"])
        key = _match_indicator(name, programme)
        # A value that is not a number is kept (value=None); the indicators suite reports it.
        values.append(IndicatorValue(key=key, name=name, raw=raw, value=number, sheet=sheet.name, cell=cell))
    return values


def _candidate(index: int, sheet: SheetGrid, programme) -> Candidate | None:
    """The sheet as a possible form: its header band and how much it holds; None without a header."""
    cells = fill_merged(sheet)
    header_row = find_header_row(cells, header_field, {"progress"})
    if header_row is None:
        header_row = find_header_row(cells, header_field, {"task_name"})
    if header_row is None:
        return None
    layout = layout_at(sheet, cells, header_row, header_field)
    rows, warnings = _read_rows(sheet, cells, layout, programme)
    return Candidate(index, sheet, layout, cells, task_rows=rows, row_findings=warnings)


def locate_report(grid: WorkbookGrid, programme, quarter: Quarter | None = None) -> ParsedReport:
    """Find the form (and the indicator table) in a workbook; never raises on odd layouts.

    With ``quarter``, the sheet is chosen and another quarter's file refused as
    ``intake.sheets`` says; without it, sheets are judged by their content alone.
    """
    candidates = [c for c in (_candidate(i, s, programme) for i, s in enumerate(grid.sheets)
                              if not is_reference(s.name)) if c is not None]
    choice = choose_sheet(candidates, quarter)
    report = ParsedReport(names_quarter=choice.names_quarter)
    if choice.chosen is not None:
        _read_form(choice.chosen, programme, report)
        report.sheet_note = sheet_note(len(grid.sheets), choice)
        report.findings = [*choice.findings, *report.findings]
    elif choice.findings:
        # Refused (another quarter's, or hidden): the 单位 line still tells whose file it is,
        # so the refusal reaches that unit.
        report.findings = choice.findings
        best = choice.passed_over[0]
        report.unit_line = _unit_line(best.cells, best.layout.first_row)
    else:
        sheets = "、".join(f"「{s.name}」" for s in grid.sheets)
        report.findings = [finding("table.no_header", sheets=sheets)]
    _attach_indicators(grid, programme, report, _not_for_indicators(grid, choice, quarter))
    return report


def _read_form(chosen: Candidate, programme, report: ParsedReport) -> None:
    sheet, layout, cells = chosen.sheet, chosen.layout, chosen.cells
    report.sheet = sheet.name
    report.header_row = sheet_row(sheet, layout.first_row)
    report.unit_line = _unit_line(cells, layout.first_row)
    findings = _missing_columns(sheet, layout.first_row, layout.columns)
    report.rows = chosen.task_rows
    findings += chosen.row_findings
    if not report.rows and "progress" in layout.columns:
        findings.append(finding("table.no_rows", sheet=sheet.name, cell=sheet_a1(sheet, layout.last_row + 1, 0),
                                row=sheet_row(sheet, layout.last_row)))
    report.findings = findings


def _missing_columns(sheet: SheetGrid, header_row: int, columns: dict[str, int]) -> list[Finding]:
    """The progress column is required; any other missing column is a warning."""
    out = []
    for f in FORM_FIELDS:
        if f in columns:
            continue
        out.append(finding("table.missing_column" if f == "progress" else "table.missing_optional_column",
                           sheet=sheet.name, cell=sheet_a1(sheet, header_row, 0), field=f,
                           row=sheet_row(sheet, header_row), column=FORM_HEADERS_ZH[f]))
    return out


def _not_for_indicators(grid: WorkbookGrid, choice: Choice, quarter: Quarter | None) -> set[str]:
    """Sheets whose indicator tables are not this quarter's: hidden ones, and those of another
    quarter (or the year's, when this quarter's form is elsewhere)."""
    skip = {s.name for s in grid.sheets if s.hidden} | choice.skipped()
    if quarter is not None:
        skip |= {s.name for s in grid.sheets if judge(s.name, quarter, sheet_name=True).naming is Naming.OTHER}
    if choice.chosen is not None:
        skip.discard(choice.chosen.sheet.name)
    return skip


def _attach_indicators(grid: WorkbookGrid, programme, report: ParsedReport, skip: set[str]) -> None:
    for sheet in grid.sheets:
        if is_reference(sheet.name) or sheet.name in skip:
            continue
        cells = fill_merged(sheet)
        start = 0
        if sheet.name == report.sheet and report.rows:
            start = max(r.row for r in report.rows) + sheet.rows_above  # a section below the form
        report.indicators.extend(_read_indicators(sheet, cells, programme, start))
