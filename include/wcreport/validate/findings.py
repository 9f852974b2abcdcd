"""GX validation results -> Chinese findings a unit can act on (no GX jargon).

Each expectation of a suite carries, in its ``meta``:
  code        stable finding code, e.g. "progress.empty"
  field       the form field whose cell is pointed at ("seq", "task_name", "progress",
              "deadline") or "indicator"
  message_zh  a ``str.format`` template; ``validate.messages`` makes the names it can use
and GX's own ``severity``: "critical" -> error (rejects the file), "warning" -> warning
(accepted, reported), "info" -> ignored. Row-level expectations report failing rows
through ``unexpected_index_list`` (index column ``row_id``); a cell gets one message, the
first failing expectation in suite order. Set-level expectations (distinct values
contain set) give one finding per missing value, without a cell. Codes raised in Python
(reading, locating, identifying a file) are in ``wcreport.core.findings_catalogue``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wcreport.core.model import Finding

SEVERITY = {"critical": "error", "warning": "warning"}
MAX_TEXT = 30


@dataclass(frozen=True)
class CellRef:
    """Where a row's finding points: the sheet, the cell and the form field."""

    sheet: str | None
    cell: str | None
    field: str | None


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return ""


def fmt_number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def short(text: str | None, limit: int = MAX_TEXT) -> str:
    text = (text or "").replace("\n", " ").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def join_seqs(seqs: Iterable[int]) -> str:
    """[1,2,...,10] -> "1–10"; [2, 3, 7] -> "2、3、7"; a long list is cut: "2、3、…等 40 个"."""
    seqs = sorted(set(seqs))
    if len(seqs) > 2 and seqs == list(range(seqs[0], seqs[-1] + 1)):
        return f"{seqs[0]}–{seqs[-1]}"
    return join_bounded(seqs)


MAX_LISTED = 10


def join_bounded(items: Iterable[object], limit: int = MAX_LISTED) -> str:
    """Items joined with "、"; more than ``limit``: the first ``limit`` and "等 N 个"."""
    items = [str(i) for i in items]
    if len(items) <= limit:
        return "、".join(items)
    return "、".join(items[:limit]) + f"等 {len(items)} 个"


def render(template: str, context: Mapping[str, Any]) -> str:
    message = template.format_map(_Defaults(context))
    return message if message.endswith(("。", "！", "？")) else message + "。"


def findings_from_result(
    suite_result,
    row_context: Callable[[int], dict[str, Any]],
    cell_of: Callable[[int, str], CellRef],
    table_context: Callable[[Mapping[str, Any], Mapping[str, Any]], list[dict[str, Any]]],
) -> list[Finding]:
    """Turn one suite's validation result into findings.

    row_context(row_id) -> format names for that row.
    cell_of(row_id, field) -> where the finding points.
    table_context(expectation kwargs, result details) -> format names, one dict per finding.
    """
    findings: list[Finding] = []
    taken_cells: set[tuple[str | None, str | None]] = set()
    for result in suite_result.results:
        if result.success:
            continue
        config = result.expectation_config
        exception = (result.exception_info or {})
        if exception.get("raised_exception"):
            raise RuntimeError(f"expectation {config.type} on {config.kwargs} failed to run: "
                               f"{exception.get('exception_message')}")
        meta = config.meta or {}
        severity = SEVERITY.get(str(getattr(config.severity, "value", config.severity)))
        if severity is None or "message_zh" not in meta:
            continue
        kwargs = {k: fmt_number(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                  for k, v in config.kwargs.items() if isinstance(v, (int, float, str))}
        details = result.result or {}
        if "unexpected_index_list" in details:
            for entry in details.get("unexpected_index_list") or []:
                row_id = int(entry["row_id"] if isinstance(entry, Mapping) else entry)
                where = cell_of(row_id, meta.get("field", ""))
                if where.cell is not None and (where.sheet, where.cell) in taken_cells:
                    continue
                taken_cells.add((where.sheet, where.cell))
                context = {**kwargs, **row_context(row_id)}
                if isinstance(entry, Mapping):
                    column = config.kwargs.get("column")
                    if column in entry:
                        context.setdefault("value", entry[column])
                findings.append(Finding(code=meta["code"], severity=severity,
                                        message=render(meta["message_zh"], context),
                                        sheet=where.sheet, cell=where.cell, field=where.field))
        else:
            for context in table_context(config.kwargs, details):
                findings.append(Finding(code=meta["code"], severity=severity,
                                        message=render(meta["message_zh"], {**kwargs, **context}),
                                        sheet=context.get("sheet"), field=context.get("field")))
    return findings
