"""Locate the notice's form inside a workbook grid and read it without losing anything.

Handles the drift seen in real submissions: title rows above the header, the
"单位：（盖章）" line, header variants ("序 号", "实事\\n名称", "进度情况", "完成时间"),
merged cells, multi-line cells, blank and repeated header rows, rows in any order,
extra columns, several or hidden sheets, numbers stored as text and full-width digits.
Values are kept as written (``cell_text``); only matching uses normalised text.
"""
from __future__ import annotations

import difflib
import re

from wcreport.core.findings_catalogue import finding
from wcreport.core.model import FORM_FIELDS, FORM_HEADERS_ZH, Finding, IndicatorValue, ParsedReport, ProgressRow
from wcreport.intake.cells import cell_text, date_text, parse_number, parse_seq, squeeze
from wcreport.intake.reader import SheetGrid, WorkbookGrid

_UNIT_LINE_RE = re.compile(r"^(?:填报|报送|填表|上报)?单位(?:名称)?(?:\(盖章\))?[:：]")
_UNIT_LINE_STOP = re.compile(r"(填报人|填表人|联系人|联系电话|电话|报送日期|填报日期|填表日期|日期|审核人|负责人)[:：]?")
_STAMP_RE = re.compile(r"[(（]?\s*(?:加盖)?(?:公章|盖章|签章)\s*[)）]?")
_FOOTER_PREFIXES = ("填报人", "填表人", "联系人", "联系电话", "审核人", "负责人",
                    "注：", "注:", "说明", "备注：", "备注:", "填表说明")
# A column or sheet marked for reference only (the template shows the previous quarter's
# accepted text as "上季度报送内容（仅供参考）"): never read as this quarter's report.
_REFERENCE_MARKS = ("仅供参考", "上季度")


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


def is_reference(value) -> bool:
    """A header or sheet name that marks reference material, not the unit's report."""
    text = squeeze(value)
    return any(mark in text for mark in _REFERENCE_MARKS)


def header_field(value) -> str | None:
    """Which form field a header cell names, tolerant of spaces, newlines and variants."""
    text = squeeze(value)
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


def indicator_header_field(value) -> str | None:
    text = squeeze(value)
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


def _merged_anchor(sheet: SheetGrid) -> dict[tuple[int, int], tuple[int, int]]:
    out = {}
    for r1, c1, r2, c2 in sheet.merged:
        if (r2 - r1 + 1) * (c2 - c1 + 1) > 10_000:
            continue
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                out[(r, c)] = (r1, c1)
    return out


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


def _read_rows(sheet: SheetGrid, cells, header_row: int, columns: dict[str, int], programme
               ) -> tuple[list[ProgressRow], list[Finding]]:
    """The form's rows below the header, and a warning for each 序号 that contradicts its task name."""
    rows: list[ProgressRow] = []
    findings: list[Finding] = []
    anchors = _merged_anchor(sheet)
    row_at: dict[int, ProgressRow] = {}           # 0-based sheet row -> the task row read there
    for r in range(header_row + 1, len(cells)):
        row = cells[r]
        if all(cell_text(v) == "" for v in row):
            continue
        if _is_header_row(row, columns, header_field):
            continue
        if indicator_header_field(_value(row, columns.get("task_name"))) == "name" or \
                sum(1 for v in row if indicator_header_field(v)) >= 3:
            break  # an indicator section below the form
        texts = {f: cell_text(_value(row, c)) for f, c in columns.items()}
        first = next((cell_text(v) for v in row if cell_text(v)), "")
        if squeeze(first).startswith(_FOOTER_PREFIXES) and not texts.get("progress"):
            continue
        if not any(texts.get(f) for f in ("seq", "task_name", "progress")):
            continue
        task = _continued_task(r, columns, anchors, row_at)
        if task is not None:
            _append_fragment(task, r, columns, anchors, texts.get("progress", ""))
            continue
        seq_written = parse_seq(_value(row, columns.get("seq")))
        seq = _match_task(texts.get("task_name", ""), programme) or seq_written
        refs = {}
        for f, c in columns.items():
            # A merged cell's value lives at its anchor: point the unit there only
            # when the row's own cell is part of a merge that starts elsewhere.
            refs[f] = a1(r, c) if anchors.get((r, c), (r, c)) == (r, c) else a1(*anchors[(r, c)])
        if seq_written is not None and seq is not None and seq_written != seq and texts.get("task_name"):
            findings.append(finding("table.seq_mismatch", sheet=sheet.name, cell=refs.get("seq"),
                                    written=seq_written, task_name=texts["task_name"], seq=seq))
        rows.append(ProgressRow(
            seq=seq, task_name=texts.get("task_name", ""), units=texts.get("units", ""),
            progress=texts.get("progress", ""), deadline=date_text(_value(row, columns.get("deadline"))),
            sheet=sheet.name, row=r + 1, cells=refs))
        row_at[r] = rows[-1]
    return rows, findings


