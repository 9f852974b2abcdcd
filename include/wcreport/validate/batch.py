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
  quarter's texts, its indicators) and every table-scoped expectation (unique values,
  distinct values containing a set) runs on a qualified twin of its column, values
  written ``<item>|<value>``, against the union of the items' qualified sets: per item,
  exactly the rows and missing values a run over that item alone would report.
* Anything else (another expectation type, ``mostly`` below 1, a row condition, a
  parameter that differs between items in a bound) cannot be folded; the caller then
  validates item by item (correct, slower) and a warning names the expectation.

Each item's share of the batch result is rebuilt as GX result objects that carry the
reviewed suite's own expectation configuration, so findings (``suites.findings_of``) and
the offline pages are made exactly as for a single run.
"""
from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

ITEM = "_item"
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
class FoldedSuite:
    """The batched form of one reviewed suite."""

    suite: Any                                  # GX ExpectationSuite (in memory, not saved)
    originals: list[Any]                        # the reviewed ExpectationConfiguration, in order
    qualified: list[str | None]                 # per expectation: the column it was qualified on
    params: dict[str, Any] = field(default_factory=dict)


def _param_name(value: Any) -> str | None:
    return value["$PARAMETER"] if isinstance(value, dict) and "$PARAMETER" in value else None


def _token(value: Any) -> str | None:
    """A value as the qualified columns and sets spell it (1 and 1.0 are the same task)."""
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


def varying_params(params: list[dict[str, Any]]) -> set[str]:
    """The names of suite parameters whose value differs between items."""
    first = params[0]
    return {name for name in first if any(p.get(name) != first[name] for p in params[1:])}


def _mode(config, varying: set[str]) -> str:
    """'plain', 'qualified'; raises NotFoldable."""
    kwargs = config.kwargs
    described = f"{config.type} {dict(kwargs)} ({(config.meta or {}).get('code')})"
    if kwargs.get("mostly", 1) != 1 or kwargs.get("row_condition"):
        raise NotFoldable(described)
    used = {name for value in kwargs.values() if (name := _param_name(value))}
    if config.type in (UNIQUE, CONTAINS):
        return "qualified"
    if config.type in SET_TYPES and used & varying:
        if used - {_param_name(kwargs.get("value_set"))}:
            raise NotFoldable(described)
        return "qualified"
    if config.type in ROW_TYPES and not used & varying:
        return "plain"
    raise NotFoldable(described)


def fold(suite, params: list[dict[str, Any]]) -> FoldedSuite:
    """The batched suite for items with these parameters; raises NotFoldable."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    varying = varying_params(params)
    originals = [e.configuration for e in suite.expectations]
    folded = ExpectationSuite(name=f"{suite.name}{QUALIFIED}")
    qualified: list[str | None] = []
    batch_params = {name: value for name, value in params[0].items() if name not in varying}
    for config in originals:
        kwargs = dict(config.kwargs)
        column = None
        if _mode(config, varying) == "qualified":
            column = kwargs["column"]
            kwargs["column"] = column + QUALIFIED
            if "value_set" in kwargs:
                kwargs["value_set"] = _qualified_set(kwargs["value_set"], params, batch_params)
        qualified.append(column)
        meta = {**(config.meta or {}), FOLD_INDEX: len(qualified) - 1}     # GX reorders results
        folded.add_expectation(ExpectationConfiguration(
            type=config.type, kwargs=kwargs, meta=meta, severity=config.severity).to_domain_obj())
    return FoldedSuite(folded, originals, qualified, batch_params)


def _qualified_set(value_set: Any, params: list[dict[str, Any]], batch_params: dict[str, Any]) -> Any:
    """The union over items of ``<item>|<value>``: a new parameter, or a literal list."""
    name = _param_name(value_set)
    qualified = []
    for item, item_params in enumerate(params):
        values = item_params.get(name, []) if name else value_set
        qualified += [f"{item}|{t}" for v in values or [] if (t := _token(v)) is not None]
    if name is None:
        return qualified
    batch_params[name + QUALIFIED_PARAM] = qualified
    return {"$PARAMETER": name + QUALIFIED_PARAM}


def batch_frame(frames: list[Any], folded: FoldedSuite):
    """All items' frames as one, with the item number, a global row id and qualified columns."""
    import pandas as pd

    tagged = []
    for item, frame in enumerate(frames):
        part = frame.copy()
        part[ITEM] = item
        tagged.append(part)
    batch = pd.concat(tagged, ignore_index=True) if tagged else pd.DataFrame()
    batch["local_row_id"] = batch[ROW_ID]
    batch[ROW_ID] = range(len(batch))
    for column in {c for c in folded.qualified if c}:
        batch[column + QUALIFIED] = [
            None if (t := _token(v)) is None else f"{item}|{t}"
            for item, v in zip(batch[ITEM], batch[column], strict=True)]
        batch[column + QUALIFIED] = batch[column + QUALIFIED].astype(object)
    return batch


