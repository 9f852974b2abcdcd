"""One function per DAG task; each reads and writes files under the quarter's folders.

The DAG files only call these functions. Arguments and return values are small,
JSON-serialisable values (paths, counts, statuses) so they fit in XCom.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from pathlib import Path

from wcreport.core.io import write_text_atomic
from wcreport.core.model import UnitResult
from wcreport.core.programme import Programme, programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.core.settings import QuarterPaths, quarter_paths
from wcreport.orchestration.failures import fail_fast
from wcreport.orchestration.review_answers import (  # noqa: F401 - part of this module's interface
    DEFAULT_REVIEW_TIMEOUT_HOURS,
    REVIEW_HOLD,
    REVIEW_SEND,
    review_timeout_hours,
    send_on_timeout,
)
from wcreport.report.manifest import build_manifest, verify_accepted, write_manifest

log = logging.getLogger(__name__)

# gather waits this long for files still being written; later scans of the run (each
# unit's ingest, merge) do not wait: the run's wait is bounded once, not per scan.
STABILITY_WAIT_SECONDS = 30.0


@fail_fast
def resolve_run(quarter: str | None, inbox: str | None, output: str | None,
                interval_start: dt.datetime | None = None) -> dict:
    """The run's quarter and folders: explicit params first, else the data interval."""
    if quarter:
        resolved = Quarter.parse(quarter)
    else:
        from wcreport.core.quarter import quarter_of_data_interval

        resolved = quarter_of_data_interval(interval_start or dt.datetime.now(dt.UTC))
    paths = quarter_paths(resolved, inbox, output)
    return {"quarter": str(resolved), "inbox": str(paths.inbox_root),
            "output": str(paths.output_root)}


def paths_of(run: dict) -> QuarterPaths:
    return quarter_paths(run["quarter"], run["inbox"], run["output"])


def programme_of(run: dict) -> Programme:
    return programme_for_year(Quarter.parse(run["quarter"]).year)


@fail_fast
def gather(run: dict) -> list[str]:
    """Scan, archive and identify the quarter's inbox; return the unit keys to ingest.

    Fails (no retry) when the inbox is missing or unreadable, the output unwritable or our
    code failed on a file; fails for a retry when a report file was still being written.
    """
    from wcreport.core.faults import InboxBusy
    from wcreport.intake.inbox import still_being_written
    from wcreport.validate.decide import scan_inbox

    paths, programme = paths_of(run), programme_of(run)
    records = scan_inbox(paths, programme, max_wait_seconds=STABILITY_WAIT_SECONDS)
    counts = Counter(r.status for r in records)
    log.info("Inbox %s: %d file(s) %s", paths.inbox, len(records), dict(counts))
    _fail_on_internal_errors(records)
    _fail_on_missing_tools(records)
    busy = [r.path for r in records if r.kind == "spreadsheet" and still_being_written(r)]
    if busy:
        raise InboxBusy(f"{len(busy)} file(s) in {paths.inbox} were still being written after "
                        f"{STABILITY_WAIT_SECONDS:.0f} s: {busy[:10]}; the task retries")
    return [unit.key for unit in programme.units]


@fail_fast
def validate_quarter(run: dict) -> dict:
    """Validate every unit's new files in one Great Expectations run per suite, for the
    units' ingest to look up (``wcreport.validate.prevalidated``).

    Only an operations fault fails this task. Should the batch itself break, the error is
    logged with its traceback and each ``ingest_unit`` validates its unit's files on its
    own: slower, same outcome."""
    from wcreport.core.faults import OperationsFault
    from wcreport.validate.decide import scan_inbox
    from wcreport.validate.prevalidated import validate_quarter as validate_batch

    paths, programme = paths_of(run), programme_of(run)
    records = scan_inbox(paths, programme, max_wait_seconds=0)
    try:
        return validate_batch(paths, programme, records)
    except OperationsFault:
        raise
    except Exception as exc:
        log.exception("the quarter's batch validation failed; each unit is validated on its own")
        return {"batch_failed": f"{exc.__class__.__name__}: {exc}"}


def _fail_on_missing_tools(records) -> None:
    """A stamped copy could not be read because the worker lacks a tool: ours to install, not the unit's."""
    from wcreport.core.faults import ToolMissing
    from wcreport.intake.stamped import OPS_CODES

    missing = sorted({f.message for r in records for f in r.findings if f.code in OPS_CODES})
    if missing:
        files = [r.path for r in records if any(f.code in OPS_CODES for f in r.findings)]
        raise ToolMissing(f"the workers cannot read stamped copies {files[:10]}: {missing}",
                          "install the system packages (tools/install_system_packages.sh: tesseract-ocr, "
                          "tesseract-ocr-chi-sim, poppler-utils) on every worker, then clear this task")


