"""The quarter's batch: each unit's ingest takes its files' outcomes from it, with exactly the
result it would have reached alone, and validates on its own only what the batch did not see."""
from __future__ import annotations

import shutil

import pytest

from intake.corpus import Book, form_sheet, touch_mtime, write
from wcreport.core.quarter import Quarter
from wcreport.core.settings import quarter_paths
from wcreport.demo.sample import SampleOptions, write_quarter_samples
from wcreport.flow.gather import scan_inbox
from wcreport.flow.ingest_unit import decide_unit as ingest_unit
from wcreport.validate import suites
from wcreport.validate.accelerators import prevalidated
from wcreport.validate.accelerators.prevalidated import StoredOutcome

from .helpers import good_report, previous_result

Q1 = Quarter(2023, 1)


def _outcome(result):
    return (result.status, result.accepted_path, result.rejected_corrections, result.data_docs,
            [(r.seq, r.progress) for r in result.rows],
            [(f.path, f.status, f.reasons, [(x.code, x.sheet, x.cell, x.message) for x in f.findings])
             for f in result.files])


def _blank_progress(programme, unit, path, mtime):
    task = programme.tasks_of(unit.key)[0]
    write(Book([form_sheet(unit.name, [[task.seq, task.name, unit.name, "", "2023年12月"]])]), path)
    touch_mtime(path, mtime)


@pytest.fixture
def quarter(tmp_path, programme):
    """The sample quarter with its faulty files, a unit whose only file fails and a unit
    whose newer correction fails."""
    paths = quarter_paths(str(Q1), tmp_path / "inbox", tmp_path / "output")
    written = write_quarter_samples(programme, Q1, paths.inbox_root, SampleOptions(faulty=True))
    failing, corrected = written[1], written[2]
    _blank_progress(programme, programme.units[1], failing, failing.stat().st_mtime)
    _blank_progress(programme, programme.units[2], failing.with_name("更正-" + corrected.name),
                    corrected.stat().st_mtime + 600)
    return paths


@pytest.fixture
def single_runs(monkeypatch):
    """Counts the files validated on their own, by unit."""
    calls: list[str] = []
    original = suites.validate_report

    def counting(parsed, unit_key, *args, **kwargs):
        calls.append(unit_key)
        return original(parsed, unit_key, *args, **kwargs)

    monkeypatch.setattr(suites, "validate_report", counting)
    return calls


@pytest.mark.slow
def test_units_take_the_batch_and_reach_what_they_reach_alone(quarter, programme, tmp_path, single_runs):
    alone = quarter_paths(str(Q1), tmp_path / "alone-inbox", tmp_path / "alone-output")
    shutil.copytree(quarter.inbox_root, alone.inbox_root)          # copy2: same received times
    expected = {u.key: _outcome(ingest_unit(alone, programme, u.key, max_wait_seconds=0))
                for u in programme.units}
    assert len(single_runs) >= len(programme.units) - 1           # the reference validated alone
    single_runs.clear()

    summary = prevalidated.validate_quarter(quarter, programme, scan_inbox(quarter, programme, max_wait_seconds=0))
    assert summary["validated"] >= len(programme.units) - 1
    got = {u.key: _outcome(ingest_unit(quarter, programme, u.key, max_wait_seconds=0))
           for u in programme.units}

    assert single_runs == []
    assert got == expected
    statuses = {key: outcome[0] for key, outcome in got.items()}
    assert statuses[programme.units[1].key] == "rejected"
    assert got[programme.units[2].key][2], "the failed correction is listed"


def test_a_second_batch_validates_nothing_again(quarter, programme):
    records = scan_inbox(quarter, programme, max_wait_seconds=0)
    first = prevalidated.validate_quarter(quarter, programme, records)
    again = prevalidated.validate_quarter(quarter, programme, records)
    assert (again["validated"], again["already_validated"]) == (0, first["validated"])


