"""A quarter where units send the form as a Word table, as a GBK CSV, as a Word 97-2003 .doc
(saved by LibreOffice) and as a workbook inside a .7z, through one `quarterly_report` run
(airflow dags test): those units are 已报送 with their exact words in the leaders' workbook;
another unit's broken .docx is refused with its reason and the rest of the quarter is as if
it were all workbooks."""
from __future__ import annotations

import json

import openpyxl
import py7zr
import pytest

from airflow_support import airflow_env, run_dags_test
from intake.corpus import HEADERS, Book, form_sheet, write_xlsx
from intake.office_corpus import TITLE, csv_bytes, needs_writer, save_as_doc, write_docx_form
from wcreport.core.quarter import Quarter
from wcreport.demo.sample import write_quarter_samples
from wcreport.report.workbook import CONT_NEXT, CONT_PREV, report_filename

pytestmark = pytest.mark.slow
QUARTER = Quarter(2023, 1)
WORD_UNIT, CSV_UNIT, BROKEN_UNIT, DOC_UNIT, SEVENZIP_UNIT = 0, 1, 2, 3, 4   # positions in the programme's unit list


def rows_for(programme, unit_key: str, how: str) -> list[list[object]]:
    unit = programme.unit(unit_key)
    return [[t.seq, t.name, unit.name, f"{unit.name}第{t.seq}项（{how}）：本季度推进情况。\n下一步继续推进。",
             "2023年12月"] for t in programme.tasks_of(unit_key)]


def progress_of(sheet, seq: int) -> str:
    """A task's whole progress text in the summary sheet (its rows, continuation marks removed)."""
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    start = next(i for i, row in enumerate(rows) if str(row[0]).strip() == str(seq))
    parts = []
    for row in rows[start:]:
        if row[0] is not None and str(row[0]).strip() != str(seq):
            break
        parts.append(row[3] or "")
    return "".join(p.removesuffix(CONT_NEXT).removeprefix(CONT_PREV) for p in parts).replace("\n", "")


@needs_writer
def test_word_csv_doc_and_7z_units_through_one_quarterly_report_run(tmp_path, programme, migrated_airflow_home,
                                                                    smtp_server):
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    written = write_quarter_samples(programme, QUARTER, inbox)
    folder = inbox / str(QUARTER)
    units = programme.units
    for index in (WORD_UNIT, CSV_UNIT, BROKEN_UNIT, DOC_UNIT, SEVENZIP_UNIT):
        written[index].unlink()
    word, csv_unit, broken = units[WORD_UNIT], units[CSV_UNIT], units[BROKEN_UNIT]
    doc_unit, sevenzip_unit = units[DOC_UNIT], units[SEVENZIP_UNIT]
    word_rows = rows_for(programme, word.key, "Word")
    write_docx_form(folder / f"{word.name}报表.docx", word.name, word_rows, merge_units=True)
    csv_rows = rows_for(programme, csv_unit.key, "CSV")
    (folder / f"{csv_unit.name}报表.csv").write_bytes(
        csv_bytes([[TITLE], [f"单位：（盖章）{csv_unit.name}"], HEADERS, *csv_rows], "gbk"))
    whole = write_docx_form(tmp_path / "whole.docx", broken.name, rows_for(programme, broken.key, "坏")).read_bytes()
    (folder / f"{broken.name}报表.docx").write_bytes(whole[: len(whole) // 2])
    doc_rows = rows_for(programme, doc_unit.key, "Word 97")
    write_docx_form(tmp_path / "doc.docx", doc_unit.name, doc_rows, merge_units=True)
    save_as_doc(tmp_path / "doc.docx", folder / f"{doc_unit.name}报表.doc")
    sevenzip_rows = rows_for(programme, sevenzip_unit.key, "7z")
    write_xlsx(Book([form_sheet(sevenzip_unit.name, sevenzip_rows)]), tmp_path / "book.xlsx")
    with py7zr.SevenZipFile(folder / f"{sevenzip_unit.name}报送材料.7z", "w") as archive:
        archive.write(tmp_path / "book.xlsx", "一季度报表.xlsx")

    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri())
    conf = json.dumps({"quarter": str(QUARTER), "inbox": str(inbox), "output": str(output)})
    result = run_dags_test(env, "quarterly_report", conf)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    manifest = json.loads((output / str(QUARTER) / "manifest.json").read_text(encoding="utf-8"))
    files = {f["path"]: f for f in manifest["files"]}
    assert (files[f"{word.name}报表.docx"]["status"], files[f"{word.name}报表.docx"]["format"]) == ("accepted", "docx")
    assert (files[f"{csv_unit.name}报表.csv"]["status"], files[f"{csv_unit.name}报表.csv"]["format"]) == ("accepted", "csv")
    doc_file = files[f"{doc_unit.name}报表.doc"]
    assert (doc_file["status"], doc_file["format"], doc_file["unit"]) == ("accepted", "doc", doc_unit.key)
    container, member = f"{sevenzip_unit.name}报送材料.7z", f"{sevenzip_unit.name}报送材料.7z!一季度报表.xlsx"
    assert (files[container]["status"], files[container]["format"]) == ("ignored", "7z")
    assert (files[member]["status"], files[member]["format"], files[member]["unit"]) == (
        "accepted", "xlsx", sevenzip_unit.key)
    refused = files[f"{broken.name}报表.docx"]
    assert (refused["status"], refused["unit"]) == ("rejected", broken.key)
    assert any("Word 文件已损坏" in reason for reason in refused["reasons"]), refused["reasons"]
    statuses = {u["unit"]: u["status"] for u in manifest["units"]}
    assert statuses == {u.key: ("rejected" if u.key == broken.key else "submitted") for u in units}
    assert sorted(f["status"] for f in manifest["files"]) == ["accepted"] * (len(units) - 1) + ["ignored", "rejected"]

    workbook = openpyxl.load_workbook(output / str(QUARTER) / report_filename(programme, QUARTER))
    status_rows = {row[1]: row[2] for row in workbook["报送情况"].iter_rows(min_row=4, values_only=True) if row[1]}
    assert {status_rows[u.name] for u in (word, csv_unit, doc_unit, sevenzip_unit)} == {"已报送"}
    assert status_rows[broken.name] == "已退回"
    summary = workbook["汇总表"]
    for unit, rows in ((word, word_rows), (csv_unit, csv_rows), (doc_unit, doc_rows), (sevenzip_unit, sevenzip_rows)):
        for seq, _name, _units, progress, _deadline in rows:
            assert f"【{unit.name}】{progress}".replace("\n", "") in progress_of(summary, seq), (unit.key, seq)
