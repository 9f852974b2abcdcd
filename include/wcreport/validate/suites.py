"""Great Expectations validation of one parsed report: the plain path.

The rules are the JSON suites of the GX project in ``expectations/``
(``wcreport.core.settings.expectations_root()``, env ``REPORT_EXPECTATIONS``); this
module only

1. turns the parsed report into two small frames, one per suite (``frames``), and
   computes the suites' ``$PARAMETER`` values (``parameters``): ``prepare``;
2. runs the project's validation definitions, one per suite (the checkpoints are not
   run: only their result format is used) and, given a Data Docs folder, writes this
   run's pages there (``data_docs``): ``validate_report``;
3. maps failing rows back to cells as Chinese findings (``messages``,
   ``findings``): ``findings_of``.

The quarter's batch (``accelerators.batch``) reuses ``prepare`` and ``findings_of``
and must reach the same findings.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wcreport.core.model import Finding, ParsedReport, ProgressRow, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.core.settings import expectations_root
from wcreport.validate import messages
from wcreport.validate.data_docs import build_run_pages, offline_page
from wcreport.validate.findings import findings_from_result
from wcreport.validate.frames import (
    Derivations,
    ProgrammeFacts,
    form_rows,
    indicator_records,
    indicator_value,
    rows_records,
    typed_frame,
)
from wcreport.validate.gx_project import TABLES, GxProject, ProjectOpener, open_project
from wcreport.validate.limits import cap_findings
from wcreport.validate.parameters import comparable_previous, suite_parameters

log = logging.getLogger(__name__)


@dataclass
class ValidationOutcome:
    findings: list[Finding] = field(default_factory=list)
    data_docs: str | None = None     # path of the Data Docs index page, if built
    # This run's result pages: our offline page first, then GX's (one per suite). Static
    # HTML: they render offline, whereas GX's index page lists results through JavaScript
    # libraries loaded from CDNs.
    pages: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """One file's frames, suite parameters and message context, ready for a GX run."""

    parsed: ParsedReport
    unit_key: str
    rows: list[ProgressRow]
    records: dict[str, list[dict[str, Any]]]     # per table: the rows of its frame
    params: dict[str, Any]
    prev_values: dict[str, float]
    prev_label: str
    unit_seqs: set[int]
    facts: ProgrammeFacts


def prepare(parsed: ParsedReport, unit_key: str, programme: Programme, quarter: Quarter,
            previous: UnitResult | None = None, derive: Derivations | None = None) -> Prepared:
    """The frames and parameters the suites test for one unit's parsed report."""
    derive = derive or Derivations.of(programme)
    unit_seqs = {t.seq for t in programme.tasks_of(unit_key)}
    rows = form_rows(parsed, unit_seqs)
    previous = comparable_previous(previous, programme)
    prev_values = {i.key: v for i in (previous.indicators if previous else [])
                   if i.key and (v := indicator_value(i)) is not None}
    records = {"progress_rows": rows_records(rows, derive, programme.year),
               "indicators": indicator_records(parsed.indicators, derive.facts, prev_values)}
    params = suite_parameters(derive.facts, unit_key, previous.rows if previous else [])
    return Prepared(parsed, unit_key, rows, records, params, prev_values, messages.previous_label(previous),
                    unit_seqs, derive.facts)


def findings_of(prepared: Prepared, results: dict[str, Any]) -> list[Finding]:
    """The Chinese findings of one file's suite results (cell by cell)."""
    p = prepared
    findings: list[Finding] = []
    findings += findings_from_result(
        results["progress_rows"], messages.row_context(p.rows, p.facts, p.unit_seqs, p.prev_label),
        messages.row_cell(p.rows), messages.table_context(p.facts, p.params))
    findings += findings_from_result(
        results["indicators"],
        messages.indicator_context(p.parsed.indicators, p.facts, p.prev_values, p.prev_label),
        messages.indicator_cell(p.parsed.indicators),
        messages.table_context(p.facts, p.params, messages.indicator_sheet(p.parsed)))
    return findings


def validate_report(parsed: ParsedReport, unit_key: str, programme: Programme, quarter: Quarter,
                    previous: UnitResult | None = None, data_docs_dir: Path | None = None,
                    open_gx: ProjectOpener = open_project, render_page: bool = True) -> ValidationOutcome:
    """Validate one unit's parsed report; errors reject the file, warnings do not.

    ``open_gx`` gives the GX project (opened afresh by default; the accelerators keep it per process).
    ``render_page=False``: the offline page's summary only (``offline_docs.write_unit_page``)."""
    started = time.perf_counter()
    prepared = prepare(parsed, unit_key, programme, quarter, previous)
    docs_dir = Path(data_docs_dir) if data_docs_dir else None
    if docs_dir:
        docs_dir.mkdir(parents=True, exist_ok=True)
    project = open_gx(expectations_root(), docs_dir)
    run = run_suites(project, prepared, f"{quarter}-{unit_key}", with_docs=docs_dir is not None)
    findings = findings_of(prepared, run.results)
    pages = run.gx_pages
    if docs_dir:
        results = {name: result.to_json_dict() for name, result in run.results.items()}
        page = offline_page(docs_dir, quarter, unit_key, programme, results, cap_findings(findings), pages,
                            render_page=render_page)
        pages = [str(page), *pages]
    index = str(docs_dir / "index.html") if docs_dir and (docs_dir / "index.html").exists() else None
    log.info("validated %s %s: %d error(s), %d warning(s) in %.2f s; Data Docs: %s", quarter, unit_key,
             sum(f.severity == "error" for f in findings), sum(f.severity == "warning" for f in findings),
             time.perf_counter() - started, index)
    return ValidationOutcome(findings=findings, data_docs=index, pages=pages)


@dataclass
class SuiteRun:
    """One file's run: each suite's GX result (in suite order) and GX's pages of it, if built."""

    results: dict[str, Any]
    gx_pages: list[str] = field(default_factory=list)


def run_suites(project: GxProject, prepared: Prepared, run_name: str, with_docs: bool = False) -> SuiteRun:
    """Run both validation definitions on the file's frames; with Data Docs, GX's pages of
    this run only (``data_docs.build_run_pages``)."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
    results: dict[str, Any] = {}
    keys = []
    for table in TABLES:
        definition = project.definitions[table]
        frame = typed_frame(table, prepared.records[table])
        results[table] = in_suite_order(definition.run(
            batch_parameters={"dataframe": frame}, expectation_parameters=prepared.params,
            result_format=project.result_format, run_id=run_id), definition.suite)
        keys.append(ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=definition.suite.name),
            run_id=run_id, batch_identifier=results[table].batch_id))
    return SuiteRun(results, build_run_pages(project, keys) if with_docs else [])


def in_suite_order(result, suite):
    """GX returns results grouped by what they compute, not in suite order; findings take a
    cell's first failing expectation in suite order, so put them back in that order."""
    order = {e.id: n for n, e in enumerate(suite.expectations)}
    result.results.sort(key=lambda r: order.get(r.expectation_config.id, len(order)))
    return result