def _fail_on_internal_errors(records) -> None:
    """Our code failed on some files: fail the task (the files are not the units' fault)."""
    from wcreport.core.faults import InternalError
    from wcreport.intake.inbox import internal_errors

    failed = [r.path for r in internal_errors(records)]
    if failed:
        raise InternalError(f"internal error while processing {len(failed)} inbox file(s): {failed[:10]} "
                            "(traceback in this task's log)",
                            "fix the cause shown in the log, then clear this task with Downstream; "
                            "the units are not told anything until then")


@fail_fast
def ingest(run: dict, unit_key: str) -> dict:
    """Ingest one unit's files; the result is written to units/<key>.json. The unit is mailed
    the findings on each new file version at once (``orchestration.feedback_mail``)."""
    from wcreport.orchestration.feedback_mail import mail_feedback
    from wcreport.validate.decide import ingest_unit

    paths, programme = paths_of(run), programme_of(run)
    result = ingest_unit(paths, programme, unit_key, max_wait_seconds=0)
    _fail_on_internal_errors(result.files)      # before any mail: the unit is told nothing of our faults
    _fail_on_missing_tools(result.files)
    summary = {"unit": unit_key, "unit_name": result.unit_name, "status": result.status,
               "files": len(result.files), "warnings": len(result.warnings),
               "feedback": result.feedback, "data_docs": result.data_docs,
               "feedback_mail": mail_feedback(paths, programme, result)}
    log.info("Unit %s (%s): %s", unit_key, result.unit_name, summary)
    for line in findings_lines(result):
        log.info("%s", line)
    return summary


def map_label(summary: dict) -> str:
    """The ingest_unit instance's name in the Airflow grid: unit and outcome, e.g. "<unit name> · 已退回"."""
    from wcreport.core.labels import UNIT_STATUS_ZH, label

    return f"{summary['unit_name']} · {label(UNIT_STATUS_ZH, summary['status'])}"


def findings_lines(result: UnitResult) -> list[str]:
    """The unit's outcome and findings in Chinese, file by file (the end of the task log)."""
    from wcreport.core.labels import FILE_STATUS_ZH, UNIT_STATUS_ZH, label

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


@fail_fast
def merge(run: dict) -> dict:
    """Build manifest, consolidated model and workbook from all units' results."""
    from wcreport.report.consolidate import consolidate
    from wcreport.report.workbook import report_filename, write_report
    from wcreport.validate.decide import scan_inbox

    paths, programme = paths_of(run), programme_of(run)
    results = [load_unit_result(paths, programme, unit.key) for unit in programme.units]
    verify_accepted(paths, results)
    scanned = scan_inbox(paths, programme, max_wait_seconds=0)
    _fail_on_internal_errors(scanned)
    manifest = build_manifest(paths, programme, scanned, results)
    consolidated = consolidate(programme, paths.quarter, results, manifest)
    report = write_report(consolidated, programme,
                          paths.output / report_filename(programme, paths.quarter))
    manifest.report = str(report.relative_to(paths.output_root))
    if paths.data_docs.is_dir():        # unit pages are rendered per unit, the index once here
        from wcreport.validate.suites import build_data_docs_index
        build_data_docs_index(paths.data_docs)
    manifest.data_docs = _data_docs_index(paths)
    write_text_atomic(paths.consolidated, consolidated.model_dump_json(indent=2))
    write_manifest(manifest, paths.manifest)
    statuses = Counter(u.status for u in manifest.units)
    log.info("Quarter %s: units %s; report %s", paths.quarter, dict(statuses), report)
    return {"manifest": str(paths.manifest), "report": str(report),
            "consolidated": str(paths.consolidated), "units": dict(statuses)}


# The mail step: ``plan_mail`` (a branch) picks ``send`` for the quarter's first mail, the
# review ``review_correction`` (human-in-the-loop) for a correction, or nothing.
SEND_TASK = "send"
REVIEW_TASK = "review_correction"
DASHBOARD_FILES = "/wcreport/files/"    # the dashboard plugin's download route (output-relative paths)


def _consolidated(path: str | Path):
    from wcreport.report.consolidate import Consolidated

    return Consolidated.model_validate_json(Path(path).read_text(encoding="utf-8"))


@fail_fast
def plan_mail(run: dict, merged: dict, params: dict | None = None, requested_by: str = "") -> dict:
    """Which mail task runs next (``next``: a task id or None) and, for a correction, its review.

    The quarter's first mail goes out unattended; a correction registers the quarter's one
    pending review (``deliver.mail.open_review``) and carries the approval request's
    subject and body; unchanged or already rejected content sends nothing.
    """
    from wcreport.deliver.mail import open_review, review_request

    paths, programme = paths_of(run), programme_of(run)
    consolidated = _consolidated(merged["consolidated"])
    plan = open_review(consolidated, Path(merged["report"]), paths.mail_ledger, paths.output,
                       requested_by=requested_by)
    if plan["action"] == "send":
        return {**plan, "next": SEND_TASK}
    if plan["action"] == "none":
        log.info("Mail for %s: nothing to send (%s)", paths.quarter, plan["reason"])
        return {**plan, "next": None}
    subject, body = review_request(plan, programme, link=_download_link(paths, Path(plan["workbook"])),
                                   timeout_hours=review_timeout_hours(params),
                                   send_on_timeout=send_on_timeout(params))
    log.info("Mail for %s: correction %s waits for approval: %s", paths.quarter, plan["id"], plan["changes"])
    return {**plan, "next": REVIEW_TASK, "hitl": {"subject": subject, "body": body}}


