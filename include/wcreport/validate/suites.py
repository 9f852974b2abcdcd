"""Great Expectations validation of a parsed report.

The only module that imports great_expectations, inside functions, never at import
time (DAG parsing must not pay for it). The rules are the JSON suites of the GX
project in ``expectations/`` (``wcreport.core.settings.expectations_root()``, env
``REPORT_EXPECTATIONS``); this module only

1. turns the parsed report into two small frames (one row per task row, one per
   indicator) with derived columns the suites test (normalised names, deadline
   status, ratio to target, previous quarter's value ...) and the cell references;
2. computes the programme-derived suite parameters (``$PARAMETER`` values: the
   unit's tasks, expected names, previous quarter's texts ...);
3. runs the project's validation definitions (one per suite) and, given a Data Docs
   folder, builds this run's result pages there (the site index only when missing;
   ``build_data_docs_index`` rebuilds it once per quarter). The checkpoints are not
   run: only their result format is used;
4. maps failing rows back to cells as Chinese findings (``wcreport.validate.findings``).

The GX context is created once per process and (project, Data Docs folder) and reused.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import os
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wcreport.core.model import Finding, IndicatorValue, ParsedReport, ProgressRow, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.core.settings import expectations_root
from wcreport.intake.cells import parse_number
from wcreport.validate.completion import parse_deadline
from wcreport.validate.findings import findings_from_result, fmt_number, join_bounded, join_seqs, short
from wcreport.validate.limits import cap_findings

log = logging.getLogger(__name__)

TABLES = ("progress_rows", "indicators")   # checkpoint = validation definition = suite names
_QUOTES = re.compile(r"[\"'“”‘’„‟「」『』〝〞〃《》<>]")
_SPACES = re.compile(r"\s+")
_EDGE_PUNCT = "。.，,；;！!、:："
_CACHE_SIZE = 8


@dataclass
class ValidationOutcome:
    findings: list[Finding] = field(default_factory=list)
    data_docs: str | None = None     # path of the Data Docs index page, if built
    # This run's result pages (one per suite). Static HTML: they render offline, whereas
    # GX's index page lists results through JavaScript libraries loaded from CDNs.
    pages: list[str] = field(default_factory=list)
    # The suites' results in GX's JSON form (batched runs with Data Docs: what the offline page
    # is made from) ...
    results: dict[str, dict] | None = None
    # ... and the same as JSON text (every batched run: what the quarter's batch keeps per file).
    results_json: str | None = None


# --- text normalisation ------------------------------------------------------------
def name_key(text: str | None) -> str:
    """Task names compared tolerant of whitespace, full-width forms and quote style."""
    text = unicodedata.normalize("NFKC", text or "")
    return _QUOTES.sub("", _SPACES.sub("", text))


def text_key(text: str | None) -> str:
    """Progress text compared tolerant of whitespace and full-width forms only."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or ""))


def placeholder_key(text: str | None) -> str:
    """What a placeholder list entry is compared with: text_key without edge punctuation."""
    return text_key(text).strip(_EDGE_PUNCT)


# --- GX context, cached per process ---------------------------------------------------
@dataclass
class _Project:
    context: Any
    checkpoints: dict[str, Any]
    definitions: dict[str, Any]
    result_format: dict[str, Any]
    site_dir: str = ""


_projects: OrderedDict[tuple[str, str], _Project] = OrderedDict()
_lock = threading.Lock()


def _project(root: Path, docs_dir: Path | None) -> _Project:
    results_dir = (docs_dir / "results") if docs_dir else (root / "gx" / "uncommitted" / "validations")
    site_dir = docs_dir if docs_dir else (root / "gx" / "uncommitted" / "data_docs" / "local_site")
    key = (str(root.resolve()), str(site_dir.resolve()))
    with _lock:
        if key in _projects:
            _projects.move_to_end(key)
            return _projects[key]
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        _quiet_gx_logging()
        import great_expectations as gx  # ~3 s cold, once per process
        _share_template_cache()

        started = time.perf_counter()
        context = gx.get_context(mode="file", project_root_dir=str(root), runtime_environment={
            "WCREPORT_RESULTS_DIR": str(results_dir.resolve()),
            "WCREPORT_DATA_DOCS_DIR": str(site_dir.resolve()) + os.sep})
        checkpoints = {t: context.checkpoints.get(t) for t in TABLES}
        definitions = {t: context.validation_definitions.get(t) for t in TABLES}
        result_format = checkpoints[TABLES[0]].result_format
        if not isinstance(result_format, dict):
            result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": ["row_id"]}
        project = _Project(context, checkpoints, definitions, result_format, str(site_dir))
        _projects[key] = project
        while len(_projects) > _CACHE_SIZE:
            _projects.popitem(last=False)
        log.info("GX project %s loaded in %.2f s (results %s)", root, time.perf_counter() - started,
                 results_dir)
        return project