def split(result, folded: FoldedSuite, frames: list[Any], batch) -> list[Any]:
    """Each item's suite result, as a GX result over that item alone would read."""
    from great_expectations.core import ExpectationSuiteValidationResult

    items: list[list[Any]] = [[None] * len(folded.originals) for _ in frames]
    item_of = batch[ITEM].to_numpy()
    local_of = batch["local_row_id"].to_numpy()
    folded_configs = [e.configuration for e in folded.suite.expectations]
    for expectation in result.results:
        index = int(expectation.expectation_config.meta[FOLD_INDEX])
        original, column = folded.originals[index], folded.qualified[index]
        details = expectation.result or {}
        if expectation.exception_info and expectation.exception_info.get("raised_exception"):
            shares = [(expectation.success, dict(details)) for _ in frames]
        elif original.type == CONTAINS:
            shares = _contains_shares(_required(folded_configs[index], folded.params), column, frames, batch)
        else:
            shares = _row_shares(details, original, column, frames, item_of, local_of)
        for item, (success, share) in enumerate(shares):
            items[item][index] = _expectation_result(original, success, share, expectation.exception_info)
    suite_name = result.suite_name.removesuffix(QUALIFIED)
    return [ExpectationSuiteValidationResult(
        success=all(r.success for r in results), results=results, suite_name=suite_name,
        statistics=_statistics(results), meta=dict(result.meta or {}))
        for results in items]


def _required(config, params: dict[str, Any]) -> list[str]:
    value_set = config.kwargs.get("value_set")
    name = _param_name(value_set)
    return list(params.get(name, []) if name else value_set or [])


def _expectation_result(config, success: bool, share: dict, exception_info):
    from great_expectations.core import ExpectationValidationResult

    return ExpectationValidationResult(success=success, expectation_config=config, result=share,
                                       exception_info=exception_info)


def _statistics(results: list[Any]) -> dict[str, Any]:
    evaluated = len(results)
    successful = sum(bool(r.success) for r in results)
    return {"evaluated_expectations": evaluated, "successful_expectations": successful,
            "unsuccessful_expectations": evaluated - successful,
            "success_percent": 100.0 * successful / evaluated if evaluated else None}


def _row_shares(details: dict, config, column: str | None, frames, item_of, local_of) -> list[tuple[bool, dict]]:
    """Failing rows of a row-level (or uniqueness) expectation, item by item, local row ids."""
    by_item: dict[int, list[dict]] = defaultdict(list)
    for entry in details.get("unexpected_index_list") or []:
        global_id = int(entry[ROW_ID] if isinstance(entry, dict) else entry)
        item, local = int(item_of[global_id]), int(local_of[global_id])
        by_item[item].append(_local_entry(entry, local, frames[item], column))
    shares = []
    checked_column = config.kwargs.get("column")
    for item, frame in enumerate(frames):
        entries = by_item.get(item, [])
        values = [e.get(checked_column) if checked_column else
                  tuple(v for k, v in e.items() if k != ROW_ID) for e in entries]
        missing = int(frame[checked_column].isna().sum()) if checked_column in frame else 0
        nonmissing = len(frame) - missing
        shares.append((not entries, {
            "element_count": len(frame),
            "unexpected_count": len(entries),
            "unexpected_percent": 100.0 * len(entries) / nonmissing if nonmissing else 0.0,
            "missing_count": missing,
            "missing_percent": 100.0 * missing / len(frame) if len(frame) else None,
            "partial_unexpected_list": values[:_SHOWN],
            "unexpected_list": values,
            "unexpected_index_column_names": [ROW_ID],
            "partial_unexpected_index_list": entries[:_SHOWN],
            "unexpected_index_list": entries,
        }))
    return shares


def _local_entry(entry: Any, local: int, frame, column: str | None) -> dict:
    """A failing row as a run over its item alone reports it: original column, local row id."""
    if not isinstance(entry, dict):
        return {ROW_ID: local}
    out: dict[str, Any] = {}
    for key in entry:
        if key == ROW_ID:
            continue
        original = key.removesuffix(QUALIFIED) if column and key == column + QUALIFIED else key
        out[original] = frame[original].iloc[local] if original in frame else entry[key]
    out[ROW_ID] = local
    return out


def _contains_shares(required: list[str], column: str, frames, batch) -> list[tuple[bool, dict]]:
    """Distinct values containing a set, per item: the item's own distinct values, and
    success when none of its qualified required values is missing from the batch."""
    present = set(batch[column + QUALIFIED].dropna())
    lacking = {int(v.split("|", 1)[0]) for v in required if v not in present}
    shares = []
    for item, frame in enumerate(frames):
        values = frame[column].dropna()
        counts = sorted(values.value_counts().items(), key=lambda vc: _sort_key(vc[0]))
        shares.append((item not in lacking, {
            "observed_value": sorted(values.unique().tolist(), key=_sort_key),
            "details": {"value_counts": [{"value": v, "count": int(c)} for v, c in counts]}}))
    return shares


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))
