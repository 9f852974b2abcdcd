"""Validate many files in one Great Expectations run per suite.

GX's cost is per expectation and run (building the metric graph), hardly per row: the two
suites cost about 0.4 s whether the frame holds one unit's 10 rows or a province's 20,000.
So a quarter is validated as one frame per suite, every row tagged with its item (one
item = one file of one unit), and each item's results are cut back out.

The reviewed suites stay the contract; the batched suite is derived from them mechanically:

* A row-level expectation whose parameters are the same for every item runs unchanged
  (not null, in a set, between bounds, column pairs: a row's outcome does not depend on
  the other rows).
* A set expectation whose parameter differs between items (the unit's tasks, its previous
  quarter's texts, its indicators) is folded into a column: the batch frame carries, per
  row, whether the value is in that row's item's set (``<column>__in__<parameter>``), and
  GX checks that marker (in the set / not in the set: ``[True]``). Passing the union of
  all items' sets to GX instead would cost per item: GX copies an expectation's
  arguments, value set included, thousands of times per run.
* Uniqueness runs on a qualified twin of its column, values written ``<item>|<value>``.
* Distinct values containing a set is decided per item from the item's own distinct
  values (one set difference; GX would need the union of every item's set).
* Anything else (another expectation type, ``mostly`` below 1, a row condition, a
  parameter that differs between items in a bound) cannot be folded; the caller then
  validates item by item (correct, slower) and a warning names the expectation.

Each item's share of the batch result is rebuilt in GX's result form, carrying the reviewed
suite's own expectation configuration, so findings (``suites.findings_of``) and the offline
pages are made exactly as for a single run; ``tests/validate/test_batch.py`` checks that
every rule gives the same findings either way.
"""
from __future__ import annotations

import bisect
import itertools
import json
import logging
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from wcreport.core.model import ParsedReport, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.core.settings import expectations_root
from wcreport.validate.limits import cap_findings
from wcreport.validate.suites import (
    TABLES,
    Prepared,
    ValidationOutcome,
    _project,
    findings_of,
    offline_page,
    prepare,
    typed_frame,
    validate_report,
)

log = logging.getLogger(__name__)

ROW_ID = "row_id"
QUALIFIED = "@item"         # suffix of qualified columns
QUALIFIED_PARAM = "_by_item"  # suffix of qualified parameters (GX wants identifiers)
ROW_TYPES = frozenset({
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_pair_values_a_to_be_greater_than_b",
})
SET_TYPES = frozenset({"expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"})
UNIQUE = "expect_column_values_to_be_unique"
CONTAINS = "expect_column_distinct_values_to_contain_set"
_SHOWN = 20     # GX's partial lists
FOLD_INDEX = "wcreport_fold_index"


class NotFoldable(Exception):
    """The suite has an expectation whose per-item outcome a batched run cannot reproduce."""


@dataclass
class Folding:
    """How one reviewed expectation runs in the batch."""

    mode: str                       # plain | marker | qualified | per_item
    column: str | None = None       # the reviewed expectation's column
    frame_column: str | None = None  # the batch frame's column GX checks instead (marker, qualified)
    param: str | None = None        # the per-item parameter (marker, per_item)
    literal: list | None = None     # a literal value set (per_item)


@dataclass
class FoldedSuite:
    """The batched form of one reviewed suite."""

    suite: Any                                  # GX ExpectationSuite (in memory, not saved)
    originals: list[Any]                        # the reviewed ExpectationConfiguration, in order
    foldings: list[Folding]
    item_params: list[dict[str, Any]]           # each item's suite parameters
    params: dict[str, Any] = field(default_factory=dict)    # the parameters all items share


def _param_name(value: Any) -> str | None:
    return value["$PARAMETER"] if isinstance(value, dict) and "$PARAMETER" in value else None


