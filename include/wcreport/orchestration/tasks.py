"""One function per DAG task; each reads and writes files under the quarter's folders.

The DAG files only call these functions. Arguments and return values are small,
JSON-serialisable values (paths, counts, statuses) so they fit in XCom.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from pathlib import Path

from wcreport.core.io import write_text_atomic
from wcreport.core.model import UnitResult
from wcreport.core.programme import Programme, programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.core.settings import QuarterPaths, quarter_paths
from wcreport.report.manifest import build_manifest, write_manifest

log = logging.getLogger(__name__)


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


def gather(run: dict) -> list[str]:
    """Scan, archive and identify the quarter's inbox; return the unit keys to ingest."""
    from wcreport.validate.decide import scan_inbox

    paths, programme = paths_of(run), programme_of(run)
    records = scan_inbox(paths, programme)
    counts = Counter(r.status for r in records)
    log.info("Inbox %s: %d file(s) %s", paths.inbox, len(records), dict(counts))
    return [unit.key for unit in programme.units]


def ingest(run: dict, unit_key: str) -> dict:
    """Ingest one unit's files; the result is written to units/<key>.json."""
    from wcreport.validate.decide import ingest_unit

    paths, programme = paths_of(run), programme_of(run)
    result = ingest_unit(paths, programme, unit_key)
    summary = {"unit": unit_key, "unit_name": result.unit_name, "status": result.status,
               "files": len(result.files), "warnings": len(result.warnings),
               "feedback": result.feedback, "data_docs": result.data_docs}
    log.info("Unit %s (%s): %s", unit_key, result.unit_name, summary)
    for line in findings_lines(result):
        log.info("%s", line)
    return summary


def map_label(summary: dict) -> str:
    """The ingest_unit instance's name in the Airflow grid: unit and outcome, e.g. "建设局 · 已退回"."""
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


def merge(run: dict) -> dict:
    """Build manifest, consolidated model and workbook from all units' results."""
    from wcreport.report.consolidate import consolidate
    from wcreport.report.workbook import report_filename, write_report
    from wcreport.validate.decide import scan_inbox

    paths, programme = paths_of(run), programme_of(run)
    results = [load_unit_result(paths, programme, unit.key) for unit in programme.units]
    manifest = build_manifest(paths, programme, scan_inbox(paths, programme), results)
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


def send(run: dict, merged: dict, conn_id: str = "smtp_default") -> dict:
    """E-mail the report once per distinct content (a 更正版 when content changed)."""
    from wcreport.deliver.mail import send_report_once
    from wcreport.orchestration.connections import smtp_settings
    from wcreport.report.consolidate import Consolidated

    paths, programme = paths_of(run), programme_of(run)
    consolidated = Consolidated.model_validate_json(
        Path(merged["consolidated"]).read_text(encoding="utf-8"))
    outcome = send_report_once(consolidated, Path(merged["report"]), programme,
                               paths.mail_ledger, smtp_settings(conn_id))
    log.info("Mail for %s: %s", paths.quarter, outcome)
    return outcome


def load_unit_result(paths: QuarterPaths, programme: Programme, unit_key: str) -> UnitResult:
    """The unit's ingest result, or 'missing' when its ingest has not produced one."""
    path = paths.units / f"{unit_key}.json"
    if path.exists():
        return UnitResult.model_validate(json.loads(path.read_text(encoding="utf-8")))
    return UnitResult(quarter=str(paths.quarter), unit=unit_key,
                      unit_name=programme.unit(unit_key).name, status="missing")


def _data_docs_index(paths: QuarterPaths) -> str | None:
    index = paths.data_docs / "index.html"
    return str(index.relative_to(paths.output_root)) if index.exists() else None


def send_reminders(run: dict) -> dict:
    """Today's reminders for the run's quarter, through ``smtp_default``."""
    return remind_units(paths_of(run), programme_of(run), dt.date.fromisoformat(run["today"]),
                        only_units=run.get("units")).as_dict()


def remind_units(paths: QuarterPaths, programme: Programme, today: dt.date, *, only_units=None):
    """Reminders with the addresses of the programme file and the Variable report_unit_emails."""
    from wcreport.deliver.reminders import UNIT_EMAILS_VARIABLE, unit_addresses
    from wcreport.deliver.reminders import send_reminders as send_all
    from wcreport.orchestration.alerts import send_mail
    from wcreport.orchestration.connections import json_variable

    extra = {str(k): str(v) for k, v in json_variable(UNIT_EMAILS_VARIABLE).items()}
    return send_all(paths, programme, today, addresses=unit_addresses(programme, extra),
                    send=send_mail, only_units=only_units)
