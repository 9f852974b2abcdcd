"""Step 3, one mapped instance per unit: which of its files counts, and what it said.

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
* The unit is mailed the findings on each new file version at once (``deliver.unit_feedback``).
* A mailed file attributed to the unit by its content, whose sender the office's server did
  not authenticate as that unit (mailbox provenance), is ``held`` (待确认：发件人未经验证):
  never a version that can win, until the clerk moves it into the unit's folder. The unit's
  registered addresses are told once per such mail (``tell_of_held``; the clerk, by a log
  line, when it has none).

Never raises for bad unit input: a bad file is a rejected file, with a reason.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from wcreport.core.faults import OperationsFault, output_unwritable
from wcreport.core.labels import FILE_STATUS_ZH, UNIT_STATUS_ZH, label
from wcreport.core.model import FileRecord, Finding, IndicatorValue, ProgressRow, StampedCopy, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import TZ
from wcreport.core.settings import QuarterPaths, settings
from wcreport.core.unit_results import previous_result, write_unit_result
from wcreport.deliver.address_book import AddressBook
from wcreport.deliver.smtp import MailConfigError, MailError, SmtpSettings
from wcreport.deliver.unit_feedback import send_unit_feedback
from wcreport.flow.checks import fail_on_internal_errors, missing_tools
from wcreport.flow.run import QuarterRun
from wcreport.flow.summaries import StageOutcome, UnitSummary
from wcreport.flow.unverified import hold_unverified, tell_of_held_safely
from wcreport.intake.reading import read_report, read_stamped
from wcreport.intake.scan import reject_internal_error, scan_and_identify
from wcreport.validate.accepted import accepted_rows
from wcreport.validate.feedback import write_feedback
from wcreport.validate.file_findings import file_findings, rejection_reasons
from wcreport.validate.offline_docs import DocsVersion, keep_version, write_version_pages
from wcreport.validate.outcome import validate_file

log = logging.getLogger(__name__)


@dataclass
class _Passed:
    """What a file that passed validation contributes to the unit's result."""

    rows: list[ProgressRow]
    indicators: list[IndicatorValue]
    warnings: list[Finding]
    data_docs: str | None = None


@dataclass
class _Winner:
    """The unit's newest version that passed, and when its oldest passing version arrived."""

    record: FileRecord
    passed: _Passed
    first_accepted: float


def _evaluate(paths: QuarterPaths, programme: Programme, unit_key: str, record: FileRecord) -> _Passed | None:
    """Read, locate and validate one version; set its status. What it contributes if it passed.

    Only pending spreadsheets come here: they were archived, so they have a hash and an archive copy.
    """
    archived = paths.output_root / (record.archived_as or "")
    _fmt, parsed, error = read_report(paths, programme, record.sha256 or "", archived)
    if error is not None or parsed is None:
        record.status = "rejected"
        return None
    # the version's pages are rendered once its unit is decided (_write_version_pages)
    validation = validate_file(paths, programme, unit_key, record.sha256, parsed,
                               previous_result(paths, unit_key), render_page=not record.sha256)
    # the same findings `wcreport check` gives this file (warnings on loose numbers included)
    findings = file_findings(parsed, validation.findings, programme)
    record.findings = findings
    data_docs = _relative_page(paths, _keep_version_page(paths, unit_key, record, validation.page))
    reasons = rejection_reasons(findings)
    if reasons:
        record.status = "rejected"
        record.reasons = reasons
        return None
    record.status = "accepted"
    return _Passed(accepted_rows(parsed.rows, programme, unit_key), parsed.indicators,
                   [f for f in findings if f.severity == "warning"], data_docs)


def _evaluate_safely(paths: QuarterPaths, programme: Programme, unit_key: str,
                     record: FileRecord) -> _Passed | None:
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


def _docs_version(record: FileRecord) -> DocsVersion:
    return DocsVersion(path=record.path, sha256=record.sha256 or "", received=record.mtime, status=record.status)


def _keep_version_page(paths: QuarterPaths, unit_key: str, record: FileRecord, page: str | None) -> str | None:
    """File the page content validation wrote as this version's (under versions/)."""
    if not page or not record.sha256:
        return page
    kept = keep_version(paths.data_docs, page, _docs_version(record), paths.quarter, unit_key)
    return str(kept) if kept else page