def test_a_file_replaced_after_the_batch_is_validated_on_its_own(quarter, programme, single_runs):
    prevalidated.validate_quarter(quarter, programme, scan_inbox(quarter, programme, max_wait_seconds=0))
    unit = programme.units[0]
    mine = [r for r in scan_inbox(quarter, programme, max_wait_seconds=0)
            if r.unit == unit.key and r.kind == "spreadsheet"]
    assert mine
    target = quarter.inbox / mine[0].path
    _blank_progress(programme, unit, target, target.stat().st_mtime + 60)

    result = ingest_unit(quarter, programme, unit.key, max_wait_seconds=0)

    assert single_runs == [unit.key]
    replaced = next(f for f in result.files if f.path == mine[0].path)
    assert replaced.status == "rejected"
    assert "progress.empty" in {f.code for f in replaced.findings}
    others = [ingest_unit(quarter, programme, u.key, max_wait_seconds=0) for u in programme.units[1:4]]
    assert single_runs == [unit.key] and all(o.status for o in others)


def test_the_outcome_is_kept_for_those_inputs_only(programme, tmp_path):
    report = good_report(programme)
    rules = prevalidated.rules_digest()
    base = prevalidated.cache_key(programme, "construction", "a" * 64, None, rules)
    assert base == prevalidated.cache_key(programme, "construction", "a" * 64, None, rules)
    variants = {
        "other bytes": prevalidated.cache_key(programme, "construction", "b" * 64, None, rules),
        "other unit": prevalidated.cache_key(programme, "health", "a" * 64, None, rules),
        "previous quarter": prevalidated.cache_key(programme, "construction", "a" * 64,
                                                   previous_result(programme, report), rules),
        "other rules": prevalidated.cache_key(programme, "construction", "a" * 64, None, rules + "x"),
        "other programme": prevalidated.cache_key(programme.model_copy(update={"year": 2024}),
                                                  "construction", "a" * 64, None, rules),
    }
    assert base not in variants.values() and len(set(variants.values())) == len(variants)


def test_edited_rules_change_the_digest(tmp_path):
    copy = tmp_path / "expectations"
    shutil.copytree(suites.expectations_root(), copy)
    before = prevalidated.rules_digest(copy)
    suite = copy / "gx" / "expectations" / "progress_rows.json"
    suite.write_text(suite.read_text(encoding="utf-8").replace("暂无", "暂时没有"), encoding="utf-8")
    assert prevalidated.rules_digest(copy) != before


def test_a_batch_keeps_its_outcomes_in_one_store_found_by_key(tmp_path):
    """One file per batch however many outcomes; each outcome found by its key, in any store."""
    import hashlib

    def key(n):
        return hashlib.sha256(str(n).encode()).hexdigest()

    folder = tmp_path / "validated"
    first = [StoredOutcome(key(n), f'{{"n": {n}}}'.encode()) for n in range(50)]
    last = StoredOutcome(key(99), b'{"n": 99}')
    prevalidated._write_store(folder, first)
    prevalidated._write_store(folder, [last])
    prevalidated._write_store(folder, [])

    assert len(list(folder.iterdir())) == 2
    for kept in [*first, last]:
        assert prevalidated._read_outcome(folder, kept.key) == kept.payload
    assert prevalidated._read_outcome(folder, key(100)) is None
    assert prevalidated._kept(folder) == {o.key for o in first} | {key(99)}


def test_a_damaged_store_is_a_miss_not_an_error(quarter, programme):
    """A store overwritten with garbage: its outcomes are validated again, nothing fails."""
    from wcreport.core.unit_results import previous_result as previous_of

    records = scan_inbox(quarter, programme, max_wait_seconds=0)
    first = prevalidated.validate_quarter(quarter, programme, records)
    stores = list((quarter.output / "cache" / "validated").glob("*.sqlite"))
    assert len(stores) == 1
    stores[0].write_bytes(b"x" * 4096)
    versions = prevalidated._versions(records)
    found = [prevalidated.lookup(quarter, programme, r.unit, r.sha256, previous_of(quarter, r.unit))
             for r in versions]
    assert found == [None] * len(versions)
    again = prevalidated.validate_quarter(quarter, programme, records)
    assert again["validated"] == first["validated"] and again["already_validated"] == 0
    assert all(prevalidated.lookup(quarter, programme, r.unit, r.sha256, previous_of(quarter, r.unit))
               for r in versions)
