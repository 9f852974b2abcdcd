"""The suites' ``$PARAMETER`` values: what a rule needs from the programme and the previous quarter.

The suites are the same for every unit; what differs (the unit's tasks, the expected task
names, the previous quarter's texts, the programme year's first and last day ...) is
passed to GX as expectation parameters, computed here.
"""
from __future__ import annotations

from typing import Any

from wcreport.core.model import ProgressRow, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.validate.frames import ProgrammeFacts, text_key


def suite_parameters(facts: ProgrammeFacts, unit_key: str, previous_rows: list[ProgressRow]) -> dict[str, Any]:
    programme, year = facts.programme, facts.programme.year
    return {
        "programme_seqs": list(facts.programme_seqs),
        "unit_seqs": sorted(t.seq for t in programme.tasks_of(unit_key)),
        "task_keys": list(facts.task_keys),
        "previous_progress_keys": sorted({f"{r.seq}|{text_key(r.progress)}" for r in previous_rows
                                          if r.seq is not None and r.progress.strip()}),
        "year_first_day": year * 10000 + 101,
        "year_last_day": year * 10000 + 1231,
        "unit_indicator_keys": [i.key for _t, i in programme.indicators_of(unit_key)],
    }


def resolve(value: Any, params: dict[str, Any]) -> Any:
    """An expectation argument with its ``$PARAMETER`` replaced by the value (an empty list if unknown)."""
    if isinstance(value, dict) and "$PARAMETER" in value:
        return params.get(value["$PARAMETER"], [])
    return value


def comparable_previous(previous: UnitResult | None, programme: Programme) -> UnitResult | None:
    """The previous quarter's result if it is of the programme's year: in a new year cumulative
    values restart and task numbers differ, so there is nothing to compare with."""
    if previous is None:
        return None
    try:
        same_year = Quarter.parse(previous.quarter).year == programme.year
    except ValueError:
        same_year = False
    return previous if same_year else None