def _write_version_pages(paths: QuarterPaths, unit_key: str, versions: list[FileRecord],
                         winner: _Winner | None) -> str | None:
    """The unit's page (the accepted, else newest, version's) and, when it has several, each
    validated version's own page."""
    page = write_version_pages(paths.data_docs, quarter=paths.quarter, unit_key=unit_key,
                               versions=[_docs_version(r) for r in versions if r.sha256],
                               chosen_sha256=winner.record.sha256 if winner else None)
    return _relative_page(paths, str(page)) if page else None


def _relative_page(paths: QuarterPaths, page: str | None) -> str | None:
    """A Data Docs page relative to the output root (as the manifest stores paths)."""
    if not page:
        return None
    try:
        return str(Path(page).resolve().relative_to(paths.output_root.resolve()))
    except ValueError:
        return page


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


def _deadline_end(programme: Programme, paths: QuarterPaths) -> float:
    day = programme.deadline(paths.quarter.number)
    return dt.datetime.combine(day, dt.time(23, 59, 59), TZ).timestamp()


def _decide_versions(paths: QuarterPaths, programme: Programme, unit_key: str,
                     versions: list[FileRecord]) -> _Winner | None:
    """The version that counts, if one passed. Validates newest first; older versions only
    while lateness could still depend on them."""
    winner: _Winner | None = None
    for record in versions:
        if winner is not None and winner.first_accepted <= _deadline_end(programme, paths):
            break
        contribution = _evaluate_safely(paths, programme, unit_key, record) if record.status == "pending" else None
        if contribution is None:
            continue
        if winner is None:
            winner = _Winner(record, contribution, record.mtime)
        else:
            winner.first_accepted = record.mtime
    return winner


def decide_unit(paths: QuarterPaths, programme: Programme, unit_key: str, *,
                max_wait_seconds: float = 30.0) -> UnitResult:
    """Decide one unit's quarter and write units/<key>.json (see module docstring)."""
    unit = programme.units_by_key[unit_key]
    result = UnitResult(quarter=str(paths.quarter), unit=unit_key, unit_name=unit.name, status="missing")
    # An unreadable inbox is an operations problem, not a unit's: let the task fail and alert.
    # Only this unit's files: the others come from the stat cache without being read.
    records = scan_and_identify(paths, programme, max_wait_seconds=max_wait_seconds, unit=unit_key)
    held = hold_unverified(paths, records, unit_key)
    # a refused archive (a zip bomb, an encrypted zip) counts as a version that failed
    mine = [r for r in records if r.unit == unit_key and r.kind in ("spreadsheet", "archive")
            and r.status in ("pending", "rejected")]
    versions = _distinct_versions(mine)
    winner = _decide_versions(paths, programme, unit_key, versions)
    if winner is not None:
        _accept(result, winner)
        newer_failed = [r for r in versions if r.status == "rejected" and _received(r) > _received(winner.record)]
        result.rejected_corrections = [r.path for r in newer_failed]
    elif versions:
        result.status = "rejected"
    reference = winner.record if winner is not None else (versions[0] if versions else None)
    for record in versions:
        if reference is None or record is reference or record.path in result.rejected_corrections:
            continue
        _supersede(record, reference, superseded_reason(reference))
    for record in versions:
        if record.status == "rejected":
            record.feedback = write_feedback(paths, record, unit_key, unit.name, programme.report.title,
                                             programme.report.organiser)
    newest_rejected = next((r for r in versions if r.status == "rejected"), None)
    result.feedback = newest_rejected.feedback if newest_rejected else None
    unit_page = _write_version_pages(paths, unit_key, versions, winner)
    if winner is not None and unit_page:
        result.data_docs = unit_page
    if result.data_docs:
        log.info("Data Docs for %s: %s", result.unit, result.data_docs)
    copies = _decide_stamped_copies(paths, programme, records, result)
    result.files = sorted([*mine, *copies, *held], key=lambda r: r.path)
    write_unit_result(paths, result)
    return result


