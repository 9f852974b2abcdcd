"""REPORT_YEAR_TO_DATE: a quarter before the fourth opens with the year so far, as the fourth always does."""
from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from faults.conftest import QUARTER, small_programme_file
from wcreport.report.sheets.year import INDICATORS_SHEET, SUMMARY_SHEET, TASKS_SHEET
from wcreport.report.workbook import SHEETS


@pytest.fixture
def ingested(tmp_path, monkeypatch):
    from wcreport.demo.sample import write_quarter_samples
    from wcreport.orchestration import tasks

    small_programme_file(tmp_path / "programmes")
    monkeypatch.setenv("REPORT_PROGRAMMES_DIR", str(tmp_path / "programmes"))
    run = tasks.resolve_run(QUARTER, str(tmp_path / "inbox"), str(tmp_path / "output"))
    write_quarter_samples(tasks.programme_of(run), tasks.paths_of(run).quarter, tmp_path / "inbox")
    for unit in tasks.gather(run):
        tasks.ingest(run, unit)
    return run


@pytest.mark.parametrize(("setting", "with_year"), [("off", False), ("on", True)])
def test_a_quarter_before_the_fourth_has_the_year_so_far_only_when_asked(ingested, monkeypatch, setting, with_year):
    from wcreport.orchestration import tasks

    assert not QUARTER.endswith("4")
    monkeypatch.setenv("REPORT_YEAR_TO_DATE", setting)
    merged = tasks.merge(ingested)
    sheets = openpyxl.load_workbook(merged["report"], read_only=True).sheetnames
    year_json = Path(merged["manifest"]).parent / "year.json"
    if with_year:
        assert sheets[:3] == [SUMMARY_SHEET, TASKS_SHEET, INDICATORS_SHEET] and sheets[3:] == list(SHEETS)
        account = json.loads(year_json.read_text(encoding="utf-8"))
        assert account["through"] == QUARTER and [s["state"] for s in account["sources"]] == ["ok"] * int(QUARTER[-1])
    else:
        assert sheets == list(SHEETS) and not year_json.exists()
