"""`wcreport check FILE` and the office's feedback on the same file give the same warnings and errors.

The same office form goes through `wcreport check` and through the quarter's ingest; the
warnings and errors the check prints are the ones the ingest records for the file (which
the unit's feedback mail and page list), and a rejected file's feedback page lists them all.
"""
from __future__ import annotations

import html
import time

import pytest

from wcreport.cli.main import main
from wcreport.core.quarter import Quarter
from wcreport.core.settings import quarter_paths
from wcreport.deliver.forms import FIRST_DATA_ROW, INDICATOR_SHEET, build_unit_workbook
from wcreport.flow.ingest_unit import decide_unit
from wcreport.validate.feedback import problems_of

# `check` judges a file of a past programme year as of its last quarter
QUARTER = Quarter(2023, 4)
UNIT = "edu_sports"
FILE = "教育和体育事业中心2023年第4季度报表.xlsx"


def office_form(folder, programme, values: dict[str, object], empty_task: int | None = None):
    """The unit's form as the office sends it, filled in; indicators by name, one task left empty."""
    tasks = programme.tasks_of(UNIT)
    workbook = build_unit_workbook(programme, UNIT, QUARTER,
                                   progress={t.seq: "本季度召开推进会2次，完成摸底。" for t in tasks
                                             if t.seq != empty_task},
                                   deadlines={t.seq: "2023年12月底" for t in tasks})
    sheet = workbook[INDICATOR_SHEET]
    for row in range(FIRST_DATA_ROW, sheet.max_row + 1):
        sheet.cell(row, 5).value = values.get(sheet.cell(row, 2).value, 0)
    folder.mkdir(parents=True, exist_ok=True)
    workbook.save(folder / FILE)
    return folder / FILE


def checked(path, capsys) -> dict[str, list[str]]:
    """What `wcreport check` printed, as its lists of errors and warnings."""
    main(["check", str(path), "--year", "2023", "--unit", UNIT])
    out = capsys.readouterr().out
    lists: dict[str, list[str]] = {"error": [], "warning": []}
    current = None
    for line in out.splitlines():
        if line.startswith("必须修改的问题"):
            current = "error"
        elif line.startswith("提醒"):
            current = "warning"
        elif current and line.startswith("  ") and ". " in line:
            lists[current].append(line.split(". ", 1)[1].strip())
        elif line.strip():
            current = None
    return lists


def ingested(tmp_path, programme, path):
    """The office's record of the same file after the quarter's ingest of its unit."""
    paths = quarter_paths(str(QUARTER), tmp_path / "inbox", tmp_path / "output")
    target = paths.inbox / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(path.read_bytes())
    old = time.time() - 3600
    import os
    os.utime(target, (old, old))
    result = decide_unit(paths, programme, UNIT)
    (record,) = [f for f in result.files if f.path == path.name]
    return paths, result, record


def office_lists(record) -> dict[str, list[str]]:
    problems = problems_of(record)
    return {level: [f.as_text() for f in problems if f.severity == level] for level in ("error", "warning")}


@pytest.mark.parametrize("values, empty_task, accepted", [
    ({"拓展学位": "约1200个", "新建幼儿园": "约1处", "新建中小学": "2所"}, None, True),
    ({"拓展学位": "约1200个", "新建幼儿园": "1,5", "家庭教育“百场巡讲”": "100场以上"}, 4, False),
])
def test_check_and_the_office_feedback_give_the_same_warnings(tmp_path, capsys, programme, values, empty_task,
                                                              accepted):
    path = office_form(tmp_path / "unit", programme, values, empty_task)
    by_check = checked(path, capsys)
    paths, result, record = ingested(tmp_path, programme, path)
    assert (record.status == "accepted") is accepted
    by_office = office_lists(record)
    assert by_check == by_office
    # the approximate number is warned about on both sides
    assert any("「约1200个」是约数" in w for w in by_check["warning"])
    if not accepted:
        assert any("逗号" in e for e in by_check["error"]) and any("为空" in e for e in by_check["error"])
        page = html.unescape((paths.output_root / record.feedback).read_text(encoding="utf-8"))
        for message in [*by_check["error"], *by_check["warning"]]:
            assert message.split("：", 1)[-1] in page


def test_a_task_missing_from_the_locked_office_form_is_asked_where_the_unit_can_write(tmp_path, capsys, programme):
    """An office form without one of the unit's task rows (an old or another unit's form): the
    unit cannot add a row to the locked sheet, so the message points to the form it was sent."""
    import openpyxl

    from wcreport.deliver.forms import FORM_SHEET

    path = office_form(tmp_path / "unit", programme, {})
    workbook = openpyxl.load_workbook(path)
    sheet = workbook[FORM_SHEET]
    row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == 7)
    sheet.delete_rows(row)
    workbook.save(path)
    (missing,) = [e for e in checked(path, capsys)["error"] if "缺少第7项实事" in e]
    assert "下发给本单位的报表中已有该项实事的一行" in missing and "无需也无法添加行" in missing
    assert "浅黄色格" in missing and missing.endswith("如使用的是自制表格，请补充该行。")
