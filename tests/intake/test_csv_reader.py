"""The form saved as CSV (Python's csv, in every encoding Chinese office software writes)
reads like the workbook; junk and undecodable bytes get their own Chinese reason."""
from __future__ import annotations

import os

import pytest

from intake.conftest import EDU_ROWS
from intake.office_corpus import csv_bytes, form_rows, refused
from wcreport.intake.csv_reader import read_csv, sniff_csv
from wcreport.intake.formats import SPREADSHEET, detect
from wcreport.intake.reading import parse_report

UNIT = "教育和体育事业中心"
EXPECTED = {row[0]: row[3] for row in EDU_ROWS}
ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16-le", "utf-16-be"]


def parsed(path, programme):
    fmt, report, error = parse_report(path, programme)
    assert error is None, error
    assert fmt == "csv"
    return report


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_each_encoding_and_delimiter_reads_like_the_workbook(tmp_path, programme, encoding, delimiter):
    path = tmp_path / "教体中心报表.csv"
    path.write_bytes(csv_bytes(form_rows(UNIT, EDU_ROWS), encoding, delimiter=delimiter))
    assert detect(path, SPREADSHEET) == "csv"
    report = parsed(path, programme)
    assert report.findings == []
    assert report.unit_line == UNIT and report.header_row == 3
    assert {r.seq: r.progress for r in report.rows} == EXPECTED   # the quoted newline kept
    assert report.rows[0].deadline == "2023年12月"


def test_a_unicode_text_export_named_txt_is_read_but_a_note_is_not(tmp_path, programme):
    export = tmp_path / "教体中心报表.txt"
    export.write_bytes(csv_bytes(form_rows(UNIT, EDU_ROWS), "utf-16-le", delimiter="\t"))
    note = tmp_path / "报送说明.txt"
    note.write_bytes("附件为本单位季度报表，请查收。".encode("gbk"))
    assert sniff_csv(export) == "csv"
    assert sniff_csv(note) is None and detect(note, SPREADSHEET) is None
    assert {r.seq: r.progress for r in parsed(export, programme).rows} == EXPECTED


def test_cells_keep_their_text(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes([["序号", "进度"], ["001", "=1+1"], ["", " 前后空格 "]], "gbk"))
    sheet = read_csv(path).sheets[0]
    assert sheet.name == "CSV" and sheet.merged == []
    assert sheet.cells == [["序号", "进度"], ["001", "=1+1"], [None, " 前后空格 "]]


def test_binary_junk_named_csv(tmp_path, programme):
    path = tmp_path / "junk.csv"
    path.write_bytes(os.urandom(4096))
    refused(path, programme, "file.csv_encoding", "无法识别 CSV 文件的编码", "UTF-8 编码的 CSV")


def test_an_xlsx_saved_under_a_csv_name_is_still_an_xlsx(tmp_path):
    from intake.corpus import Book, form_sheet, write

    path = write(Book([form_sheet(UNIT, EDU_ROWS)]), tmp_path / "a.xlsx")
    os.rename(path, tmp_path / "a.csv")
    assert detect(tmp_path / "a.csv", SPREADSHEET) == "xlsx"


def test_control_characters_are_junk_not_text(tmp_path, programme):
    path = tmp_path / "ctl.csv"
    path.write_bytes(b"\x00\x01\x02\x03abc,def\r\n" * 50)
    refused(path, programme, "file.csv_encoding", "无法识别 CSV 文件的编码")


def test_an_unclosed_quote_with_an_oversized_field(tmp_path, programme):
    path = tmp_path / "quote.csv"
    path.write_bytes(("序号,进度\r\n1,\"" + "很长" * 70_000 + "\r\n").encode("utf-8"))
    refused(path, programme, "file.csv_corrupt", "第 2 行", "UTF-8 编码的 CSV")


def test_an_oversized_csv(tmp_path, programme, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_bytes(csv_bytes(form_rows(UNIT, EDU_ROWS), "utf-8") + "，".encode() * 30_000)
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "64KiB")        # the smallest limit a setting may have
    refused(path, programme, "file.too_large", "超过上限")


def test_an_empty_csv(tmp_path, programme):
    (tmp_path / "empty.csv").write_bytes(b"")
    refused(tmp_path / "empty.csv", programme, "file.empty", "文件为空")


def test_utf16_without_its_bom_is_not_guessed(tmp_path, programme):
    path = tmp_path / "nobom.csv"
    path.write_bytes(csv_bytes(form_rows(UNIT, EDU_ROWS), "utf-16-le")[2:])
    refused(path, programme, "file.csv_encoding", "无法识别 CSV 文件的编码")
