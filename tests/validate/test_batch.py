"""One GX run for many files gives each file exactly what a run over it alone gives.

The corpus is every rule's bad report and its corrected twin (tests/validate/test_rules.py)
plus every unit's correct report, validated together in one batch: units with different
tasks, indicators and previous quarters side by side, so a per-unit rule that leaked
across items (a task another unit may report, a text copied from another unit's last
quarter, a duplicate seq in two files) would show as a difference."""
from __future__ import annotations

import pytest

from wcreport.validate.accelerators import batch, folding, split
from wcreport.validate.accelerators.batch import Item, validate_many
from wcreport.validate.gx_project import open_project
from wcreport.validate.suites import validate_report

from .helpers import UNIT, good_report, previous_result, with_row
from .test_rules import CASES, Q2


def _as_compared(outcome):
    return [(f.code, f.severity, f.sheet, f.cell, f.field, f.message) for f in outcome.findings]


def _corpus(programme) -> list[Item]:
    good = good_report(programme)
    items = []
    for case in CASES:
        for make in (case[3], case[4]):
            report, previous = make(programme, good)
            items.append(Item(report, UNIT, previous))
    for unit in programme.units:
        report = good_report(programme, unit.key)
        items.append(Item(report, unit.key))
        items.append(Item(report, unit.key, previous_result(programme, report, unit.key)))   # all copied
    return items


@pytest.mark.slow
def test_batch_findings_equal_single_runs(programme):
    items = _corpus(programme)
    batched = validate_many(items, programme, Q2)
    single = [validate_report(i.parsed, i.unit_key, programme, Q2, previous=i.previous) for i in items]
    assert len(batched) == len(items)
    differing = [(n, _as_compared(b), _as_compared(s))
                 for n, (b, s) in enumerate(zip(batched, single, strict=True)) if _as_compared(b) != _as_compared(s)]
    assert differing == []
    # the corpus is not trivially clean: most rules fire somewhere
    codes = {f.code for o in batched for f in o.findings}
    assert {c[1] for c in CASES} <= codes


def test_a_units_seq_is_not_a_duplicate_of_another_files_seq(programme):
    """Uniqueness is per file: two files with the same task numbers are each fine."""
    report = good_report(programme)
    outcomes = validate_many([Item(report, UNIT), Item(report, UNIT)], programme, Q2)
    assert [o.findings for o in outcomes] == [[], []]


def test_a_missing_task_is_reported_for_its_own_file_only(programme):
    good = good_report(programme)
    lacking = good.model_copy(update={"rows": good.rows[1:]})
    outcomes = validate_many([Item(good, UNIT), Item(lacking, UNIT), Item(good, UNIT)], programme, Q2)
    assert [[f.code for f in o.findings] for o in outcomes] == [[], ["task.missing"], []]


def test_empty_frames_in_the_batch(programme):
    empty = good_report(programme).model_copy(update={"rows": [], "indicators": []})
    good = good_report(programme)
    batched = validate_many([Item(empty, UNIT), Item(good, UNIT)], programme, Q2)
    single = validate_report(empty, UNIT, programme, Q2)
    assert _as_compared(batched[0]) == _as_compared(single)
    assert batched[1].findings == []


def test_a_seq_read_as_float_matches_the_integer_task_number(programme):
    """Spreadsheet numbers arrive as 2.0: the qualified columns spell 2 and 2.0 alike."""
    assert folding.token(2.0) == folding.token(2) == "2"
    assert folding.token(float("nan")) is None


class _Config:
    def __init__(self, type_, kwargs):
        self.type, self.kwargs, self.meta = type_, kwargs, {"code": "x"}


@pytest.mark.parametrize("config", [
    _Config("expect_column_values_to_be_in_set", {"column": "seq", "value_set": [1], "mostly": 0.9}),
    _Config("expect_column_values_to_match_regex", {"column": "progress", "regex": "x"}),
    _Config("expect_table_row_count_to_be_between", {"min_value": 1}),
    _Config("expect_column_values_to_be_between", {"column": "v", "min_value": {"$PARAMETER": "unit_min"}}),
], ids=["mostly", "unknown type", "table scoped", "per-unit bound"])
def test_what_cannot_be_folded_is_refused(config):
    with pytest.raises(folding.NotFoldable):
        folding.folding(config, varying={"unit_min"})


