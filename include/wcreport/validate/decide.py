"""One unit's quarter: which of its files counts, and what it said.

The report uses the unit's newest file that passed validation (docs/identity.md):

* Files are ordered by the time they were received (mtime), newest first; each distinct
  content is validated once (byte-identical copies are one submission, the earliest is read).
* A newer file that fails is rejected, with its feedback; the accepted version stays and
  the unit's result lists it under ``rejected_corrections``.
* Older files are superseded, each with a reason naming the file that replaced it.
* Lateness is judged on the first version that passed (``first_accepted_mtime``).
* The stamped copy (盖章件): the unit's newest readable scan counts, compared with the
  accepted data when there is some (``UnitResult.stamped_copy``); older scans are superseded.
  A scan without a data file is recorded all the same: the unit stays missing for data.

Never raises for bad unit input: a bad file is a rejected file, with a reason.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from wcreport.core.faults import OperationsFault, output_unwritable
from wcreport.core.io import write_atomic
from wcreport.core.model import FileRecord, Finding, IndicatorValue, ProgressRow, UnitResult
from wcreport.core.quarter import TZ
from wcreport.core.settings import QuarterPaths
from wcreport.intake.inbox import read_cached, read_stamped_cached, reject_internal_error, scan_and_identify
from wcreport.validate.feedback import write_feedback
from wcreport.validate.limits import cap_findings

log = logging.getLogger(__name__)


def previous_result(paths: QuarterPaths, unit_key: str) -> UnitResult | None:
    prev = QuarterPaths(paths.quarter.previous(), paths.inbox_root, paths.output_root)
    path = prev.units / f"{unit_key}.json"
    try:
        return UnitResult.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class _Passed:
    """What a file that passed validation contributes to the unit's result."""

    rows: list[ProgressRow]
    indicators: list[IndicatorValue]
    warnings: list[Finding]
    data_docs: str | None = None


def _evaluate(paths, programme, unit_key: str, record: FileRecord) -> _Passed | None:
    """Read, locate and validate one version; set its status. What it contributes if it passed.

    The quarter's batch (``validate.prevalidated``) usually validated this very file
    already; only a file it did not see (replaced since, or the rules changed) is
    validated here, on its own."""
    archived = paths.output_root / record.archived_as
    _fmt, parsed, error = read_cached(paths, programme, record.sha256, archived)
    if error is not None or parsed is None:
        record.status = "rejected"
        return None
    findings, page = _validated(paths, programme, unit_key, record, parsed)
    findings = cap_findings([*parsed.findings, *findings])
    errors = [f for f in findings if f.severity == "error"]
    record.findings = findings
    data_docs = _relative_page(paths, page)
    if errors:
        record.status = "rejected"
        record.reasons = [f.as_text() for f in errors] + [f.message for f in findings if f.code == "findings.truncated"]
        return None
    record.status = "accepted"
    return _Passed(parsed.rows, parsed.indicators, [f for f in findings if f.severity == "warning"], data_docs)


def _validated(paths, programme, unit_key: str, record: FileRecord, parsed) -> tuple[list[Finding], str | None]:
    """(the suites' findings, the Data Docs page) for one file: from the quarter's batch when
    it validated exactly this, else from a validation of this file alone."""
    from wcreport.validate import prevalidated, suites

    previous = previous_result(paths, unit_key)
    found = prevalidated.lookup(paths, programme, unit_key, record.sha256, previous)
    if found is not None:
        page = suites.offline_page(paths.data_docs, paths.quarter, unit_key, programme, found.results,
                                   cap_findings(found.findings), [])
        return found.findings, str(page)
    log.info("%s: not in the quarter's batch, validated on its own", record.path)
    outcome = suites.validate_report(parsed, unit_key, programme, paths.quarter, previous=previous,
                                     data_docs_dir=paths.data_docs)
    return outcome.findings, outcome.pages[0] if outcome.pages else outcome.data_docs


