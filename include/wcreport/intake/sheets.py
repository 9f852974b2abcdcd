"""Which sheet of a workbook is this quarter's form.

Hidden sheets are never read. With the quarter known, a sheet whose title (the rows above
its header) or name names this quarter wins; then sheets naming no quarter; a whole-year
sheet (全年/年度) only when no sheet names a quarter, with a warning; a sheet naming
another quarter is never read, and when only such sheets hold the form the file is
refused as another quarter's. Among equals: the fullest header, then the most filled
rows, then the first sheet.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from wcreport.core.findings_catalogue import finding
from wcreport.core.model import Finding, ProgressRow
from wcreport.core.quarter import Quarter
from wcreport.intake.cells import cell_text
from wcreport.intake.header import HeaderLayout
from wcreport.intake.quarter_names import Naming, QuarterNaming, judge_sheet, other_quarter_finding
from wcreport.intake.reader import SheetGrid

_PREFERENCE = (Naming.THIS, Naming.NONE, Naming.WHOLE_YEAR)


@dataclass
class Candidate:
    """A sheet holding the form's header."""

    index: int
    sheet: SheetGrid
    layout: HeaderLayout
    cells: list[list[object]]
    task_rows: list[ProgressRow]        # the form's rows as read from this sheet
    row_findings: list[Finding]         # what reading them found (seq mismatches, columns not read)
    naming: QuarterNaming = field(default_factory=lambda: QuarterNaming(Naming.NONE))

    @property
    def filled(self) -> int:
        """Rows with progress text."""
        return sum(1 for row in self.task_rows if row.progress)

    @property
    def rank(self) -> tuple[int, int, int, int]:
        return (len(self.layout.columns), self.filled, len(self.task_rows), -self.index)


@dataclass
class Choice:
    """The sheet read (None: none may be), why, and what the unit is told about the choice."""

    chosen: Candidate | None
    passed_over: list[Candidate] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    names_quarter: bool | None = None     # None when no quarter was given

    def skipped(self) -> set[str]:
        """Sheets another quarter's or the year's that were passed over: their indicators are not read."""
        return {c.sheet.name for c in self.passed_over if c.naming.naming in (Naming.OTHER, Naming.WHOLE_YEAR)}


def title_text(cells: list[list[object]], header_row: int) -> str:
    """The text above the header (title, 单位 line), one line per row."""
    lines = [" ".join(t for t in (cell_text(v) for v in dict.fromkeys(row)) if t) for row in cells[:header_row]]
    return "\n".join(line for line in lines if line)


def choose_sheet(candidates: list[Candidate], quarter: Quarter | None) -> Choice:
    """See the module docstring."""
    visible = sorted((c for c in candidates if not c.sheet.hidden), key=lambda c: c.rank, reverse=True)
    if not visible:
        hidden = "、".join(f"「{c.sheet.name}」" for c in candidates)
        return Choice(None, list(candidates), [finding("table.hidden_only", sheets=hidden)] if hidden else [])
    if quarter is None:
        return Choice(visible[0], visible[1:] + _hidden(candidates))
    for c in visible:
        c.naming = judge_sheet(c.sheet.name, title_text(c.cells, c.layout.first_row), quarter)
    groups = {wanted: [c for c in visible if c.naming.naming is wanted] for wanted in _PREFERENCE}
    if groups[Naming.NONE] and not groups[Naming.NONE][0].filled and any(c.filled for c in groups[Naming.WHOLE_YEAR]):
        groups[Naming.NONE] = []        # a blank copy of the form does not hide the filled whole-year sheet
    for wanted, group in groups.items():
        if group:
            chosen = group[0]
            others = [c for c in visible if c is not chosen] + _hidden(candidates)
            findings = []
            if wanted is Naming.WHOLE_YEAR:
                findings.append(finding("table.whole_year_sheet", sheet=chosen.sheet.name,
                                        quarter=quarter.label_zh))
            return Choice(chosen, others, findings, names_quarter=wanted is Naming.THIS)
    first = visible[0]
    return Choice(None, visible + _hidden(candidates),
                  [other_quarter_finding(first.naming.where, first.naming.other or 0, quarter,
                                         sheet=first.sheet.name)],
                  names_quarter=False)


def _hidden(candidates: list[Candidate]) -> list[Candidate]:
    return [c for c in candidates if c.sheet.hidden]


def sheet_note(sheet_count: int, choice: Choice) -> str | None:
    """Why this sheet was taken, when the workbook has several (Chinese, for the unit and the staff)."""
    chosen = choice.chosen
    if chosen is None or sheet_count <= 1:
        return None
    note = f"工作簿有 {sheet_count} 个工作表，采用「{chosen.sheet.name}」"
    naming = chosen.naming.naming
    others = [c.sheet.name for c in choice.passed_over if not c.sheet.hidden]
    if naming is Naming.THIS:
        note += "（名称或标题为本季度）"
    elif naming is Naming.WHOLE_YEAR:
        note += "（没有标明本季度的工作表，采用全年工作表）"
    elif others:
        note += "（表头最完整、填写内容最多）"
    else:
        note += "（唯一含有报表表头的可见工作表）"
    by_kind = {
        "为其他季度的报表，未采用": [c.sheet.name for c in choice.passed_over if c.naming.naming is Naming.OTHER],
        "为隐藏工作表，未读取": [c.sheet.name for c in choice.passed_over if c.sheet.hidden],
    }
    rest = [n for n in others if n not in by_kind["为其他季度的报表，未采用"]]
    if rest:
        note += f"；另有「{'」「'.join(rest)}」也像报表，未采用"
    for words, names in by_kind.items():
        if names:
            note += f"；「{'」「'.join(names)}」{words}"
    return note + "。"
