"""Formats by bytes, and hostile or broken files refused with a specific Chinese reason."""
from __future__ import annotations

import shutil

import pytest

from intake.conftest import EDU_ROWS
from intake.corpus import (
    Book,
    Sheet,
    form_sheet,
    write,
    write_corrupt_zip,
    write_encrypted_ooxml,
    write_encrypted_xls,
    write_encrypted_zip,
    write_ratio_bomb,
    write_xml_bomb,
    write_zip_bomb,
)
from wcreport.intake import reader
from wcreport.intake.reader import UnreadableFile, detect_format, read_workbook

BOOK = Book([form_sheet("教育和体育事业中心", EDU_ROWS), Sheet("隐藏", [["x"]], hidden=True)])


@pytest.mark.parametrize("fmt", ["xlsx", "xlsm", "xls", "ods"])
def test_each_format_is_detected_by_bytes_and_read(tmp_path, fmt):
    path = write(BOOK, tmp_path / f"form.{fmt}")
    disguised = tmp_path / "renamed.bin"
    shutil.copy(path, disguised)
    assert detect_format(disguised) == fmt
    grid = read_workbook(disguised)
    assert grid.format == fmt
    form = grid.sheets[0]
    assert form.name == "报表"
    assert form.cells[1][0] == "单位：（盖章）教育和体育事业中心"
    assert form.cells[3][3] == "新建幼儿园1所，\n拓展学位1200个。"
    assert (0, 0, 0, 4) in form.merged
    if fmt != "ods":  # odfpy writes no hidden-sheet style
        assert grid.sheets[1].hidden is True
    assert grid.sheets[0].hidden is False


def test_wps_et_with_xls_inside_is_read(tmp_path):
    path = write(BOOK, tmp_path / "form.xls")
    et = tmp_path / "教体中心报表.et"
    path.rename(et)
    assert read_workbook(et).sheets[0].cells[2][1] == "实事名称"


def expect(path, code, *fragments):
    with pytest.raises(UnreadableFile) as info:
        read_workbook(path)
    assert info.value.code == code
    for fragment in fragments:
        assert fragment in info.value.reason
    return info.value


def test_empty_file(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"")
    expect(tmp_path / "a.xlsx", "file.empty", "文件为空")


def test_not_a_spreadsheet(tmp_path):
    (tmp_path / "a.xlsx").write_text("这不是表格", encoding="utf-8")
    expect(tmp_path / "a.xlsx", "format.unknown", "无法识别", "请另存为 .xlsx 后重新报送")


def test_html_saved_as_xls(tmp_path):
    (tmp_path / "导出.xls").write_text("<html><body><table><tr><td>1</td></tr></table></body></html>")
    expect(tmp_path / "导出.xls", "format.unknown", "网页", "请另存为 .xlsx 后重新报送")


def test_corrupt_zip(tmp_path):
    expect(write_corrupt_zip(tmp_path / "a.xlsx"), "zip.corrupt", "文件已损坏", "请另存为 .xlsx")


def test_encrypted_xlsx(tmp_path):
    path = write_encrypted_ooxml(tmp_path / "a.xlsx")
    assert detect_format(path) == "xls"
    expect(path, "encrypted", "密码", "取消密码保护")


def test_encrypted_zip_members_say_resubmit_once(tmp_path):
    error = expect(write_encrypted_zip(tmp_path / "a.xlsx"), "encrypted", "密码", "取消密码保护")
    assert error.reason == "文件设置了打开密码或已加密，无法读取。请取消密码保护后另存为 .xlsx 重新报送。"


def test_password_protected_xls(tmp_path):
    expect(write_encrypted_xls(tmp_path / "a.xls", BOOK), "encrypted", "密码")


def test_xml_bomb_refused_before_parsing(tmp_path):
    expect(write_xml_bomb(tmp_path / "a.xlsx"), "xml.dtd", "XML 炸弹")


def test_a_refusal_becomes_an_error_finding(tmp_path):
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n")
    error = expect(tmp_path / "a.pdf", "format.unknown", "PDF 文件", "请另存为 .xlsx 后重新报送")
    assert error.as_finding().model_dump(exclude_none=True) == {
        "code": "format.unknown", "severity": "error", "message": error.reason}


def test_ratio_bomb_refused_without_expanding(tmp_path):
    expect(write_ratio_bomb(tmp_path / "a.xlsx"), "zip.bomb", "压缩比异常")


def test_zip_bomb_refused_by_declared_size(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_MAX_UNCOMPRESSED_BYTES", str(5 * 1024 * 1024))
    monkeypatch.setattr(reader, "MAX_MEMBER_RATIO", 10 ** 9)
    expect(write_zip_bomb(tmp_path / "a.xlsx", mib=8), "zip.bomb", "压缩炸弹", "超过安全上限")


def test_oversize_file(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "64KiB")          # the smallest limit the setting allows
    path = write(BOOK, tmp_path / "a.xlsx")
    with path.open("ab") as grown:                                  # the size is checked before the bytes
        grown.write(b"\0" * 64 * 1024)
    expect(path, "file.too_large", "超过上限")


def test_docx_is_not_a_spreadsheet(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "a.docx", "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
    assert detect_format(tmp_path / "a.docx") is None
