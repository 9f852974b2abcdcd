"""Validate many files in one Great Expectations run per suite.

GX's cost is per expectation and run (building the metric graph), hardly per row
(docs/benchmarks.md). So a quarter is validated as one frame per suite, every row tagged
with its item (one item = one file of one unit): the suites are folded into a batched
form (``folding``), run once, and each item's results cut back out (``split``). Each
item's outcome equals ``suites.validate_report`` of its item alone.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from wcreport.core.model import Finding, ParsedReport, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.core.settings import expectations_root
from wcreport.validate.accelerators.context_cache import cached_project
from wcreport.validate.accelerators.folding import NotFoldable, batch_frame, fold
from wcreport.validate.accelerators.split import results_json_text, split
from wcreport.validate.data_docs import offline_page
from wcreport.validate.frames import Derivations, deadline_columns, name_key, programme_facts
from wcreport.validate.gx_project import TABLES, GxProject
from wcreport.validate.limits import cap_findings
from wcreport.validate.suites import Prepared, findings_of, prepare, run_suites

log = logging.getLogger(__name__)


@dataclass
class Item:
    """One file of one unit to validate in a batch."""

    parsed: ParsedReport
    unit_key: str
    previous: UnitResult | None = None


@dataclass
class BatchOutcome:
    """One item's outcome: its findings and its suites' results in GX's JSON form."""

    findings: list[Finding]
    results_json: str                   # the results as JSON text (what the outcome store keeps)
    results: dict[str, dict] | None = None  # the same as dicts (with Data Docs: the offline page's source)
    data_docs: str | None = None        # the Data Docs index page, if there is one
    pages: list[str] = field(default_factory=list)     # the item's offline page (with Data Docs)


def memoised_derivations(programme: Programme) -> Derivations:
    """The frames' derivations with the per-row keys memoised: a quarter's units copy the
    programme's few task names and write the same few deadlines."""
    return Derivations(programme_facts(programme), lru_cache(maxsize=4096)(name_key),
                       lru_cache(maxsize=4096)(deadline_columns))


def validate_many(items: list[Item], programme: Programme, quarter: Quarter,
                  data_docs_dir: Path | None = None) -> list[BatchOutcome]:
    """Validate many files with one GX run per suite; falls back to one run per item when
    a suite cannot be batched."""
    if not items:
        return []
    started = time.perf_counter()
    derive = memoised_derivations(programme)
    prepared = [prepare(i.parsed, i.unit_key, programme, quarter, i.previous, derive) for i in items]
    project = cached_project(expectations_root(), None)
    try:
        folded = {t: fold(project.definitions[t].suite, [p.params for p in prepared]) for t in TABLES}
    except NotFoldable as exc:
        log.warning("suite cannot be validated in one run (%s): validating %d file(s) one by one",
                    exc, len(items))
        return [_single(project, p, programme, quarter, data_docs_dir) for p in prepared]
    per_item: list[dict[str, Any]] = [{} for _ in items]
    for table in TABLES:
        batch = batch_frame(table, [p.records[table] for p in prepared], folded[table])
        gx_batch = project.definitions[table].data.get_batch(batch_parameters={"dataframe": batch.frame})
        result = gx_batch.validate(folded[table].suite, result_format=project.result_format,
                                   expectation_parameters=folded[table].params)
        for item, share in enumerate(split(result, folded[table], batch)):
            per_item[item][table] = share
    log.info("validated %d file(s) in one run per suite in %.2f s", len(items), time.perf_counter() - started)
    return [_outcome(p, results, programme, quarter, data_docs_dir)
            for p, results in zip(prepared, per_item, strict=True)]


def _outcome(prepared: Prepared, results: dict[str, Any], programme: Programme, quarter: Quarter,
             data_docs_dir: Path | None) -> BatchOutcome:
    """One item's outcome from its share of the batch (``split.ItemResult`` per suite)."""
    passed = all(result.success for result in results.values())
    findings = [] if passed else findings_of(prepared, results)
    results_json = results_json_text(results)
    if not data_docs_dir:
        return BatchOutcome(findings, results_json)
    as_json = {name: result.to_json_dict() for name, result in results.items()}
    return _with_page(BatchOutcome(findings, results_json, as_json), prepared, programme, quarter, data_docs_dir)


def _single(project: GxProject, prepared: Prepared, programme: Programme, quarter: Quarter,
            data_docs_dir: Path | None) -> BatchOutcome:
    """One item validated on its own (a suite the batch cannot fold), in the batch's outcome form."""
    run = run_suites(project, prepared, f"{quarter}-{prepared.unit_key}")
    as_json = {name: result.to_json_dict() for name, result in run.results.items()}
    outcome = BatchOutcome(findings_of(prepared, run.results), json.dumps(as_json, ensure_ascii=False), as_json)
    if not data_docs_dir:
        return outcome
    return _with_page(outcome, prepared, programme, quarter, data_docs_dir)


def _with_page(outcome: BatchOutcome, prepared: Prepared, programme: Programme, quarter: Quarter,
               data_docs_dir: Path) -> BatchOutcome:
    """The outcome with the item's offline page written (no GX pages: they are per run)."""
    docs_dir = Path(data_docs_dir)
    page = offline_page(docs_dir, quarter, prepared.unit_key, programme, outcome.results or {},
                        cap_findings(outcome.findings), [])
    index = docs_dir / "index.html"
    outcome.data_docs = str(index) if index.exists() else None
    outcome.pages = [str(page)]
    return outcome
