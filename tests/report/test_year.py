"""The annual account: four quarters read back from an output root into the fourth quarter's workbook."""
from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from report.sample import make_case, programme
from wcreport.core.labels import YEAR_CELL_ZH
from wcreport.core.quarter import Quarter
from wcreport.report.consolidate import Consolidated, consolidate
from wcreport.report.sheets.year import INDICATORS_SHEET, SUMMARY_SHEET, TASKS_SHEET
from wcreport.report.text_flow import CONT_NEXT, CONT_PREV
from wcreport.report.workbook import SHEETS, write_report
from wcreport.report.year import build_year, year_digest

PROG = programme()
LATE_Q2 = "health"
MISSING_Q3 = "construction"
CORRECTED_Q2 = "edu_sports"


def values(q: int) -> dict[str, dict[str, float]]:
    """Cumulative counts growing each quarter; levels reported when known."""
    out = {
        "sibaoshan": {"free_screenings": 1500 * q, "school_places": 300 * q},
        "zhongbu": {"free_screenings": 1500 * q, "school_places": 150 * q},
        "health": {"screening_rate": 20 * q + 10, "psych_hotline": 1},
        "org_personnel": {"beautiful_homes_rate": 11 * q, "family_education_lectures": 25 * q},
    }
    if q < 4:   # 妇女儿童体质监测 is not reported in the fourth quarter
        out["health"]["fitness_monitoring"] = 50 * q
    return out


def quarter_case(q: int, *, version: dict[str, int] | None = None, text: str = "",
                 missing: tuple[str, ...] | None = None):
    quarter = f"2023Q{q}"
    # the pipeline marks the corrected unit late: its accepted file now arrived in November
    late = (LATE_Q2, *(version or {})) if q == 2 else ()
    if missing is None:
        missing = ("housing_fund", MISSING_Q3) if q == 3 else ("housing_fund",)
    texts = {("sibaoshan", 1): text} if text else None
    results, manifest = make_case(PROG, quarter, missing=missing, rejected={}, late=late,
                                  indicators=values(q), version=version, texts=texts)
    return results, manifest


def write_quarter(root: Path, q: int, **kw) -> Consolidated:
    """A quarter as merge leaves it: archived accepted files, manifest.json, consolidated.json."""
    results, manifest = quarter_case(q, **kw)
    for record in manifest.files:
        record.archived_as = f"archive/2023Q{q}/{record.sha256}.xlsx"
        (root / record.archived_as).parent.mkdir(parents=True, exist_ok=True)
        (root / record.archived_as).write_bytes(b"archived")
    c = consolidate(PROG, f"2023Q{q}", results, manifest)
    folder = root / f"2023Q{q}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(manifest.model_dump_json(), encoding="utf-8")
    (folder / "consolidated.json").write_text(c.model_dump_json(), encoding="utf-8")
    return c


def mail_ledger(root: Path, sent: list[Consolidated]) -> None:
    entries = [{"quarter": c.quarter, "content_hash": c.content_hash(), "kind": "original", "sequence": 1,
                "sent_at": f"2023-{3 * int(c.quarter[-1]):02d}-30T09:00:00+00:00", "snapshot": c.snapshot()}
               for c in sent]
    (root / "mail_ledger.json").write_text(json.dumps({"version": 2, "sent": entries, "reviews": []}),
                                           encoding="utf-8")


@pytest.fixture
def year_root(tmp_path):
    """Q1-Q3 on disk (Q2 corrected by one unit after its mail), Q4 in memory."""
    q1, q2 = write_quarter(tmp_path, 1), write_quarter(tmp_path, 2)
    q3 = write_quarter(tmp_path, 3)
    mail_ledger(tmp_path, [q1, q2, q3])
    write_quarter(tmp_path, 2, version={CORRECTED_Q2: 2})       # the November correction
    results, manifest = quarter_case(4, text="=HYPERLINK(\"http://x\")四宝山街道第1项：全年完成。")
    return tmp_path, consolidate(PROG, "2023Q4", results, manifest)


def block_texts(ws) -> dict[tuple[int, str], list[str]]:
    """(task seq, unit name) -> the four quarter cells, continuation rows joined."""
    out: dict[tuple[int, str], list[str]] = {}
    for row in ws.iter_rows(min_row=4, values_only=True):
        if row[0] is None:
            continue
        unit = str(row[2]).removesuffix("（续）")
        cells = out.setdefault((int(row[0]), unit), [""] * 4)
        for k in range(4):
            cells[k] += (row[3 + k] or "").removesuffix(CONT_NEXT).removeprefix(CONT_PREV)
    return out


