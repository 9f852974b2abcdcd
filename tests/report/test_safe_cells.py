"""Untrusted text into cells: no formula, no illegal character, nothing cut off."""
from __future__ import annotations

import openpyxl
import pytest
from openpyxl.cell import WriteOnlyCell

from wcreport.report.safe_cells import (
    CELL_LIMIT,
    TRUNCATION_NOTE,
    clean_text,
    looks_like_formula,
    set_text,
    split_for_cells,
    truncate_for_cell,
    utf16_len,
)

TRIGGERS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "=HYPERLINK(\"http://x\",\"y\")", "=cmd|'/C calc'!A0"]


@pytest.mark.parametrize("text, units", [
    ("", 0), ("abc", 3), ("妇女儿童", 4),
    ("👩‍👧", 5),                 # two astral characters (2 units each) and a joiner
    ("a\ud800b", 3),           # a lone surrogate, as a damaged file can carry: one unit
])
def test_utf16_len_counts_what_excel_counts(text, units):
    assert utf16_len(text) == units


@pytest.mark.parametrize("write_only", [False, True])
def test_formula_triggers_are_stored_as_text(tmp_path, write_only):
    wb = openpyxl.Workbook(write_only=write_only)
    ws = wb.create_sheet("s") if write_only else wb.active
    if write_only:
        row = []
        for value in TRIGGERS + ["\r=2"]:
            cell = WriteOnlyCell(ws)
            set_text(cell, value)
            row.append(cell)
        ws.append(row)
    else:
        for col, value in enumerate(TRIGGERS + ["\r=2"], 1):
            set_text(ws.cell(1, col), value)
    wb.save(tmp_path / "x.xlsx")
    back = openpyxl.load_workbook(tmp_path / "x.xlsx")
    cells = list(back.worksheets[0].iter_rows())[0]
    assert [c.value for c in cells] == TRIGGERS + ["\n=2"]
    assert all(c.data_type == "s" for c in cells)
    assert all(c.quotePrefix for c in cells[:len(TRIGGERS)])


def test_plain_text_gets_no_quote_prefix():
    wb = openpyxl.Workbook()
    cell = wb.active["A1"]
    set_text(cell, "正常文本 = 不是公式")
    assert cell.data_type == "s" and not cell.quotePrefix


def test_illegal_control_characters_are_removed_and_the_rest_kept(tmp_path):
    raw = "开展\x00培训\x01\x02两场\x0b第二行\x0c第三行\x1f完\r\n第四行\t制表"
    cleaned = clean_text(raw)
    assert cleaned.text == "开展培训两场\n第二行\n第三行完\n第四行\t制表"
    assert cleaned.removed == 4
    wb = openpyxl.Workbook()
    set_text(wb.active["A1"], raw)          # would raise IllegalCharacterError unchecked
    wb.save(tmp_path / "x.xlsx")
    assert openpyxl.load_workbook(tmp_path / "x.xlsx").active["A1"].value == cleaned.text


def test_looks_like_formula():
    assert all(looks_like_formula(t) for t in TRIGGERS + ["\r=1"])
    assert not looks_like_formula("正常") and not looks_like_formula("")


def test_split_keeps_everything_and_respects_utf16_units():
    text = ("😀" * 20_000) + "\n" + ("字" * 30_000)
    chunks = split_for_cells(text)
    assert "".join(chunks) == text
    assert all(utf16_len(c) <= CELL_LIMIT for c in chunks)
    assert len(chunks) >= 3
    assert split_for_cells("短") == ["短"]


def test_truncate_says_so():
    note = "……（超出单元格上限，全文见「明细」）"
    text, cut = truncate_for_cell("字" * 40_000, note)
    assert cut and text.endswith(note) and utf16_len(text) <= CELL_LIMIT
    assert truncate_for_cell("短", note) == ("短", False)


def test_set_text_cuts_visibly_instead_of_silently(tmp_path):
    wb = openpyxl.Workbook()
    set_text(wb.active["A1"], "字" * 40_000)
    set_text(wb.active["A2"], "#N/A")
    wb.save(tmp_path / "x.xlsx")
    back = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    assert back["A1"].value.endswith(TRUNCATION_NOTE) and utf16_len(back["A1"].value) <= CELL_LIMIT
    assert back["A2"].value == "#N/A" and back["A2"].data_type == "s"