def _token(value: Any) -> str | None:
    """A value as the qualified columns spell it (1 and 1.0 are the same task)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if hasattr(value, "item"):                  # numpy scalars
        return _token(value.item())
    return str(value)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def varying_params(params: list[dict[str, Any]]) -> set[str]:
    """The names of suite parameters whose value differs between items."""
    first = params[0]
    return {name for name in first if any(p.get(name) != first[name] for p in params[1:])}


def folding(config, varying: set[str]) -> Folding:
    """How ``config`` runs in the batch; raises NotFoldable."""
    kwargs = config.kwargs
    described = f"{config.type} {dict(kwargs)} ({(config.meta or {}).get('code')})"
    if kwargs.get("mostly", 1) != 1 or kwargs.get("row_condition"):
        raise NotFoldable(described)
    used = {name for value in kwargs.values() if (name := _param_name(value))}
    column = kwargs.get("column")
    value_set = kwargs.get("value_set")
    if config.type == UNIQUE:
        return Folding("qualified", column, column + QUALIFIED)
    if config.type == CONTAINS:
        return Folding("per_item", column, param=_param_name(value_set),
                       literal=None if _param_name(value_set) else list(value_set or []))
    if config.type in SET_TYPES and used & varying:
        name = _param_name(value_set)
        if name is None or used - {name}:
            raise NotFoldable(described)
        return Folding("marker", column, f"{column}__in__{name}", param=name)
    if config.type in ROW_TYPES and not used & varying:
        return Folding("plain", column)
    raise NotFoldable(described)


def fold(suite, params: list[dict[str, Any]]) -> FoldedSuite:
    """The batched suite for items with these parameters; raises NotFoldable."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    varying = varying_params(params)
    originals = [e.configuration for e in suite.expectations]
    foldings = [folding(config, varying) for config in originals]
    folded = ExpectationSuite(name=f"{suite.name}{QUALIFIED}")
    for index, (config, how) in enumerate(zip(originals, foldings, strict=True)):
        if how.mode == "per_item":
            continue
        kwargs = dict(config.kwargs)
        if how.mode == "qualified":
            kwargs["column"] = how.frame_column
        elif how.mode == "marker":
            kwargs["column"], kwargs["value_set"] = how.frame_column, [True]
        meta = {**(config.meta or {}), FOLD_INDEX: index}      # GX reorders results
        folded.add_expectation(ExpectationConfiguration(
            type=config.type, kwargs=kwargs, meta=meta, severity=config.severity).to_domain_obj())
    shared = {name: value for name, value in params[0].items() if name not in varying}
    return FoldedSuite(folded, originals, foldings, params, shared)


def batch_frame(table: str, records: list[list[dict[str, Any]]], folded: FoldedSuite):
    """(one frame of all items' rows, each item's first global row): a global row id, the
    marker and the qualified columns added (no more columns: GX's cost grows with them)."""
    import numpy as np
    import pandas as pd

    rows = [record for item_records in records for record in item_records]
    offsets = [0, *itertools.accumulate(map(len, records))]
    frame = typed_frame(table, rows)
    if rows:
        frame[ROW_ID] = np.arange(len(rows), dtype=np.int64)
    derived = {f.frame_column: f for f in folded.foldings if f.frame_column}
    for name, how in derived.items():
        frame[name] = pd.Series(_derived_values(how, records, folded.item_params), index=frame.index, dtype=object)
    return frame, offsets


def _derived_values(how: Folding, records: list[list[dict[str, Any]]], item_params: list[dict[str, Any]]
                    ) -> list[Any]:
    """A marker column (is the value in its item's set) or a qualified column (``<item>|<value>``),
    None where the value is missing."""
    values: list[Any] = []
    for item, item_records in enumerate(records):
        own = [record[how.column] for record in item_records]
        if how.mode == "marker":
            allowed = set(item_params[item].get(how.param) or [])
            values += [None if _is_missing(v) else v in allowed for v in own]
        else:
            values += [None if _is_missing(v) else f"{item}|{_token(v)}" for v in own]
    return values