def test_an_unfoldable_suite_falls_back_to_single_runs(programme, monkeypatch):
    """A reviewed suite the batch cannot reproduce is still applied, file by file."""
    def refuse(suite, params):
        raise folding.NotFoldable("expect_something_new")

    monkeypatch.setattr(batch, "fold", refuse)
    bad = with_row(good_report(programme), 0, progress="")
    outcomes = validate_many([Item(bad, UNIT), Item(good_report(programme), UNIT)], programme, Q2)
    assert [[f.code for f in o.findings] for o in outcomes] == [["progress.empty"], []]


def _sizes_passed_to_gx(folded) -> int:
    """How many values GX's expectation arguments carry (GX copies them thousands of times a run)."""
    total = sum(len(v) for v in folded.params.values() if isinstance(v, list))
    for expectation in folded.suite.expectations:
        value_set = expectation.configuration.kwargs.get("value_set")
        total += len(value_set) if isinstance(value_set, list) else 0
    return total


def test_what_gx_is_given_does_not_grow_with_the_items(programme):
    """Per-unit sets become marker columns, not a union of every unit's set."""
    from wcreport.core.settings import expectations_root
    from wcreport.validate.suites import prepare

    project = open_project(expectations_root(), None)
    reports = [prepare(good_report(programme, u.key), u.key, programme, Q2,
                       previous_result(programme, good_report(programme, u.key), u.key))
               for u in programme.units]
    for table in ("progress_rows", "indicators"):
        suite = project.definitions[table].suite
        few = folding.fold(suite, [r.params for r in reports[:2]])
        many = folding.fold(suite, [r.params for r in reports])
        assert _sizes_passed_to_gx(many) == _sizes_passed_to_gx(few)
        assert {f.mode for f in many.foldings} >= {"plain", "marker"}


def test_the_results_text_is_the_json_form_of_the_results(programme, tmp_path):
    """What the quarter's batch keeps per file (``results_json``) is, to the byte, GX's JSON form
    the offline page is made from, failing rows and shared passing outcomes alike."""
    import json

    items = _corpus(programme)
    outcomes = validate_many(items, programme, Q2, data_docs_dir=tmp_path / "docs")
    assert any(not r["success"] for o in outcomes for r in o.results.values())
    for outcome in outcomes:
        assert outcome.results_json == json.dumps(outcome.results, ensure_ascii=False)


def test_items_alike_share_their_passing_row_outcomes_but_not_their_failures(programme):
    """Two passing items of the same size share each row-level expectation's outcome (made
    once); a failing item keeps its own."""
    from wcreport.core.settings import expectations_root
    from wcreport.validate.suites import prepare

    good, bad = good_report(programme), with_row(good_report(programme), 0, progress="")
    prepared = [prepare(r, UNIT, programme, Q2) for r in (good, good, bad)]
    project = open_project(expectations_root(), None)
    definition = project.definitions["progress_rows"]
    folded = folding.fold(definition.suite, [p.params for p in prepared])
    frame = folding.batch_frame("progress_rows", [p.records["progress_rows"] for p in prepared], folded)
    result = definition.data.get_batch(batch_parameters={"dataframe": frame.frame}).validate(
        folded.suite, result_format=project.result_format, expectation_parameters=folded.params)
    first, second, third = split.split(result, folded, frame)
    rows = [n for n, share in enumerate(first.results) if "unexpected_index_list" in share.result]
    assert rows and all(first.results[n] is second.results[n] for n in rows)
    failing = [n for n, share in enumerate(third.results) if not share.success]
    assert failing and all(third.results[n] is not first.results[n] for n in failing)


def test_a_programme_copy_gets_its_own_task_keys(programme):
    """The programme's facts are those of the programme the file is prepared with."""
    from wcreport.validate.suites import prepare

    renamed = programme.tasks[0].model_copy(update={"name": "另一项实事"})
    other = programme.model_copy(update={"tasks": [renamed, *programme.tasks[1:]]})
    report = good_report(programme)
    keys = prepare(report, UNIT, programme, Q2).params["task_keys"]
    other_keys = prepare(report, UNIT, other, Q2).params["task_keys"]
    assert keys[1:] == other_keys[1:] and keys[0] != other_keys[0]
    assert prepare(report, UNIT, programme, Q2).params["task_keys"] == keys