def _evaluate_safely(paths, programme, unit_key: str, record: FileRecord) -> _Passed | None:
    try:
        return _evaluate(paths, programme, unit_key, record)
    except OperationsFault:
        raise
    except OSError as exc:      # writing Data Docs or results: the environment's fault, not the unit's
        raise output_unwritable(Path(exc.filename or paths.output), exc) from exc
    except Exception:
        log.exception("unexpected error evaluating %s", record.path)
        reject_internal_error(record, programme)
        return None


def _relative_page(paths: QuarterPaths, page: str | None) -> str | None:
    """A Data Docs page relative to the output root (as the manifest stores paths)."""
    if not page:
        return None
    try:
        return str(Path(page).resolve().relative_to(paths.output_root.resolve()))
    except ValueError:
        return page


def scan_inbox(paths: QuarterPaths, programme, *, max_wait_seconds: float = 30.0) -> list[FileRecord]:
    """The inbox scan, with a feedback page for every file rejected before it had a unit."""
    records = scan_and_identify(paths, programme, max_wait_seconds=max_wait_seconds)
    for record in records:
        if record.status == "rejected" and record.unit is None and record.sha256:
            record.feedback = write_feedback(paths, record, None, None, programme.report.title,
                                             programme.report.organiser)
    return records


def _received(record: FileRecord) -> tuple[float, str]:
    return (record.mtime, record.path)


def _day_zh(mtime: float) -> str:
    day = dt.datetime.fromtimestamp(mtime, TZ)
    return f"{day.month}月{day.day}日"


def superseded_reason(by: FileRecord) -> str:
    return f"已被本单位{_day_zh(by.mtime)}收到的「{by.path}」替代，以该文件为准。"


def duplicate_reason(of: FileRecord) -> str:
    return f"与「{of.path}」内容完全相同（重复文件），以「{of.path}」为准。"


def _supersede(record: FileRecord, by: FileRecord, reason: str) -> None:
    record.status, record.superseded_by, record.reasons = "superseded", by.path, [reason]


def _distinct_versions(mine: list[FileRecord]) -> list[FileRecord]:
    """One record per content, newest first; later byte-identical copies are superseded as duplicates."""
    first_of: dict[str, FileRecord] = {}
    for record in sorted(mine, key=_received):
        original = first_of.setdefault(record.sha256 or record.path, record)
        if original is not record:
            _supersede(record, original, duplicate_reason(original))
    return sorted(first_of.values(), key=_received, reverse=True)


def _deadline_end(programme, paths: QuarterPaths) -> float:
    day = programme.deadline(paths.quarter.number)
    return dt.datetime.combine(day, dt.time(23, 59, 59), TZ).timestamp()


def _decide_versions(paths, programme, unit_key: str, versions: list[FileRecord]
                     ) -> tuple[FileRecord | None, _Passed | None, float | None]:
    """(winner, what it contributes, first accepted time). Validates newest first; older
    versions only while lateness could still depend on them."""
    winner, passed, first_accepted = None, None, None
    for record in versions:
        if winner is not None and (first_accepted or 0) <= _deadline_end(programme, paths):
            break
        contribution = _evaluate_safely(paths, programme, unit_key, record) if record.status == "pending" else None
        if contribution is None:
            continue
        first_accepted = record.mtime
        if winner is None:
            winner, passed = record, contribution
    return winner, passed, first_accepted