@dataclass(eq=False)
class ExpectationShare:
    """One expectation's outcome over one item (the attributes findings read of a GX result).

    Items of the same size and count of missing values that all pass an expectation share
    one (the result is then the same); nothing changes a share once made."""

    success: bool
    expectation_config: Any         # the reviewed suite's ExpectationConfiguration
    result: dict[str, Any]
    exception_info: dict[str, Any] | None
    config_json: str                # ``expectation_config`` in GX's JSON form, as text

    @cached_property
    def json_text(self) -> str:
        """This outcome in GX's JSON form, as text (made once per share)."""
        return (f'{{"success": {_json(self.success)}, "expectation_config": {self.config_json}, '
                f'"result": {_json(self.result)}, "exception_info": {_json(self.exception_info)}}}')


def _json(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


@dataclass
class ItemResult:
    """One suite's outcome over one item; ``to_json_dict`` has GX's JSON form,
    ``to_json_text`` the same as ``json.dumps(to_json_dict(), ensure_ascii=False)``."""

    suite_name: str
    results: list[ExpectationShare]
    configs_json: list[dict[str, Any]]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    def counts(self) -> tuple[int, int]:
        """(evaluated, successful) expectations."""
        return len(self.results), sum(bool(r.success) for r in self.results)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "success": self.success, "suite_name": self.suite_name, "statistics": _statistics(*self.counts()),
            "results": [{"success": r.success, "expectation_config": config, "result": r.result,
                         "exception_info": r.exception_info}
                        for r, config in zip(self.results, self.configs_json, strict=True)]}

    def to_json_text(self) -> str:
        evaluated, successful = self.counts()
        return (f'{{"success": {_json(evaluated == successful)}, "suite_name": {_json(self.suite_name)}, '
                f'"statistics": {_statistics_text(evaluated, successful)}, '
                f'"results": [{", ".join(r.json_text for r in self.results)}]}}')


def _statistics(evaluated: int, successful: int) -> dict[str, Any]:
    return {"evaluated_expectations": evaluated, "successful_expectations": successful,
            "unsuccessful_expectations": evaluated - successful,
            "success_percent": 100.0 * successful / evaluated if evaluated else None}


@lru_cache(maxsize=256)
def _statistics_text(evaluated: int, successful: int) -> str:
    return _json(_statistics(evaluated, successful))


def results_json_text(results: dict[str, ItemResult]) -> str:
    """One item's suite results, by suite name, as ``json.dumps`` of their JSON forms writes them."""
    return "{" + ", ".join(f"{_json(name)}: {result.to_json_text()}" for name, result in results.items()) + "}"


class _Columns:
    """The batch frame's columns as Python lists, converted once, and the items' spans."""

    def __init__(self, frame, offsets: list[int]) -> None:
        self.frame = frame
        self.offsets = offsets
        self.sizes = [end - start for start, end in itertools.pairwise(offsets)]
        self.lists: dict[str, list[Any]] = {}
        self.missing: dict[str, list[int]] = {}

    def __getitem__(self, column: str) -> list[Any]:
        if column not in self.lists:
            self.lists[column] = self.frame[column].tolist()
        return self.lists[column]

    def item_of(self, global_id: int) -> int:
        """The item a global row belongs to (the last item starting at or before it: empty items start there too)."""
        return bisect.bisect_right(self.offsets, global_id) - 1

    def missing_per_item(self, column: str) -> list[int]:
        """Each item's count of missing values (None, NaN) in ``column``."""
        if column not in self.missing:
            import numpy as np

            before = np.concatenate(([0], np.cumsum(self.frame[column].isna().to_numpy(), dtype=np.int64)))
            starts, ends = np.asarray(self.offsets[:-1]), np.asarray(self.offsets[1:])
            self.missing[column] = (before[ends] - before[starts]).tolist()
        return self.missing[column]