def _continued_task(r: int, columns: dict[str, int], anchors, row_at: dict[int, ProgressRow]) -> ProgressRow | None:
    """The task this row continues: its 序号 (or 实事名称) cell is merged down from a task row above."""
    key_col = columns.get("seq", columns.get("task_name"))
    if key_col is None:
        return None
    anchor_row = anchors.get((r, key_col), (r, key_col))[0]
    return row_at.get(anchor_row) if anchor_row != r else None


def _append_fragment(task: ProgressRow, r: int, columns: dict[str, int], anchors, text: str) -> None:
    """Add the row's own progress text (a fragment like 二是…) to the task, keeping line breaks."""
    col = columns.get("progress")
    if col is None or not text or anchors.get((r, col), (r, col))[0] != r:
        return  # no progress cell, or the progress cell is merged too: already read
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
        cell = a1(r, columns["value"])
        key = _match_indicator(name, programme)
        # A value that is not a number is kept (value=None); the indicators suite reports it.
        values.append(IndicatorValue(key=key, name=name, raw=raw, value=number, sheet=sheet.name, cell=cell))
    return values


def _score(sheet: SheetGrid) -> tuple[int, int, dict[str, int], list[list[object]]] | None:
    cells = fill_merged(sheet)
    found = _find_header(cells, header_field, {"progress"})
    if found is None:
        found = _find_header(cells, header_field, {"task_name"})
    if found is None:
        return None
    header_row, columns = found
    return header_row, len(columns), columns, cells


def locate_report(grid: WorkbookGrid, programme) -> ParsedReport:
    """Find the form (and the indicator table) in a workbook; never raises on odd layouts."""
    candidates = []
    for index, sheet in enumerate(grid.sheets):
        if is_reference(sheet.name):
            continue
        scored = _score(sheet)
        if scored is None:
            continue
        header_row, n_fields, columns, cells = scored
        rows, _warnings = _read_rows(sheet, cells, header_row, columns, programme)
        filled = sum(1 for r in rows if r.progress)
        # Prefer visible sheets, then complete headers, then filled rows, then the first.
        candidates.append(((not sheet.hidden, n_fields, filled, len(rows), -index), index, scored))
    report = ParsedReport()
    if not candidates:
        sheets = "、".join(f"「{s.name}」" for s in grid.sheets)
        report.findings = [finding("table.no_header", sheets=sheets)]
    else:
        candidates.sort(reverse=True)
        _, index, scored = candidates[0]
        others = [grid.sheets[i].name for _, i, _s in candidates[1:]]
        _read_form(grid, grid.sheets[index], scored, others, programme, report)
    _attach_indicators(grid, programme, report)
    return report


def _read_form(grid: WorkbookGrid, sheet: SheetGrid, scored, others: list[str], programme,
               report: ParsedReport) -> None:
    header_row, _n, columns, cells = scored
    report.sheet = sheet.name
    report.header_row = header_row + 1
    report.sheet_note = _sheet_note(grid, sheet, others)
    report.unit_line = _unit_line(cells, header_row)
    findings = _missing_columns(sheet, header_row, columns)
    report.rows, warnings = _read_rows(sheet, cells, header_row, columns, programme)
    findings += warnings
    if not report.rows and "progress" in columns:
        findings.append(finding("table.no_rows", sheet=sheet.name, cell=a1(header_row + 1, 0), row=header_row + 1))
    report.findings = findings


def _sheet_note(grid: WorkbookGrid, sheet: SheetGrid, others: list[str]) -> str | None:
    """Why this sheet was taken, when the workbook has several or the form is hidden."""
    if not (others or sheet.hidden or len(grid.sheets) > 1):
        return None
    note = f"工作簿有 {len(grid.sheets)} 个工作表，采用「{sheet.name}」"
    if sheet.hidden:
        note += "（该表为隐藏工作表，但只有它含有报表表头）"
    elif others:
        note += f"（表头最完整、填写内容最多；另有「{'」「'.join(others)}」也像报表，未采用）"
    else:
        note += "（唯一含有报表表头的工作表）"
    return note + "。"


def _missing_columns(sheet: SheetGrid, header_row: int, columns: dict[str, int]) -> list[Finding]:
    """The progress column is required; any other missing column is a warning."""
    out = []
    for f in FORM_FIELDS:
        if f in columns:
            continue
        out.append(finding("table.missing_column" if f == "progress" else "table.missing_optional_column",
                           sheet=sheet.name, cell=a1(header_row, 0), field=f,
                           row=header_row + 1, column=FORM_HEADERS_ZH[f]))
    return out


def _attach_indicators(grid: WorkbookGrid, programme, report: ParsedReport) -> None:
    for sheet in grid.sheets:
        if is_reference(sheet.name):
            continue
        cells = fill_merged(sheet)
        start = 0
        if sheet.name == report.sheet and report.rows:
            start = max(r.row for r in report.rows)  # a section below the form
        report.indicators.extend(_read_indicators(sheet, cells, programme, start))
