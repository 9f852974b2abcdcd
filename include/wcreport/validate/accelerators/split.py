"""Each item's share of a batched run, rebuilt in GX's result form.

A batched run (``folding``) gives one GX result per suite over all items' rows; ``split``
cuts it into one result per item, as a GX run over that item alone would give it: failing
rows with their local row ids and original columns, counts over the item's rows, and the
reviewed suite's own expectation configuration. So findings (``suites.findings_of``) and
the offline pages are made exactly as for a single run; ``tests/validate/test_batch.py``
checks that every rule gives the same findings either way.

The results' JSON text (what the quarter's outcome store keeps) is written here directly,
sharing the text of outcomes that are alike, rather than through ``json.dumps`` of each
item's JSON form: a quarter has thousands of items.
"""
from __future__ import annotations

import bisect
import itertools
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from wcreport.validate.accelerators.folding import (
    FOLD_INDEX,
    QUALIFIED,
    ROW_ID,
    BatchFrame,
    FoldedSuite,
    Folding,
    is_missing,
)
from wcreport.validate.frames import COLUMNS

_SHOWN = 20     # GX's partial lists


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
    def result_json(self) -> dict[str, Any]:
        """``result`` as GX's JSON form writes it (missing numbers as null)."""
        return _jsonable(self.result)

    @cached_property
    def json_text(self) -> str:
        """This outcome in GX's JSON form, as text (made once per share)."""
        return (f'{{"success": {_json(self.success)}, "expectation_config": {self.config_json}, '
                f'"result": {_json(self.result_json)}, "exception_info": {_json(self.exception_info)}}}')


def _json(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    """A value as GX's ``to_json_dict`` gives it: NaN as None, tuples as lists."""
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {key: _jsonable(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


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
            "results": [{"success": r.success, "expectation_config": config, "result": r.result_json,
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


def as_alone(values: list[Any]) -> list[Any]:
    """One item's values of an object column as a frame of that item alone holds them: pandas
    reads whole numbers with a missing value among them as floats (the missing one NaN),
    whereas in the batch's frame it is the other items' values that decide."""
    present = [v for v in values if not is_missing(v)]
    numbers = bool(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if numbers and (len(present) < len(values) or any(isinstance(v, float) for v in present)):
        return [math.nan if is_missing(v) else float(v) for v in values]
    return values

class _Columns:
    """The batch frame's columns as Python lists, converted once, and the items' spans."""

    def __init__(self, batch: BatchFrame) -> None:
        self.frame = batch.frame
        self.offsets = batch.offsets
        self.records = batch.records
        self.objects = frozenset(COLUMNS[batch.table][0])
        self.sizes = [end - start for start, end in itertools.pairwise(self.offsets)]
        self.lists: dict[str, list[Any]] = {}
        self.missing: dict[str, list[int]] = {}
        self.alone_lists: dict[tuple[str, int], list[Any]] = {}

    def __getitem__(self, column: str) -> list[Any]:
        if column not in self.lists:
            self.lists[column] = self.frame[column].tolist()
        return self.lists[column]

    def alone(self, column: str, item: int) -> list[Any]:
        """An item's values of ``column`` as a GX run over that item alone sees them."""
        key = (column, item)
        if key not in self.alone_lists:
            if column in self.objects:
                self.alone_lists[key] = as_alone([record[column] for record in self.records[item]])
            else:
                self.alone_lists[key] = self[column][self.offsets[item]:self.offsets[item + 1]]
        return self.alone_lists[key]

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


def split(result, folded: FoldedSuite, batch: BatchFrame) -> list[ItemResult]:
    """Each item's suite result, as a GX run over that item alone would give it."""
    n_items = len(batch.offsets) - 1
    shares: list[list[Any]] = [[None] * len(folded.originals) for _ in range(n_items)]
    columns = _Columns(batch)
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
        failing[item].append(_local_entry(entry, item, global_id - columns.offsets[item], columns, how))
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


def _local_entry(entry: Any, item: int, local: int, columns: _Columns, how: Folding) -> dict:
    """A failing row as a run over its item alone reports it: original column and value, local row id."""
    if not isinstance(entry, dict):
        return {ROW_ID: local}
    out: dict[str, Any] = {}
    for key in entry:       # in GX's order of the keys
        if key == ROW_ID:
            out[ROW_ID] = local
            continue
        original = how.column if how.frame_column and key == how.frame_column else key
        out[original] = columns.alone(original, item)[local]
    return out


def _contains_shares(required: list[list[Any]], column: str, columns: _Columns, template: ExpectationShare
                     ) -> list[ExpectationShare]:
    """Distinct values containing a set, per item: the item's own distinct values, and
    success when every value of the item's set is among them. Items with the same values
    (of the same types: 1 and 1.0 are written apart) and the same set share one outcome."""
    made: dict[tuple, ExpectationShare] = {}
    shares = []
    for item in range(len(columns.sizes)):
        own = columns.alone(column, item)
        key = (tuple(own), tuple(map(type, own)), tuple(required[item]))
        if key not in made:
            made[key] = _contains_share(template, own, required[item])
        shares.append(made[key])
    return shares


def _contains_share(template: ExpectationShare, values: list[Any], required: list[Any]) -> ExpectationShare:
    counts = Counter(v for v in values if not is_missing(v))
    ordered = sorted(counts, key=_sort_key)
    return ExpectationShare(all(v in counts for v in required), template.expectation_config, {
        "observed_value": ordered,
        "details": {"value_counts": [{"value": v, "count": counts[v]} for v in ordered]}},
        template.exception_info, template.config_json)


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))

