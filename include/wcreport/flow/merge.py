"""Step 4: every unit's result into the manifest, the consolidated model and the leaders' workbook."""
from __future__ import annotations

import logging
from collections import Counter

from wcreport.core.io import write_text_atomic
from wcreport.core.settings import QuarterPaths, settings
from wcreport.core.unit_results import load_unit_result
from wcreport.flow.checks import fail_on_internal_errors
from wcreport.flow.gather import scan_inbox
from wcreport.flow.run import QuarterRun
from wcreport.flow.summaries import MergeSummary
from wcreport.report.consolidate import Consolidated, consolidate
from wcreport.report.manifest import build_manifest, verify_accepted, write_manifest
from wcreport.report.workbook import report_filename, write_report
from wcreport.report.year import YearAccount, build_year, year_digest
from wcreport.validate.outcome import build_data_docs_index

log = logging.getLogger(__name__)
YEAR_FILE = "year.json"     # the annual account as the fourth quarter's workbook shows it


def merge(run: QuarterRun) -> MergeSummary:
    """Build manifest, consolidated model and workbook from all units' results; paths for XCom."""
    paths, programme = run.paths, run.programme
    results = [load_unit_result(paths, programme, unit.key) for unit in programme.units]
    verify_accepted(paths, results)
    scanned = scan_inbox(paths, programme, max_wait_seconds=0)
    fail_on_internal_errors(scanned)
    manifest = build_manifest(paths, programme, scanned, results)
    consolidated = consolidate(programme, paths.quarter, results, manifest)
    year = _year_account(run, consolidated)
    if year is not None:
        consolidated = consolidated.model_copy(update={"year_digest": year_digest(year)})
    report = write_report(consolidated, programme, paths.output / report_filename(programme, paths.quarter), year)
    manifest.report = str(report.relative_to(paths.output_root))
    if paths.data_docs.is_dir():        # unit pages are rendered per unit, the index once here
        build_data_docs_index(paths.data_docs)
    manifest.data_docs = _data_docs_index(paths)
    write_text_atomic(paths.consolidated, consolidated.model_dump_json(indent=2))
    write_manifest(manifest, paths.manifest)
    statuses = Counter(u.status for u in manifest.units)
    log.info("Quarter %s: units %s; report %s", paths.quarter, dict(statuses), report)
    return {"manifest": str(paths.manifest), "report": str(report),
            "consolidated": str(paths.consolidated), "units": dict(statuses)}


def _year_account(run: QuarterRun, consolidated: Consolidated) -> YearAccount | None:
    """The fourth quarter carries the programme year's account (the others the year so far when
    REPORT_YEAR_TO_DATE is on); quarters it could not read are logged."""
    if run.paths.quarter.number != 4 and not settings().year_to_date:
        return None
    year = build_year(run.programme, consolidated, run.paths.output_root)
    for source in year.unavailable:
        log.warning("Annual account %s: %s is %s: %s", year.year, source.quarter, source.state, source.problem)
    if year.ledger_problem:
        log.warning("Annual account %s: the mail ledger cannot be read; corrections after mail are not noted",
                    year.year)
    for change in year.programme_changes:
        log.warning("Annual account %s: %s", year.year, change)
    log.info("Annual account %s: tasks %s; corrections after mail %d", year.year,
             dict(Counter(t.verdict for t in year.tasks)), len(year.corrections))
    write_text_atomic(run.paths.output / YEAR_FILE, year.model_dump_json(indent=2))
    return year


def _data_docs_index(paths: QuarterPaths) -> str | None:
    index = paths.data_docs / "index.html"
    return str(index.relative_to(paths.output_root)) if index.exists() else None
