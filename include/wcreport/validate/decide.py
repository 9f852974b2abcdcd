"""One unit's ingest: pick its newest file, read, locate, validate, decide, give feedback.

Never raises for bad unit input: a bad file is a rejected file, with a reason.
"""
from __future__ import annotations

import logging
from pathlib import Path

from wcreport.core.io import write_atomic
from wcreport.core.model import FileRecord, Finding, UnitResult
from wcreport.core.settings import QuarterPaths
from wcreport.intake.inbox import read_cached, reject_internal_error, scan_and_identify
from wcreport.validate.feedback import write_feedback

log = logging.getLogger(__name__)


def previous_result(paths: QuarterPaths, unit_key: str) -> UnitResult | None:
    prev = QuarterPaths(paths.quarter.previous(), paths.inbox_root, paths.output_root)
    path = prev.units / f"{unit_key}.json"
    try:
        return UnitResult.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _evaluate(paths, programme, unit_key: str, record: FileRecord, result: UnitResult) -> None:
    """Read, locate and validate the winning file; set statuses on record and result."""
    from wcreport.validate.suites import validate_report

    archived = paths.output_root / record.archived_as
    _fmt, parsed, error = read_cached(paths, programme, record.sha256, archived)
    if error is not None or parsed is None:
        record.status = "rejected"
        return
    outcome = validate_report(parsed, unit_key, programme, paths.quarter,
                              previous=previous_result(paths, unit_key), data_docs_dir=paths.data_docs)
    findings: list[Finding] = [*parsed.findings, *outcome.findings]
    errors = [f for f in findings if f.severity == "error"]
    record.findings = findings
    result.data_docs = _relative_page(paths, outcome.pages[0] if outcome.pages else outcome.data_docs)
    if result.data_docs:
        log.info("Data Docs for %s: %s", unit_key, paths.output_root / result.data_docs)
    if errors:
        record.status = "rejected"
        record.reasons = [f.as_text() for f in errors]
        return
    record.status = "accepted"
    result.accepted_sha256 = record.sha256
    result.rows = parsed.rows
    result.indicators = parsed.indicators
    result.warnings = [f for f in findings if f.severity == "warning"]


def _relative_page(paths: QuarterPaths, page: str | None) -> str | None:
    """A Data Docs page relative to the output root (as the manifest stores paths)."""
    if not page:
        return None
    try:
        return str(Path(page).resolve().relative_to(paths.output_root.resolve()))
    except ValueError:
        return page


def scan_inbox(paths: QuarterPaths, programme) -> list[FileRecord]:
    """The inbox scan, with a feedback page for every file rejected before it had a unit."""
    records = scan_and_identify(paths, programme)
    for record in records:
        if record.status == "rejected" and record.unit is None and record.sha256:
            record.feedback = write_feedback(paths, record, None, None, programme.report.title,
                                             programme.report.organiser)
    return records


def ingest_unit(paths: QuarterPaths, programme, unit_key: str) -> UnitResult:
    """Decide one unit's quarter and write units/<key>.json (see module docstring)."""
    unit = programme.units_by_key[unit_key]
    result = UnitResult(quarter=str(paths.quarter), unit=unit_key, unit_name=unit.name, status="missing")
    # An unreadable inbox is an operations problem, not a unit's: let the task fail and alert.
    records = scan_inbox(paths, programme)
    mine = [r for r in records if r.unit == unit_key and r.kind == "spreadsheet"
            and r.status in ("pending", "rejected")]
    mine.sort(key=lambda r: (r.mtime, r.path), reverse=True)
    if mine:
        winner = mine[0]
        for older in mine[1:]:
            older.status = "superseded"
            older.superseded_by = winner.path
        if winner.status == "pending":
            try:
                _evaluate(paths, programme, unit_key, winner, result)
            except Exception:
                log.exception("unexpected error evaluating %s", winner.path)
                reject_internal_error(winner, programme)
        if winner.status == "rejected":
            result.status = "rejected"
            winner.feedback = write_feedback(paths, winner, unit_key, unit.name, programme.report.title,
                                             programme.report.organiser)
            result.feedback = winner.feedback
        else:
            result.status = "submitted"
    result.files = list(reversed(mine))
    result.files.sort(key=lambda r: r.path)
    write_atomic(paths.units / f"{unit_key}.json", result.model_dump_json(indent=2).encode("utf-8"),
                 skip_if_same=True)
    return result