def test_every_cell_holds_the_quarter_s_accepted_words(year_root):
    root, q4 = year_root
    account = build_year(PROG, q4, root)
    path = write_report(q4, PROG, root / "2023Q4", account)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:3] == [SUMMARY_SHEET, TASKS_SHEET, INDICATORS_SHEET]
    assert wb.sheetnames[3:] == list(SHEETS)
    cells = block_texts(wb[TASKS_SHEET])
    quarters = [Consolidated.model_validate_json((root / f"2023Q{q}" / "consolidated.json").read_bytes())
                for q in (1, 2, 3)] + [q4]
    for task in PROG.tasks:
        for key in task.units:
            name = PROG.unit(key).name
            for n, c in enumerate(quarters):
                entry = next((e for s in c.tasks if s.seq == task.seq for e in s.entries if e.unit == key), None)
                shown = cells[(task.seq, name)][n]
                if entry is not None:
                    assert shown.startswith(entry.text), (task.seq, name, n)
                else:
                    status = next(u.status for u in c.units if u.unit == key)
                    assert shown == YEAR_CELL_ZH[status], (task.seq, name, n)
    # the corrected unit's Q2 words are the corrected ones, with a note; Q1 is untouched
    edu = cells[(1, PROG.unit(CORRECTED_Q2).name)]
    assert "第2版" in edu[1] and "更正" in edu[1] and "第1版" in edu[0] and "更正" not in edu[0]
    assert "逾期报送" in cells[(4, PROG.unit(LATE_Q2).name)][1]
    assert "逾期" not in edu[1]     # on time when the leaders were first told; a correction is no late report
    assert cells[(2, PROG.unit(MISSING_Q3).name)][2] == "（未报送）"
    # unit text never becomes a formula
    hostile = next(r[6] for r in wb[TASKS_SHEET].iter_rows(min_row=4) if r[2].value == "四宝山街道" and r[0].value == 1)
    assert hostile.data_type == "s" and hostile.value.startswith("=HYPERLINK")


def test_indicators_are_judged_by_their_own_rule(year_root):
    root, q4 = year_root
    account = build_year(PROG, q4, root)
    by_key = {i.key: i for i in account.indicators}
    screenings = by_key["free_screenings"]          # cumulative, 约1.2万: 12000 reached in Q4
    assert (screenings.rule, screenings.values, screenings.year_value, screenings.verdict) == \
        ("cumulative", [3000, 6000, 9000, 12000], 12000, "done")
    places = by_key["school_places"]                # a level by year end (at least 2200): 1800
    assert (places.rule, places.year_value, places.verdict) == ("point", 1800, "not_done")
    fitness = by_key["fitness_monitoring"]          # cumulative, not reported in Q4: 150 of 200
    assert (fitness.values, fitness.year_value, fitness.verdict) == ([50, 100, 150, None], 150, "unknown")
    assert "第3季度" in fitness.basis
    assert by_key["psych_hotline"].verdict == "done"
    assert by_key["new_schools"].verdict == "unknown"     # never reported
    wb = openpyxl.load_workbook(write_report(q4, PROG, root / "2023Q4", account))
    rows = {r[2]: r for r in wb[INDICATORS_SHEET].iter_rows(min_row=4, max_row=3 + len(account.indicators),
                                                             values_only=True)}
    assert rows["拓展学位"][10:12] == (1800, "未完成")
    assert rows["免费检查人数"][6:12] == (3000, 6000, 9000, 12000, 12000, "已完成")
    assert rows["妇女儿童体质监测"][11] == "无法判断"
    assert len(wb[INDICATORS_SHEET]._charts) == len(account.indicators)


def test_summary_counts_tasks_gaps_and_corrections(year_root):
    root, q4 = year_root
    account = build_year(PROG, q4, root)
    done = [t.seq for t in account.tasks_with("done")]
    assert done == [4, 5, 7]    # hotline open; screening 90 % and 12000 people; 44 % and 100 lectures
    assert {g.kind for g in account.gaps} == {"late", "missing", "rejected"}   # civil_culture: returned
    late = [(g.unit, g.quarter) for g in account.gaps if g.kind == "late"]
    assert late == [(LATE_Q2, "2023Q2")]
    assert (MISSING_Q3, "2023Q3") in [(g.unit, g.quarter) for g in account.gaps if g.kind == "missing"]
    assert len(account.corrections) == 1 and PROG.unit(CORRECTED_Q2).name in account.corrections[0]
    wb = openpyxl.load_workbook(write_report(q4, PROG, root / "2023Q4", account))
    summary = {r[0]: r[1] for r in wb[SUMMARY_SHEET].iter_rows(min_row=4, values_only=True)}
    counts = summary["实事完成情况"]
    assert f"已完成{len(done)}项" in counts and f"未完成{len(account.tasks_with('not_done'))}项" in counts
    assert "逾期报送1次" in summary["报送情况"] and "报送后更正" in summary
    # why a task is not complete: its indicator and the units' own Q4 words
    assert "「拓展学位」年度结果1800个" in summary["第1项（未完成）"]
    assert "【四宝山街道】=HYPERLINK" in summary["第1项（未完成）"]