def _download_link(paths: QuarterPaths, file: Path) -> str:
    """The file through the dashboard's download route, on the API server's base URL if known."""
    from urllib.parse import quote

    try:
        relative = file.resolve().relative_to(paths.output_root.resolve())
    except ValueError:
        return ""
    try:
        from airflow.configuration import conf

        base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    except Exception:          # configuration unavailable: a server-relative link still works in the UI
        base = ""
    return f"{base}{DASHBOARD_FILES}{quote(relative.as_posix())}"


@fail_fast
def send(run: dict, merged: dict, conn_id: str = "smtp_default") -> dict:
    """E-mail the quarter's first report, unattended (a correction goes through the review)."""
    from wcreport.deliver.mail import send_report_once
    from wcreport.orchestration.connections import smtp_settings

    paths, programme = paths_of(run), programme_of(run)
    outcome = send_report_once(_consolidated(merged["consolidated"]), Path(merged["report"]), programme,
                               paths.mail_ledger, smtp_settings(conn_id), keep_dir=paths.output / "sent")
    log.info("Mail for %s: %s", paths.quarter, outcome)
    return outcome


class StaleApproval(RuntimeError):
    """The clerk approved content that is no longer the quarter's current content."""


@fail_fast
def send_correction(run: dict, plan: dict, answer: dict, conn_id: str = "smtp_default") -> dict:
    """Act on the clerk's answer: send the approved correction once, or record the rejection."""
    from wcreport.deliver.mail import answer_review
    from wcreport.orchestration.connections import smtp_settings

    paths, programme = paths_of(run), programme_of(run)
    approved = list(answer.get("chosen_options") or []) == [REVIEW_SEND]
    responder = (answer.get("responded_by_user") or {}).get("name") or None
    current = _consolidated(paths.consolidated).content_hash()
    outcome = answer_review(plan["id"], approved, programme, paths.mail_ledger,
                            smtp_settings(conn_id) if approved else None, current_hash=current,
                            responder=responder, keep_dir=paths.output / "sent")
    log.info("Correction %s for %s answered %s by %s: %s", plan["id"], paths.quarter,
             answer.get("chosen_options"), responder or "timeout", outcome)
    if outcome["outcome"] == "stale":
        raise StaleApproval(f"correction {plan['id']} was approved, but the report changed again before it was "
                            "sent; nothing was sent. Clear plan_mail (with downstream) to ask for the new content.")
    return outcome


def load_unit_result(paths: QuarterPaths, programme: Programme, unit_key: str) -> UnitResult:
    """The unit's ingest result; a missing or unreadable one is ours to fix, never 'missing'."""
    from pydantic import ValidationError

    from wcreport.core.io import DamagedStateError, read_json

    path = paths.units / f"{unit_key}.json"
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


def _data_docs_index(paths: QuarterPaths) -> str | None:
    index = paths.data_docs / "index.html"
    return str(index.relative_to(paths.output_root)) if index.exists() else None


@fail_fast
def send_reminders(run: dict) -> dict:
    """Today's reminders for the run's quarter, through ``smtp_default``.

    Units whose check failed (``run["unchecked"]``) are not reminded; the task then fails
    naming them, after the others' reminders went out.
    """
    from wcreport.core.faults import InternalError

    programme = programme_of(run)
    unchecked = list(run.get("unchecked") or [])
    only = run.get("units")
    if unchecked:
        only = [key for key in (only or [u.key for u in programme.units]) if key not in unchecked]
    summary = remind_units(paths_of(run), programme, dt.date.fromisoformat(run["today"]), only_units=only).as_dict()
    if unchecked:
        raise InternalError(f"could not check the files of {unchecked}, so they were not reminded "
                            f"(the others were: {summary}); see check_units' log",
                            "fix the cause in check_units' log, then clear check_units with Downstream")
    return summary


def remind_units(paths: QuarterPaths, programme: Programme, today: dt.date, *, only_units=None):
    """Reminders with the addresses of the programme file and the Variable report_unit_emails."""
    from wcreport.deliver.reminders import UNIT_EMAILS_VARIABLE, unit_addresses
    from wcreport.deliver.reminders import send_reminders as send_all
    from wcreport.orchestration.alerts import send_mail
    from wcreport.orchestration.connections import json_variable

    extra = {str(k): str(v) for k, v in json_variable(UNIT_EMAILS_VARIABLE).items()}
    return send_all(paths, programme, today, addresses=unit_addresses(programme, extra),
                    send=send_mail, only_units=only_units)
