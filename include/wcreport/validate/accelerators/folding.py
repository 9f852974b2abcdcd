"""The batched form of a reviewed suite: one GX run checks many files' rows at once.

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
  values (one set difference, in ``split``; GX would need the union of every item's set).
* Anything else (another expectation type, ``mostly`` below 1, a row condition, a
  parameter that differs between items in a bound) cannot be folded (``NotFoldable``);
  the batch then validates item by item (correct, slower) and a warning names the expectation.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from wcreport.validate.frames import typed_frame

ROW_ID = "row_id"
QUALIFIED = "@item"         # suffix of qualified columns
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


def token(value: Any) -> str | None:
    """A value as the qualified columns spell it (1 and 1.0 are the same task)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if hasattr(value, "item"):                  # numpy scalars
        return token(value.item())
    return str(value)


def is_missing(value: Any) -> bool:
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


@dataclass
class BatchFrame:
    """All items' rows of one table in one frame, with a global row id, the marker and the
    qualified columns (no more columns: GX's cost grows with them)."""

    frame: Any                  # pandas DataFrame
    offsets: list[int]          # each item's first global row, and the total at the end
    table: str
    records: list[list[dict[str, Any]]]     # each item's own records (its values as typed alone)


def batch_frame(table: str, records: list[list[dict[str, Any]]], folded: FoldedSuite) -> BatchFrame:
    """The batch frame of the items' ``records`` (one list per item) for the ``folded`` suite."""
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
    return BatchFrame(frame, offsets, table, records)


def _derived_values(how: Folding, records: list[list[dict[str, Any]]], item_params: list[dict[str, Any]]
                    ) -> list[Any]:
    """A marker column (is the value in its item's set) or a qualified column (``<item>|<value>``),
    None where the value is missing."""
    values: list[Any] = []
    for item, item_records in enumerate(records):
        own = [record[how.column] for record in item_records]
        if how.mode == "marker":
            allowed = set(item_params[item].get(how.param) or [])
            values += [None if is_missing(v) else v in allowed for v in own]
        else:
            values += [None if is_missing(v) else f"{item}|{token(v)}" for v in own]
    return values