@pytest.mark.parametrize("damage", ["deleted", "corrupt", "archive_gone"])
def test_an_unreadable_quarter_is_named_not_read_as_not_reported(year_root, damage):
    root, q4 = year_root
    folder = root / "2023Q3"
    if damage == "deleted":
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    elif damage == "corrupt":
        (folder / "consolidated.json").write_text("{\"quarter\": ", encoding="utf-8")
    else:
        for f in (root / "archive" / "2023Q3").iterdir():
            f.unlink()
    account = build_year(PROG, q4, root)
    [source] = account.unavailable
    assert source.quarter == "2023Q3" and source.problem
    assert all(row.cells[2].state == "unavailable" for t in account.tasks for row in t.rows)
    assert not [g for g in account.gaps if g.quarter == "2023Q3"]
    wb = openpyxl.load_workbook(write_report(q4, PROG, root / "2023Q4", account))
    summary = {r[0]: r[1] for r in wb[SUMMARY_SHEET].iter_rows(min_row=4, values_only=True)}
    assert source.problem in summary["第3季度数据缺失"]


def test_a_quarter_merged_under_another_programme_file_is_reported(year_root):
    root, q4 = year_root
    path = root / "2023Q1" / "consolidated.json"
    c = Consolidated.model_validate_json(path.read_bytes())
    changed = [i.model_copy(update={"target": 10000.0}) if i.key == "free_screenings" else i for i in c.indicators]
    path.write_text(c.model_copy(update={"indicators": changed}).model_dump_json(), encoding="utf-8")
    account = build_year(PROG, q4, root)
    [change] = account.programme_changes
    assert change.startswith("第1季度") and "免费检查人数" in change


def test_only_the_fourth_quarter_opens_with_the_year(tmp_path):
    results, manifest = quarter_case(2)
    c = consolidate(PROG, "2023Q2", results, manifest)
    wb = openpyxl.load_workbook(write_report(c, PROG, tmp_path))
    assert wb.sheetnames == list(SHEETS)
    assert Quarter.parse(c.quarter).number == 2


def test_the_fourth_quarter_s_mail_says_it_carries_the_year():
    from wcreport.deliver.compose import subject_for

    for q in (2, 4):
        results, manifest = quarter_case(q)
        c = consolidate(PROG, f"2023Q{q}", results, manifest)
        original, correction = subject_for(c, "original", 1), subject_for(c, "correction", 2)
        assert ("2023年度总结" in original) == (q == 4)
        assert correction.startswith("【更正版1】") and ("2023年度总结" in correction) == (q == 4)


def test_an_unreadable_mail_ledger_is_said_not_taken_for_no_corrections(year_root):
    root, q4 = year_root
    (root / "mail_ledger.json").write_text("{\"sent\": [", encoding="utf-8")
    account = build_year(PROG, q4, root)
    assert account.corrections == [] and account.ledger_problem
    wb = openpyxl.load_workbook(write_report(q4, PROG, root / "2023Q4", account))
    summary = {r[0]: r[1] for r in wb[SUMMARY_SHEET].iter_rows(min_row=4, values_only=True)}
    assert account.ledger_problem in summary["报送后更正"]


def test_words_added_or_removed_after_the_quarter_s_mail_are_noted(year_root):
    root, q4 = year_root
    # after Q3's mail, 建设局's late form is accepted and 四宝山街道's words are withdrawn
    write_quarter(root, 3, missing=("housing_fund", "sibaoshan"))
    account = build_year(PROG, q4, root)
    lines = [line for line in account.corrections if line.startswith("第3季度")]
    assert len(lines) == 2
    assert any("建设局" in line and "补报" in line for line in lines)
    assert any("四宝山街道" in line and "移除" in line for line in lines)
    cells = block_texts(openpyxl.load_workbook(write_report(q4, PROG, root / "2023Q4", account))[TASKS_SHEET])
    assert "补报" in cells[(2, "建设局")][2] and cells[(2, "建设局")][2].startswith("建设局第2项")
    assert cells[(1, "四宝山街道")][2].startswith("（未报送）") and "移除" in cells[(1, "四宝山街道")][2]


def test_the_fourth_quarter_s_mail_hash_covers_the_year(year_root):
    """A later change to an earlier quarter's words makes a 更正版 of the fourth quarter's mail;
    the fourth quarter's own first mail does not; quarters without the year keep their hash."""
    root, q4 = year_root
    digest = year_digest(build_year(PROG, q4, root))
    with_year = q4.model_copy(update={"year_digest": digest})
    assert with_year.content_hash() != q4.content_hash()
    assert q4.content_view() == {k: v for k, v in with_year.content_view().items() if k != "year"}
    ledger = json.loads((root / "mail_ledger.json").read_text(encoding="utf-8"))
    ledger["sent"].append({"quarter": "2023Q4", "content_hash": with_year.content_hash(), "kind": "original",
                           "sequence": 1, "sent_at": "2024-01-02T09:00:00+00:00", "snapshot": with_year.snapshot()})
    (root / "mail_ledger.json").write_text(json.dumps(ledger), encoding="utf-8")
    assert year_digest(build_year(PROG, q4, root)) == digest
    write_quarter(root, 3, version={"zhongbu": 2})      # a third-quarter correction in January
    assert year_digest(build_year(PROG, q4, root)) != digest