def split(result, folded: FoldedSuite, frame, offsets: list[int]) -> list[ItemResult]:
    """Each item's suite result, as a GX run over that item alone would give it."""
    n_items = len(offsets) - 1
    shares: list[list[Any]] = [[None] * len(folded.originals) for _ in range(n_items)]
    columns = _Columns(frame, offsets)
    configs_json = [c.to_json_dict() for c in folded.originals]
    configs_text = [_json(c) for c in configs_json]
    for expectation in result.results:
        index = int(expectation.expectation_config.meta[FOLD_INDEX])
        original, how = folded.originals[index], folded.foldings[index]
        details = expectation.result or {}
        exception = expectation.exception_info
        if exception and exception.get("raised_exception"):
            failed = ExpectationShare(expectation.success, original, dict(details), exception, configs_text[index])
            outcomes = [failed] * n_items
        else:
            outcomes = _row_shares(details, ExpectationShare(True, original, {}, exception, configs_text[index]),
                                   how, columns)
        for item, share in enumerate(outcomes):
            shares[item][index] = share
    no_exception = {"raised_exception": False, "exception_traceback": None, "exception_message": None}
    for index, how in enumerate(folded.foldings):
        if how.mode != "per_item":
            continue
        required = [how.literal or [] if how.param is None else p.get(how.param) or [] for p in folded.item_params]
        template = ExpectationShare(True, folded.originals[index], {}, no_exception, configs_text[index])
        for item, share in enumerate(_contains_shares(required, how.column, columns, template)):
            shares[item][index] = share
    suite_name = result.suite_name.removesuffix(QUALIFIED)
    return [ItemResult(suite_name, item_shares, configs_json) for item_shares in shares]


def _row_shares(details: dict, template: ExpectationShare, how: Folding, columns: _Columns
                ) -> list[ExpectationShare]:
    """Failing rows of a row-level (or uniqueness) expectation, item by item, local row ids;
    ``template`` carries the expectation's configuration and exception info."""
    failing: dict[int, list[dict]] = defaultdict(list)
    for entry in details.get("unexpected_index_list") or []:
        global_id = int(entry[ROW_ID] if isinstance(entry, dict) else entry)
        item = columns.item_of(global_id)
        failing[item].append(_local_entry(entry, global_id, global_id - columns.offsets[item], columns, how))
    checked = template.expectation_config.kwargs.get("column")
    missing = columns.missing_per_item(checked) if checked else [0] * len(columns.sizes)
    passing: dict[tuple[int, int], ExpectationShare] = {}
    shares = []
    for item, size in enumerate(columns.sizes):
        entries = failing.get(item)
        if entries is None:
            key = (size, missing[item])
            if key not in passing:
                passing[key] = _share_of(template, size, missing[item], [])
            shares.append(passing[key])
        else:
            values = [e.get(checked) if checked else tuple(v for k, v in e.items() if k != ROW_ID) for e in entries]
            shares.append(_share_of(template, size, missing[item], entries, values))
    return shares


def _share_of(template: ExpectationShare, size: int, missing: int, entries: list[dict],
              values: list[Any] | None = None) -> ExpectationShare:
    """A row-level expectation's outcome over one item of ``size`` rows with these failing rows."""
    values = values or []
    nonmissing = size - missing
    return ExpectationShare(not entries, template.expectation_config, {
        "element_count": size,
        "unexpected_count": len(entries),
        "unexpected_percent": 100.0 * len(entries) / nonmissing if nonmissing else 0.0,
        "missing_count": missing,
        "missing_percent": 100.0 * missing / size if size else None,
        "partial_unexpected_list": values[:_SHOWN],
        "unexpected_list": values,
        "unexpected_index_column_names": [ROW_ID],
        "partial_unexpected_index_list": entries[:_SHOWN],
        "unexpected_index_list": entries,
    }, template.exception_info, template.config_json)


def _local_entry(entry: Any, global_id: int, local: int, columns: _Columns, how: Folding) -> dict:
    """A failing row as a run over its item alone reports it: original column, local row id."""
    if not isinstance(entry, dict):
        return {ROW_ID: local}
    out: dict[str, Any] = {}
    for key in entry:
        if key == ROW_ID:
            continue
        original = how.column if how.frame_column and key == how.frame_column else key
        out[original] = columns[original][global_id]
    out[ROW_ID] = local
    return out


