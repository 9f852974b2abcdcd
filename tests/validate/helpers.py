"""Small parsed reports for the validation tests: a correct one, and edits of it."""
from __future__ import annotations

from wcreport.core.model import IndicatorValue, ParsedReport, ProgressRow, UnitResult

UNIT = "construction"   # 建设局: tasks 2 and 3, four indicators; small and realistic
FORM = "报表"
SHEET_IND = "指标"


def good_rows(programme, unit: str = UNIT) -> list[ProgressRow]:
    rows = []
    for n, task in enumerate(programme.tasks_of(unit)):
        r = 4 + n
        rows.append(ProgressRow(
            seq=task.seq, task_name=task.name, units="建设局",
            progress=f"本季度围绕第{task.seq}项实事开展专题调度，已完成阶段性任务。",
            deadline="2023年12月底", sheet=FORM, row=r,
            cells={"seq": f"A{r}", "task_name": f"B{r}", "units": f"C{r}", "progress": f"D{r}",
                   "deadline": f"E{r}"}))
    return rows


def good_indicators(programme, unit: str = UNIT) -> list[IndicatorValue]:
    out = []
    for n, (_task, ind) in enumerate(programme.indicators_of(unit)):
        value = max(1.0, round(ind.target / 2))
        out.append(IndicatorValue(key=ind.key, name=ind.name, raw=f"{value:g}", value=value,
                                  sheet=SHEET_IND, cell=f"E{3 + n}"))
    return out


def good_report(programme, unit: str = UNIT) -> ParsedReport:
    return ParsedReport(sheet=FORM, header_row=3, rows=good_rows(programme, unit),
                        indicators=good_indicators(programme, unit))


def with_row(report: ParsedReport, index: int, **changes) -> ParsedReport:
    rows = list(report.rows)
    rows[index] = rows[index].model_copy(update=changes)
    return report.model_copy(update={"rows": rows})


def with_indicator(report: ParsedReport, index: int, **changes) -> ParsedReport:
    inds = list(report.indicators)
    inds[index] = inds[index].model_copy(update=changes)
    return report.model_copy(update={"indicators": inds})


def previous_result(programme, report: ParsedReport, unit: str = UNIT, quarter: str = "2023Q1") -> UnitResult:
    return UnitResult(quarter=quarter, unit=unit, unit_name=programme.units_by_key[unit].name,
                      status="submitted", rows=report.rows, indicators=report.indicators)
