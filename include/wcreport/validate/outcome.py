"""The validate stage's surface: one file's validation, the quarter's batch, the quarter's Data Docs index.

The plain path is ``validate_file`` with ``REPORT_ACCELERATORS=off``: the suites run on the
one file (``suites.validate_report``), the GX project opened for it, its pages made from
GX's own results. With accelerators on (``accelerators``), the outcome the quarter's
batch kept for exactly these bytes, unit, previous quarter and rules is used instead,
and files the batch did not see are validated with the GX project kept per process;
equivalence tests hold the two to the same findings, pages and unit results.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from wcreport.core.model import FileRecord, Finding, ParsedReport, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.settings import QuarterPaths, accelerators_on
from wcreport.validate import data_docs, suites
from wcreport.validate.accelerators import context_cache, prevalidated
from wcreport.validate.limits import cap_findings

log = logging.getLogger(__name__)


@dataclass
class FileValidation:
    """The suites' findings for one file, and its Data Docs page (absolute path) if one was written."""

    findings: list[Finding]
    page: str | None


def validate_file(paths: QuarterPaths, programme: Programme, unit_key: str, sha256: str | None,
                  parsed: ParsedReport, previous: UnitResult | None, *, render_page: bool = True) -> FileValidation:
    """Validate one parsed file of ``unit_key`` against the suites; its page under the quarter's Data Docs.

    ``render_page=False`` writes only the page's summary (its content): for a caller that renders
    the file version's pages from it (``ingest_unit``)."""
    if accelerators_on():
        return _validate_file_accelerated(paths, programme, unit_key, sha256, parsed, previous, render_page)
    outcome = suites.validate_report(parsed, unit_key, programme, paths.quarter, previous=previous,
                                     data_docs_dir=paths.data_docs, render_page=render_page)
    return FileValidation(outcome.findings, outcome.pages[0] if outcome.pages else outcome.data_docs)


def validate_quarter_batch(paths: QuarterPaths, programme: Programme, records: list[FileRecord]) -> dict:
    """Validate the quarter's pending files in one batch for ``validate_file`` to look up (accelerator)."""
    if not accelerators_on():
        return {"skipped": "REPORT_ACCELERATORS=off: each unit's files are validated by its ingest"}
    return prevalidated.validate_quarter(paths, programme, records)


def build_data_docs_index(data_docs_dir: Path) -> str | None:
    """The quarter's Data Docs index over all its results (once per quarter, at merge)."""
    if accelerators_on():
        return data_docs.build_data_docs_index(data_docs_dir, open_gx=context_cache.cached_project)
    return data_docs.build_data_docs_index(data_docs_dir)


def _validate_file_accelerated(paths: QuarterPaths, programme: Programme, unit_key: str, sha256: str | None,
                               parsed: ParsedReport, previous: UnitResult | None,
                               render_page: bool) -> FileValidation:
    """``validate_file`` with the quarter's batch outcome when there is one, else the suites
    run on the GX project kept per process."""
    found = prevalidated.lookup(paths, programme, unit_key, sha256, previous)
    if found is not None:
        page = data_docs.offline_page(paths.data_docs, paths.quarter, unit_key, programme, found.results,
                                      cap_findings(found.findings), [], render_page=render_page)
        return FileValidation(found.findings, str(page))
    log.info("%s: not in the quarter's batch, validated on its own", sha256)
    outcome = suites.validate_report(parsed, unit_key, programme, paths.quarter, previous=previous,
                                     data_docs_dir=paths.data_docs, open_gx=context_cache.cached_project,
                                     render_page=render_page)
    return FileValidation(outcome.findings, outcome.pages[0] if outcome.pages else outcome.data_docs)