def _contains_shares(required: list[list[Any]], column: str, columns: _Columns, template: ExpectationShare
                     ) -> list[ExpectationShare]:
    """Distinct values containing a set, per item: the item's own distinct values, and
    success when every value of the item's set is among them. Items with the same values
    (of the same types: 1 and 1.0 are written apart) and the same set share one outcome."""
    values = columns[column]
    made: dict[tuple, ExpectationShare] = {}
    shares = []
    for item, (start, end) in enumerate(itertools.pairwise(columns.offsets)):
        own = values[start:end]
        key = (tuple(own), tuple(map(type, own)), tuple(required[item]))
        if key not in made:
            made[key] = _contains_share(template, own, required[item])
        shares.append(made[key])
    return shares


def _contains_share(template: ExpectationShare, values: list[Any], required: list[Any]) -> ExpectationShare:
    counts = Counter(v for v in values if not _is_missing(v))
    ordered = sorted(counts, key=_sort_key)
    return ExpectationShare(all(v in counts for v in required), template.expectation_config, {
        "observed_value": ordered,
        "details": {"value_counts": [{"value": v, "count": counts[v]} for v in ordered]}},
        template.exception_info, template.config_json)


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


# --- many files at once ---------------------------------------------------------------
@dataclass
class Item:
    """One file of one unit to validate in a batch."""

    parsed: ParsedReport
    unit_key: str
    previous: UnitResult | None = None


def validate_many(items: list[Item], programme: Programme, quarter: Quarter,
                  data_docs_dir: Path | None = None) -> list[ValidationOutcome]:
    """Validate many files with one GX run per suite; each
    outcome equals ``validate_report`` of its item alone. Falls back to one run per item
    when a suite cannot be batched."""
    if not items:
        return []
    started = time.perf_counter()
    prepared = [prepare(i.parsed, i.unit_key, programme, quarter, i.previous) for i in items]
    project = _project(expectations_root(), None)
    try:
        folded = {t: fold(project.definitions[t].suite, [p.params for p in prepared]) for t in TABLES}
    except NotFoldable as exc:
        log.warning("suite cannot be validated in one run (%s): validating %d file(s) one by one",
                    exc, len(items))
        return [validate_report(i.parsed, i.unit_key, programme, quarter, i.previous, data_docs_dir)
                for i in items]
    per_item: list[dict[str, Any]] = [{} for _ in items]
    for table in TABLES:
        frame, offsets = batch_frame(table, [p.records[table] for p in prepared], folded[table])
        gx_batch = project.definitions[table].data.get_batch(batch_parameters={"dataframe": frame})
        result = gx_batch.validate(folded[table].suite, result_format=project.result_format,
                                   expectation_parameters=folded[table].params)
        for item, share in enumerate(split(result, folded[table], frame, offsets)):
            per_item[item][table] = share
    log.info("validated %d file(s) in one run per suite in %.2f s", len(items), time.perf_counter() - started)
    return [_outcome(p, results, programme, quarter, data_docs_dir) for p, results in zip(prepared, per_item,
                                                                                          strict=True)]


def _outcome(prepared: Prepared, results: dict[str, Any], programme: Programme, quarter: Quarter,
             data_docs_dir: Path | None) -> ValidationOutcome:
    """One item's outcome from its share of the batch (``ItemResult`` per suite)."""
    passed = all(result.success for result in results.values())
    findings = [] if passed else findings_of(prepared, results, programme)
    results_json = results_json_text(results)
    if not data_docs_dir:
        return ValidationOutcome(findings=findings, results_json=results_json)
    as_json = {name: result.to_json_dict() for name, result in results.items()}
    docs_dir = Path(data_docs_dir)
    page = offline_page(docs_dir, quarter, prepared.unit_key, programme, as_json, cap_findings(findings), [])
    index = docs_dir / "index.html"
    return ValidationOutcome(findings=findings, data_docs=str(index) if index.exists() else None,
                             pages=[str(page)], results=as_json, results_json=results_json)