def _quiet_gx_logging() -> None:
    """GX logs at INFO while importing ("Skipping registering function ...") and building
    Data Docs: noise at the top of every task log. Its warnings and errors still show."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def _share_template_cache() -> None:
    """Data Docs: GX builds a new Jinja environment per page view, recompiling every
    template (~70% of a Data Docs build). Give those environments one in-memory bytecode
    cache. Guarded: if GX's view class changes, this does nothing and docs are just slower."""
    try:
        import jinja2
        from great_expectations.render.view.view import DefaultJinjaView
    except ImportError:
        return
    if getattr(DefaultJinjaView, "_wcreport_cache", None) is not None:
        return
    class MemoryBytecodeCache(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self.store: dict[str, bytes] = {}

        def load_bytecode(self, bucket) -> None:
            if bucket.key in self.store:
                bucket.bytecode_from_string(self.store[bucket.key])

        def dump_bytecode(self, bucket) -> None:
            self.store[bucket.key] = bucket.bytecode_to_string()

    cache = MemoryBytecodeCache()
    original = DefaultJinjaView.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        env = getattr(self, "env", None)
        if isinstance(env, jinja2.Environment) and env.bytecode_cache is None:
            env.bytecode_cache = cache

    DefaultJinjaView.__init__ = __init__
    DefaultJinjaView._wcreport_cache = cache


# --- frames ---------------------------------------------------------------------------
def _form_rows(parsed: ParsedReport, unit_seqs: set[int]) -> list[ProgressRow]:
    """The rows that are the unit's report: a blank row of another unit's task (the full
    notice form has all ten) is template, not report."""
    return [r for r in parsed.rows
            if r.progress.strip() or (r.seq is not None and r.seq in unit_seqs)]


# Per table: the columns GX sees as objects and as floats (``row_id`` stays as built).
COLUMNS = {
    "progress_rows": (("seq", "task_key", "progress", "progress_norm", "progress_key", "deadline_status"),
                      ("deadline_yyyymmdd",)),
    "indicators": (("key", "raw"), ("value", "previous_value", "ratio_to_target")),
}


@dataclass(frozen=True)
class _ProgrammeFacts:
    """What every file's frames and parameters take from the programme, computed once per programme."""

    programme: Programme
    known_seqs: frozenset[int]
    programme_seqs: tuple[int, ...]
    task_keys: tuple[str, ...]
    indicators: dict[str, Any]      # indicator key -> the programme's indicator


_facts_memo: _ProgrammeFacts | None = None


def _facts(programme: Programme) -> _ProgrammeFacts:
    """The programme's facts, kept for the last programme seen (a quarter's batch has one)."""
    global _facts_memo
    memo = _facts_memo
    if memo is not None and memo.programme is programme:
        return memo
    memo = _ProgrammeFacts(
        programme, frozenset(programme.tasks_by_seq), tuple(sorted(programme.tasks_by_seq)),
        tuple(f"{t.seq}|{name_key(t.name)}" for t in programme.tasks),
        {i.key: i for t in programme.tasks for i in t.indicators})
    _facts_memo = memo
    return memo


@functools.lru_cache(maxsize=4096)
def _task_name_key(task_name: str) -> str:
    """name_key of a task name: units copy the programme's few names, each normalised once."""
    return name_key(task_name)


@functools.lru_cache(maxsize=4096)
def _deadline_columns(deadline: str, year: int) -> tuple[str | None, float]:
    """(deadline_status, deadline_yyyymmdd) of a 完成时限 text: units write the same few
    texts ("2023年12月底", "长期坚持"), each parsed once."""
    parsed = parse_deadline(deadline if deadline.strip() else None, year)
    return (None if parsed.kind == "empty" else parsed.kind,
            float(parsed.yyyymmdd) if parsed.yyyymmdd else math.nan)


def _rows_records(rows: list[ProgressRow], programme: Programme, year: int) -> list[dict[str, Any]]:
    known = _facts(programme).known_seqs
    records = []
    for i, row in enumerate(rows):
        progress = row.progress.strip()
        deadline_status, deadline_yyyymmdd = _deadline_columns(row.deadline, year)
        progress_text = text_key(progress) if progress else ""
        records.append({
            "row_id": i,
            "seq": row.seq,
            "task_key": f"{row.seq}|{_task_name_key(row.task_name)}" if row.seq in known else None,
            "progress": progress or None,
            "progress_norm": progress_text.strip(_EDGE_PUNCT) if progress else None,    # placeholder_key
            "progress_key": f"{row.seq}|{progress_text}" if progress else None,
            "deadline_status": deadline_status,
            "deadline_yyyymmdd": deadline_yyyymmdd,
        })
    return records


def typed_frame(table: str, records: list[dict[str, Any]], extra: tuple[str, ...] = ()):
    """The frame GX validates: ``records`` with the table's column types; ``extra``
    columns (the batch's item number, qualified columns) are kept as they are."""
    import pandas as pd

    objects, floats = COLUMNS[table]
    frame = pd.DataFrame.from_records(records, columns=["row_id", *objects, *floats, *extra])
    for name in objects:
        frame[name] = frame[name].astype(object)
    for name in floats:
        frame[name] = frame[name].astype(float)
    return frame


def _indicator_value(ind: IndicatorValue) -> float | None:
    if ind.value is not None:
        return ind.value
    return parse_number(ind.raw)


def _indicator_records(indicators: list[IndicatorValue], programme: Programme,
                       previous: dict[str, float]) -> list[dict[str, Any]]:
    specs = _facts(programme).indicators
    records = []
    for i, ind in enumerate(indicators):
        value = _indicator_value(ind)
        spec = specs.get(ind.key) if ind.key else None
        target = spec.target if spec else None
        records.append({
            "row_id": i,
            "key": ind.key,
            "raw": ind.raw.strip() or None,
            "value": math.nan if value is None else float(value),
            "previous_value": previous.get(ind.key, math.nan) if ind.key else math.nan,
            "ratio_to_target": (float(value) / target) if value is not None and target else math.nan,
        })
    return records


# --- parameters -----------------------------------------------------------------------
def _parameters(programme: Programme, unit_key: str, year: int, previous_rows: list[ProgressRow],
                ) -> dict[str, Any]:
    facts = _facts(programme)
    return {
        "programme_seqs": list(facts.programme_seqs),
        "unit_seqs": sorted(t.seq for t in programme.tasks_of(unit_key)),
        "task_keys": list(facts.task_keys),
        "previous_progress_keys": sorted({f"{r.seq}|{text_key(r.progress)}" for r in previous_rows
                                          if r.seq is not None and r.progress.strip()}),
        "year_first_day": year * 10000 + 101,
        "year_last_day": year * 10000 + 1231,
        "unit_indicator_keys": [i.key for _t, i in programme.indicators_of(unit_key)],
    }


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return params.get(value["$PARAMETER"], [])
    return value


# --- entry point ----------------------------------------------------------------------
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


def prepare(parsed: ParsedReport, unit_key: str, programme: Programme, quarter: Quarter,
            previous: UnitResult | None = None) -> Prepared:
    """The frames and parameters the suites test for one unit's parsed report."""
    year = programme.year
    unit_seqs = {t.seq for t in programme.tasks_of(unit_key)}
    rows = _form_rows(parsed, unit_seqs)
    if previous is not None and not _same_year(previous, year):
        previous = None     # cumulative values restart, task numbers differ: no comparison
    prev_rows = previous.rows if previous else []
    prev_values = {i.key: v for i in (previous.indicators if previous else [])
                   if i.key and (v := _indicator_value(i)) is not None}
    records = {"progress_rows": _rows_records(rows, programme, year),
               "indicators": _indicator_records(parsed.indicators, programme, prev_values)}
    return Prepared(parsed, unit_key, rows, records, _parameters(programme, unit_key, year, prev_rows),
                    prev_values, previous_label(previous, quarter), unit_seqs)


def findings_of(prepared: Prepared, results: dict[str, Any], programme: Programme) -> list[Finding]:
    """The Chinese findings of one file's suite results (cell by cell)."""
    p, year = prepared, programme.year
    findings: list[Finding] = []
    findings += findings_from_result(
        results["progress_rows"], _row_context(p.rows, programme, year, p.unit_seqs, p.prev_label),
        _row_cell(p.rows), _table_context(programme, p.params))
    findings += findings_from_result(
        results["indicators"], _indicator_context(p.parsed.indicators, programme, p.prev_values, p.prev_label),
        _indicator_cell(p.parsed.indicators),
        _table_context(programme, p.params, _indicator_sheet(p.parsed)))
    return findings


def validate_report(parsed: ParsedReport, unit_key: str, programme: Programme, quarter: Quarter,
                    previous: UnitResult | None = None,
                    data_docs_dir: Path | None = None) -> ValidationOutcome:
    """Validate one unit's parsed report; errors reject the file, warnings do not."""
    started = time.perf_counter()
    prepared = prepare(parsed, unit_key, programme, quarter, previous)
    docs_dir = Path(data_docs_dir) if data_docs_dir else None
    if docs_dir:
        docs_dir.mkdir(parents=True, exist_ok=True)
    project = _project(expectations_root(), docs_dir)
    frames = {table: typed_frame(table, records) for table, records in prepared.records.items()}
    results, pages = _run(project, frames, prepared.params, docs_dir is not None,
                          f"{quarter}-{unit_key}")
    findings = findings_of(prepared, results, programme)
    if docs_dir:
        pages = [str(offline_page(docs_dir, quarter, unit_key, programme,
                                  {name: result.to_json_dict() for name, result in results.items()},
                                  cap_findings(findings), pages)),
                 *pages]
    index = str(docs_dir / "index.html") if docs_dir and (docs_dir / "index.html").exists() else None
    log.info("validated %s %s: %d error(s), %d warning(s) in %.2f s; Data Docs: %s", quarter, unit_key,
             sum(f.severity == "error" for f in findings), sum(f.severity == "warning" for f in findings),
             time.perf_counter() - started, index)
    return ValidationOutcome(findings=findings, data_docs=index, pages=pages)


def _run(project: _Project, frames, params, with_docs: bool, run_name: str
         ) -> tuple[dict[str, Any], list[str]]:
    """Run both validation definitions; with Data Docs, render this run's pages only.

    The checkpoints' UpdateDataDocsAction would also rebuild the site index, which reads
    every stored result of the quarter: O(units) per unit, O(units²) per quarter. The
    index is built here only when missing; ``build_data_docs_index`` rebuilds it once
    per quarter (pipeline.merge)."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
    out: dict[str, Any] = {}
    keys = []
    for table in TABLES:
        definition = project.definitions[table]
        out[table] = in_suite_order(definition.run(
            batch_parameters={"dataframe": frames[table]}, expectation_parameters=params,
            result_format=project.result_format, run_id=run_id), definition.suite)
        keys.append(ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=definition.suite.name),
            run_id=run_id, batch_identifier=out[table].batch_id))
    pages: list[str] = []
    if with_docs:
        suites = [ExpectationSuiteIdentifier(name=project.definitions[t].suite.name) for t in TABLES]
        project.context.build_data_docs(resource_identifiers=[*keys, *suites],
                                        build_index=not _index_exists(project))
        _keep_gx_index(Path(project.site_dir))
        for key in keys:
            pages += _page_paths(project.context, key)
    return out, pages


def in_suite_order(result, suite):
    """GX returns results grouped by what they compute, not in suite order; findings take a
    cell's first failing expectation in suite order, so put them back in that order."""
    order = {e.id: n for n, e in enumerate(suite.expectations)}
    result.results.sort(key=lambda r: order.get(r.expectation_config.id, len(order)))
    return result


def _index_exists(project: _Project) -> bool:
    from wcreport.validate.offline_docs import GX_INDEX

    return (Path(project.site_dir) / GX_INDEX).exists()


def _keep_gx_index(site_dir: Path) -> None:
    """GX always writes its index as index.html: keep it as gx-index.html (it needs CDNs);
    index.html is the offline index (``offline_docs.write_index``)."""
    from wcreport.validate.offline_docs import GX_INDEX, INDEX

    written = site_dir / INDEX
    if written.exists() and b"greatexpectations" in written.read_bytes()[:200_000].lower():
        written.replace(site_dir / GX_INDEX)


def offline_page(docs_dir: Path, quarter: Quarter, unit_key: str, programme: Programme,
                 results: dict[str, dict], findings: list[Finding], gx_pages: list[str]) -> Path:
    """This run's offline page (and the quarter's offline index when there is none yet);
    ``results`` are the suites' results in GX's JSON form."""
    from wcreport.validate import offline_docs

    page = offline_docs.write_unit_page(
        docs_dir, quarter=quarter, unit_key=unit_key, unit_name=programme.unit(unit_key).name,
        results=results, findings=findings, gx_pages=gx_pages, validated_at=dt.datetime.now(dt.UTC))
    if not (docs_dir / offline_docs.INDEX).exists():
        offline_docs.write_index(docs_dir, quarter)
    return page


def build_data_docs_index(data_docs_dir: Path) -> str | None:
    """Rebuild the quarter's Data Docs index over all its results (once per quarter).

    GX's own index only when GX stored results here (files validated on their own); a
    quarter validated in one batch has only the offline pages, and this needs no GX."""
    from wcreport.validate.offline_docs import write_index

    docs_dir = Path(data_docs_dir)
    if any((docs_dir / "results").rglob("*.json")):
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        project = _project(expectations_root(), docs_dir)
        project.context.build_data_docs(
            resource_identifiers=[ExpectationSuiteIdentifier(name=project.definitions[TABLES[0]].suite.name)],
            build_index=True)
        _keep_gx_index(docs_dir)
    return str(write_index(docs_dir))


def _page_paths(context, key) -> list[str]:
    try:
        sites = context.get_docs_sites_urls(resource_identifier=key, only_if_exists=True)
    except Exception:
        log.warning("no Data Docs page for %s", key, exc_info=True)
        return []
    from urllib.parse import urlparse
    from urllib.request import url2pathname
    return [url2pathname(urlparse(url).path) for site in sites if (url := site.get("site_url"))]


def _same_year(previous: UnitResult, year: int) -> bool:
    try:
        return Quarter.parse(previous.quarter).year == year
    except ValueError:
        return False


def previous_label(previous: UnitResult | None, quarter: Quarter) -> str:
    if previous is None:
        return "上季度"
    try:
        return f"{Quarter.parse(previous.quarter).label_zh}"
    except ValueError:
        return "上季度"


# --- message context ------------------------------------------------------------------
def _row_context(rows: list[ProgressRow], programme: Programme, year: int, unit_seqs: set[int],
                 prev_label: str):
    tasks = programme.tasks_by_seq
    duplicates: dict[int, list[int]] = {}
    for r in rows:
        if r.seq is not None:
            duplicates.setdefault(r.seq, []).append(r.row)

    def context(row_id: int) -> dict[str, Any]:
        row = rows[row_id]
        task = tasks.get(row.seq) if row.seq is not None else None
        return {
            "seq": "" if row.seq is None else row.seq,
            "task_name": short(row.task_name),
            "expected_task_name": task.name if task else "",
            "progress": short(row.progress),
            "deadline": short(row.deadline),
            "year": year,
            "row": row.row,
            "programme_seqs": join_seqs(tasks),
            "unit_seqs": join_seqs(unit_seqs),
            "duplicate_rows": join_bounded(duplicates.get(row.seq, [row.row])),
            "previous_quarter": prev_label,
        }
    return context


def _row_cell(rows: list[ProgressRow]):
    def cell_of(row_id: int, fld: str):
        row = rows[row_id]
        cell = row.cells.get(fld) or row.cells.get("seq") or next(iter(row.cells.values()), None)
        return row.sheet, cell, fld or None
    return cell_of


def _indicator_context(indicators: list[IndicatorValue], programme: Programme,
                       previous: dict[str, float], prev_label: str):
    by_key = _facts(programme).indicators

    def context(row_id: int) -> dict[str, Any]:
        ind = indicators[row_id]
        spec = by_key.get(ind.key) if ind.key else None
        value = _indicator_value(ind)
        return {
            "name": spec.name if spec else short(ind.name),
            "raw": short(ind.raw),
            "value": fmt_number(value),
            "previous": fmt_number(previous.get(ind.key)) if ind.key else "",
            "target": fmt_number(spec.target) if spec else "",
            "measure": spec.measure if spec else "",
            "previous_quarter": prev_label,
        }
    return context


def _indicator_cell(indicators: list[IndicatorValue]):
    def cell_of(row_id: int, _fld: str):
        ind = indicators[row_id]
        return ind.sheet, ind.cell, f"indicator:{ind.key or ind.name}"
    return cell_of


def _indicator_sheet(parsed: ParsedReport) -> str | None:
    return parsed.indicators[0].sheet if parsed.indicators else None


def _table_context(programme: Programme, params: dict[str, Any], sheet: str | None = None):
    tasks = programme.tasks_by_seq
    indicators = _facts(programme).indicators

    def context(kwargs, details) -> list[dict[str, Any]]:
        missing = details.get("partial_missing_list")
        if missing is None:     # older result shape: observed distinct values
            seen = set(details.get("observed_value") or [])
            missing = [v for v in _resolve(kwargs.get("value_set"), params) or [] if v not in seen]
        order = {v: i for i, v in enumerate(_resolve(kwargs.get("value_set"), params) or [])}
        out = []
        for value in sorted(missing, key=lambda v: order.get(v, len(order))):
            if kwargs.get("column") == "seq":
                task = tasks.get(value)
                out.append({"missing_seq": value, "missing_task_name": task.name if task else "",
                            "field": "seq"})
            else:
                spec = indicators.get(value)
                out.append({"missing_name": spec.name if spec else value, "sheet": sheet,
                            "field": f"indicator:{value}"})
        return out
    return context
