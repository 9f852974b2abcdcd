"""Each unit's decided quarter (``<output>/<quarter>/units/<key>.json``), read back by later steps."""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from wcreport.core.io import DamagedStateError, read_json, write_atomic
from wcreport.core.model import UnitResult
from wcreport.core.programme import Programme
from wcreport.core.settings import QuarterPaths


def unit_result_path(paths: QuarterPaths, unit_key: str) -> Path:
    return paths.units / f"{unit_key}.json"


def write_unit_result(paths: QuarterPaths, result: UnitResult) -> None:
    write_atomic(unit_result_path(paths, result.unit), result.model_dump_json(indent=2).encode("utf-8"),
                 skip_if_same=True)


def previous_result(paths: QuarterPaths, unit_key: str) -> UnitResult | None:
    """The unit's result of the previous quarter, if there is a readable one."""
    previous = QuarterPaths(paths.quarter.previous(), paths.inbox_root, paths.output_root)
    try:
        return UnitResult.model_validate_json(unit_result_path(previous, unit_key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_unit_result(paths: QuarterPaths, programme: Programme, unit_key: str) -> UnitResult:
    """The unit's ingest result; a missing or unreadable one is ours to fix, never 'missing'."""
    path = unit_result_path(paths, unit_key)
    fix = (f"clear the ingest_unit instance of {programme.unit(unit_key).name} with Downstream ticked: "
           "it writes the file again")
    data = read_json(path, lambda: None)
    if data is None:
        raise DamagedStateError(f"the ingest result {path} does not exist (its ingest_unit did not run "
                                "or its output was removed)", fix)
    try:
        return UnitResult.model_validate(data)
    except ValidationError as exc:
        raise DamagedStateError(f"the ingest result {path} is damaged ({exc.error_count()} invalid field(s))",
                                fix) from exc