def _decide_stamped_copies(paths: QuarterPaths, programme: Programme, records: list[FileRecord],
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
    result.stamped_copy = _paired_copy(paths, winner, result)
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


def _compared_copy(paths: QuarterPaths, record: FileRecord, result: UnitResult) -> StampedCopy:
    """The copy read, compared with the accepted progress texts when there are some."""
    copy = read_stamped(paths, record.sha256 or "", paths.output_root / (record.archived_as or ""),
                        record.path)
    if result.status != "submitted":
        return copy
    # imported here: Pillow and rapidfuzz are loaded only by an ingest that has a copy
    from wcreport.intake.stamped import compare_with_workbook

    return compare_with_workbook(copy, [row.progress for row in result.rows])


def _paired_copy(paths: QuarterPaths, record: FileRecord, result: UnitResult) -> StampedCopy:
    """The copy compared, shown as the unit's only on positive evidence (``stamped.pairing``)."""
    from wcreport.intake.stamped.pairing import confirm_unit

    return confirm_unit(_compared_copy(paths, record, result), record.unit_source, settings().stamped_agreement_min)


def _accept(result: UnitResult, winner: _Winner) -> None:
    record, passed = winner.record, winner.passed
    result.status = "submitted"
    result.accepted_sha256 = record.sha256
    result.accepted_path = record.path
    result.accepted_mtime = record.mtime
    result.first_accepted_mtime = winner.first_accepted
    result.rows, result.indicators, result.warnings = passed.rows, passed.indicators, passed.warnings
    result.data_docs = passed.data_docs


def ingest_unit(run: QuarterRun, unit_key: str, smtp: Callable[[], SmtpSettings],
                unit_emails: Callable[[], Mapping[str, object] | None] = dict) -> UnitSummary:
    """Decide one unit's quarter, then mail it the findings on each new file version, to its
    addresses in the programme file or ``unit_emails()`` (the Variable ``report_unit_emails``,
    read only when a mail is due).

    Our internal errors fail the step before any mail: the unit is told nothing of them. A
    missing OCR tool does not: the unit's stamped copy is 无法确认 (its reason says 无需重新报送).
    The summary is small, for XCom and the grid's label."""
    paths, programme = run.paths, run.programme
    book = AddressBook(programme, unit_emails)
    result = decide_unit(paths, programme, unit_key, max_wait_seconds=0)
    fail_on_internal_errors(result.files)
    missing_tools(result.files)         # logged for ops (gather mailed them); the copies are 无法确认
    summary: UnitSummary = {"unit": unit_key, "unit_name": result.unit_name, "status": result.status,
                            "files": len(result.files), "warnings": len(result.warnings),
                            "feedback": result.feedback, "data_docs": result.data_docs,
                            "feedback_mail": mail_feedback(paths, programme, result, smtp, book)}
    tell_of_held_safely(paths, programme, result, smtp, book)
    log.info("Unit %s (%s): %s", unit_key, result.unit_name, summary)
    for line in findings_lines(result):
        log.info("%s", line)
    return summary


def mail_feedback(paths: QuarterPaths, programme: Programme, result: UnitResult,
                  smtp: Callable[[], SmtpSettings], book: AddressBook | None = None) -> StageOutcome:
    """Send the unit its due feedback mails; a mail problem never fails the ingest.

    The feedback ledger records only mails the server accepted, so the next run (of
    quarterly_report or the reminders' check) sends what is still due."""
    try:
        outcome = send_unit_feedback(paths, programme, result, smtp, book=book)
    except (MailError, MailConfigError) as exc:
        log.warning("Feedback mail to %s not sent (%s); the next run sends it", result.unit, exc)
        return {"not_sent": str(exc)}
    except Exception as exc:   # e.g. no SMTP connection: the ingest itself succeeded
        log.exception("Feedback mail to %s not sent; the next run tries again", result.unit)
        return {"not_sent": f"{exc.__class__.__name__}: {exc}"}
    summary = outcome.as_dict()
    if summary:
        log.info("Feedback mail for %s: %s", result.unit, summary)
    return summary


def map_label(summary: UnitSummary) -> str:
    """The ingest_unit instance's name in the Airflow grid: unit and outcome, e.g. "<unit name> · 已退回"."""
    return f"{summary['unit_name']} · {label(UNIT_STATUS_ZH, summary['status'])}"


def findings_lines(result: UnitResult) -> list[str]:
    """The unit's outcome and findings in Chinese, file by file (the end of the task log)."""
    lines = [f"{result.unit_name}：{label(UNIT_STATUS_ZH, result.status)}"]
    for record in result.files:
        lines.append(f"  文件「{record.path}」：{label(FILE_STATUS_ZH, record.status)}")
        lines += [f"    {reason}" for reason in record.reasons]
        lines += [f"    [{'错误' if f.severity == 'error' else '警告'}] {f.as_text()}" for f in record.findings
                  if not {f.message, f.as_text()} & set(record.reasons)]
    lines += [f"  [警告] {f.as_text()}" for f in result.warnings]
    if not result.files:
        lines.append("  本季度未收到该单位的报表")
    return lines