def ingest_unit(paths: QuarterPaths, programme, unit_key: str, *, max_wait_seconds: float = 30.0) -> UnitResult:
    """Decide one unit's quarter and write units/<key>.json (see module docstring)."""
    unit = programme.units_by_key[unit_key]
    result = UnitResult(quarter=str(paths.quarter), unit=unit_key, unit_name=unit.name, status="missing")
    # An unreadable inbox is an operations problem, not a unit's: let the task fail and alert.
    # Only this unit's files: the others come from the stat cache without being read.
    records = scan_and_identify(paths, programme, max_wait_seconds=max_wait_seconds, unit=unit_key)
    mine = [r for r in records if r.unit == unit_key and r.kind == "spreadsheet"
            and r.status in ("pending", "rejected")]
    versions = _distinct_versions(mine)
    winner, passed, first_accepted = _decide_versions(paths, programme, unit_key, versions)
    if winner is not None:
        _accept(result, winner, passed, first_accepted)
        newer_failed = [r for r in versions if r.status == "rejected" and _received(r) > _received(winner)]
        result.rejected_corrections = [r.path for r in newer_failed]
    elif versions:
        result.status = "rejected"
    reference = winner or (versions[0] if versions else None)
    for record in versions:
        if record is reference or record.path in result.rejected_corrections:
            continue
        _supersede(record, reference, superseded_reason(reference))
    for record in versions:
        if record.status == "rejected":
            record.feedback = write_feedback(paths, record, unit_key, unit.name, programme.report.title,
                                             programme.report.organiser)
    newest_rejected = next((r for r in versions if r.status == "rejected"), None)
    result.feedback = newest_rejected.feedback if newest_rejected else None
    copies = _decide_stamped_copies(paths, programme, records, result)
    result.files = sorted([*mine, *copies], key=lambda r: r.path)
    write_atomic(paths.units / f"{unit_key}.json", result.model_dump_json(indent=2).encode("utf-8"),
                 skip_if_same=True)
    return result


def _decide_stamped_copies(paths: QuarterPaths, programme, records: list[FileRecord],
                           result: UnitResult) -> list[FileRecord]:
    """The unit's stamped copies; sets ``result.stamped_copy`` from the newest readable one.

    With no readable copy, the newest unreadable one is kept (so it shows as 无法读取).
    Older copies are superseded by the one that counts; newer unreadable ones stay rejected.
    """
    copies = [r for r in records if r.unit == result.unit and r.kind == "stamped_copy"
              and r.status in ("pending", "rejected")]
    if not copies:
        return []
    versions = _distinct_versions(copies)
    winner = next((r for r in versions if r.status == "pending"), versions[0])
    result.stamped_copy = _compared_copy(paths, winner, result)
    if winner.status == "pending":
        winner.status = "accepted"
    winner.findings = list(result.stamped_copy.findings)
    winner.reasons = [*winner.reasons, *(r for r in result.stamped_copy.reasons if r not in winner.reasons)]
    for record in versions:
        if record is not winner and _received(record) < _received(winner):
            _supersede(record, winner, superseded_reason(winner))
        elif record.status == "rejected":
            record.feedback = write_feedback(paths, record, result.unit, result.unit_name,
                                             programme.report.title, programme.report.organiser)
    return copies


def _compared_copy(paths: QuarterPaths, record: FileRecord, result: UnitResult):
    """The copy read (from the cache), compared with the accepted progress texts when there are some."""
    copy = read_stamped_cached(paths, record.sha256 or "", paths.output_root / (record.archived_as or ""),
                               record.path)
    if result.status != "submitted":
        return copy
    # imported here: Pillow and rapidfuzz are loaded only by an ingest that has a copy
    from wcreport.intake.stamped import compare_with_workbook

    return compare_with_workbook(copy, [row.progress for row in result.rows])


def _accept(result: UnitResult, winner: FileRecord, passed: _Passed, first_accepted: float) -> None:
    result.status = "submitted"
    result.accepted_sha256 = winner.sha256
    result.accepted_path = winner.path
    result.accepted_mtime = winner.mtime
    result.first_accepted_mtime = first_accepted
    result.rows, result.indicators, result.warnings = passed.rows, passed.indicators, passed.warnings
    result.data_docs = passed.data_docs
    if result.data_docs:
        log.info("Data Docs for %s: %s", result.unit, result.data_docs)
