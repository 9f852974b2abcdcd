"""What the Chinese messages of the findings are filled with, and where a finding points.

Each rule's message (``meta.message_zh`` in the suites) has placeholders such as
``{task_name}`` or ``{previous_quarter}``; ``findings.findings_from_result`` fills them from
the contexts made here, per failing row (a task row, an indicator) or per table (a task
or indicator missing from the whole file), and places the finding on its cell.
"""
from __future__ import annotations

from typing import Any

from wcreport.core.model import IndicatorValue, ParsedReport, ProgressRow, UnitResult
from wcreport.core.quarter import Quarter
from wcreport.intake.task_names import task_names
from wcreport.validate.completion import programme_deadline
from wcreport.validate.findings import CellRef, fmt_number, join_bounded, join_seqs, short
from wcreport.validate.frames import ProgrammeFacts, indicator_value
from wcreport.validate.parameters import resolve


def previous_label(previous: UnitResult | None) -> str:
    """The previous quarter as messages name it ("2023年第1季度"), "上季度" when unknown."""
    if previous is None:
        return "上季度"
    try:
        return f"{Quarter.parse(previous.quarter).label_zh}"
    except ValueError:
        return "上季度"


def row_context(rows: list[ProgressRow], facts: ProgrammeFacts, unit_seqs: set[int], prev_label: str):
    tasks, year = facts.programme.tasks_by_seq, facts.programme.year
    names = task_names(facts.programme)
    duplicates: dict[int, list[int]] = {}
    for r in rows:
        if r.seq is not None:
            duplicates.setdefault(r.seq, []).append(r.row)

    def context(row_id: int) -> dict[str, Any]:
        row = rows[row_id]
        task = tasks.get(row.seq) if row.seq is not None else None
        return {
            "seq": "" if row.seq is None else row.seq,
            "task_name": short(row.task_name),
            "expected_task_name": task.name if task else "",
            "task_candidates": names.describe(names.match(row.task_name).candidates),
            "progress": short(row.progress),
            "deadline": short(row.deadline),
            "year": year,
            "programme_deadline": programme_deadline(year),
            "row": row.row,
            "programme_seqs": join_seqs(tasks),
            "unit_seqs": join_seqs(unit_seqs),
            "duplicate_rows": join_bounded(duplicates.get(row.seq, [row.row])),
            "previous_quarter": prev_label,
        }
    return context


def row_cell(rows: list[ProgressRow]):
    def cell_of(row_id: int, fld: str) -> CellRef:
        row = rows[row_id]
        cell = row.cells.get(fld) or row.cells.get("seq") or next(iter(row.cells.values()), None)
        return CellRef(row.sheet, cell, fld or None)
    return cell_of


def indicator_context(indicators: list[IndicatorValue], facts: ProgrammeFacts,
                      previous: dict[str, float], prev_label: str):
    by_key = facts.indicators

    def context(row_id: int) -> dict[str, Any]:
        ind = indicators[row_id]
        spec = by_key.get(ind.key) if ind.key else None
        value = indicator_value(ind)
        return {
            "name": spec.name if spec else short(ind.name),
            "raw": short(ind.raw),
            "value": fmt_number(value),
            "previous": fmt_number(previous.get(ind.key)) if ind.key else "",
            "target": fmt_number(spec.target) if spec else "",
            "measure": spec.measure if spec else "",
            "previous_quarter": prev_label,
        }
    return context


def indicator_cell(indicators: list[IndicatorValue]):
    def cell_of(row_id: int, _fld: str) -> CellRef:
        ind = indicators[row_id]
        return CellRef(ind.sheet, ind.cell, f"indicator:{ind.key or ind.name}")
    return cell_of


def indicator_sheet(parsed: ParsedReport) -> str | None:
    return parsed.indicators[0].sheet if parsed.indicators else None


def table_context(facts: ProgrammeFacts, params: dict[str, Any], sheet: str | None = None):
    """The tasks or indicators missing from the whole file, one context each, in the rule's order."""
    tasks, indicators = facts.programme.tasks_by_seq, facts.indicators

    def context(kwargs, details) -> list[dict[str, Any]]:
        missing = details.get("partial_missing_list")
        if missing is None:     # older result shape: observed distinct values
            seen = set(details.get("observed_value") or [])
            missing = [v for v in resolve(kwargs.get("value_set"), params) or [] if v not in seen]
        order = {v: i for i, v in enumerate(resolve(kwargs.get("value_set"), params) or [])}
        out = []
        for value in sorted(missing, key=lambda v: order.get(v, len(order))):
            if kwargs.get("column") == "seq":
                task = tasks.get(value)
                out.append({"missing_seq": value, "missing_task_name": task.name if task else "",
                            "field": "seq"})
            else:
                spec = indicators.get(value)
                out.append({"missing_name": spec.name if spec else value, "sheet": sheet,
                            "field": f"indicator:{value}"})
        return out
    return context
