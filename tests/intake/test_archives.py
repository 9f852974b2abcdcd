"""A .zip a unit sends: opened by the scan, every member a record of its own (``x.zip!member``).

Zips are written with Python's zipfile as the programs units use write them: Windows'
built-in zip stores GBK names without the UTF-8 flag (``WindowsName``), 7-Zip and macOS
flag UTF-8. Hostile zips (bombs, encryption, traversal names, too many members, nesting,
damage) are refused before anything is extracted, each with its own Chinese reason, and
nothing else in the inbox is affected.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from wcreport_testing.stamped_samples import ScanSpec, form_contents, make_scan, save_pdf

from intake.conftest import EDU_ROWS
from intake.corpus import Book, form_sheet, touch_mtime, write_xlsx
from wcreport.core.findings_catalogue import message
from wcreport.core.model import FileRecord
from wcreport.core.quarter import Quarter
from wcreport.intake.archives import FOLDER_MEMBER, archive_opened, member_name
from wcreport.intake.classify import describe_other
from wcreport.intake.scan import scan_and_identify

OLD = time.time() - 3600
MIB = 1024 * 1024


class WindowsName(zipfile.ZipInfo):
    """A member as Windows' "Send to > Compressed folder" writes it: GBK bytes, no UTF-8 flag.

    zipfile would re-encode a non-ASCII name as UTF-8 and set the flag; Windows does not."""

    def __init__(self, name: str):
        super().__init__(name.encode("gbk").decode("cp437"), date_time=(2023, 3, 28, 10, 0, 0))
        self.compress_type = zipfile.ZIP_DEFLATED

    def _encodeFilenameFlags(self):
        return self.filename.encode("cp437"), self.flag_bits & ~0x800


def xlsx_bytes(unit_line: str = "教育和体育事业中心", rows=EDU_ROWS) -> bytes:
    buf = io.BytesIO()
    write_xlsx(Book([form_sheet(unit_line, rows)]), buf)
    return buf.getvalue()


def make_zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]], *, windows: bool = False,
             compression: int = zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members:
            zf.writestr(WindowsName(name) if windows and isinstance(name, str) else name, data)
    touch_mtime(path, OLD)
    return path


def scan(paths, programme) -> dict[str, FileRecord]:
    return {r.path: r for r in scan_and_identify(paths, programme, max_wait_seconds=0)}


def summary(record: FileRecord) -> tuple:
    return (record.kind, record.status, record.unit, record.reasons, [f.code for f in record.findings])


@pytest.fixture(scope="module")
def scan_pdf(tmp_path_factory, programme) -> bytes:
    """A stamped scan of 教育和体育事业中心's form: one JPEG page in a PDF, as a scanner makes it."""
    content = next(c for c in form_contents(programme, Quarter.parse("2023Q1")) if c.unit_key == "edu_sports")
    sample = make_scan(content, ScanSpec(dpi=150))
    return save_pdf(sample.pages[:1], tmp_path_factory.mktemp("scan") / "scan.pdf", 150).read_bytes()


def test_windows_gbk_names_are_decoded_and_the_zip_is_really_unflagged(tmp_path):
    path = make_zip(tmp_path / "a.zip", [("教体中心季度报表.xlsx", b"x")], windows=True)
    raw = path.read_bytes()
    assert "教体中心季度报表.xlsx".encode("gbk") in raw and "教体中心".encode() not in raw
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
    assert info.flag_bits & 0x800 == 0 and info.filename != "教体中心季度报表.xlsx"
    assert member_name(info) == "教体中心季度报表.xlsx"


@pytest.mark.slow
def test_a_windows_zip_with_the_workbook_and_the_stamped_scan(paths, programme, scan_pdf):
    workbook = xlsx_bytes()
    make_zip(paths.inbox / "报送材料.zip", [("教体中心季度报表.xlsx", workbook), ("盖章件.pdf", scan_pdf)],
             windows=True)
    records = scan(paths, programme)
    assert list(records) == ["报送材料.zip", "报送材料.zip!教体中心季度报表.xlsx", "报送材料.zip!盖章件.pdf"]
    container = records["报送材料.zip"]
    assert summary(container) == ("archive", "ignored", None, [archive_opened("报送材料.zip")], [])
    assert container.format == "zip" and container.archived_as == f"archive/2023Q1/{container.sha256}.zip"
    book = records["报送材料.zip!教体中心季度报表.xlsx"]
    assert summary(book) == ("spreadsheet", "pending", "edu_sports", [], [])
    assert (book.format, book.size, book.mtime) == ("xlsx", len(workbook), container.mtime)
    assert book.sha256 == hashlib.sha256(workbook).hexdigest()
    assert (paths.output_root / book.archived_as).read_bytes() == workbook
    copy = records["报送材料.zip!盖章件.pdf"]
    assert (copy.kind, copy.status, copy.unit, copy.format) == ("stamped_copy", "pending", "edu_sports", "pdf")
    assert copy.sha256 == hashlib.sha256(scan_pdf).hexdigest()
    assert not list(paths.archive.glob(".members-*")), "the extraction folder is removed"


def test_a_zip_in_a_units_folder_gives_its_members_that_folders_evidence(paths, programme):
    make_zip(paths.inbox / "教体中心" / "材料.zip", [
        ("报表.xlsx", xlsx_bytes(unit_line="")),
        ("子目录/", b""),
        ("子目录/说明.txt", b"readme"),
        ("__MACOSX/._报表.xlsx", b"apple"),
        (".DS_Store", b"ds"),
        ("Thumbs.db", b"thumbs"),
    ])
    records = scan(paths, programme)
    prefix = "教体中心/材料.zip!"
    assert records[prefix + "报表.xlsx"].unit == "edu_sports"
    assert records[prefix + "报表.xlsx"].unit_source == "folder"
    assert records[prefix + "报表.xlsx"].status == "pending"
    assert summary(records[prefix + "子目录/"]) == ("other", "ignored", None, [FOLDER_MEMBER], [])
    assert summary(records[prefix + "子目录/说明.txt"]) == (
        "other", "ignored", None, [describe_other(prefix + "子目录/说明.txt")], [])
    hidden = ["隐藏文件或系统文件，不是报表，已忽略。"]
    for name in ("__MACOSX/._报表.xlsx", ".DS_Store", "Thumbs.db"):
        assert summary(records[prefix + name]) == ("hidden", "ignored", None, hidden, []), name
        assert records[prefix + name].sha256 is None, "an ignored member is not extracted"


def test_utf8_flagged_names(paths, programme):
    make_zip(paths.inbox / "u.zip", [("卫健中心报表.xlsx", xlsx_bytes("卫生健康事业中心", rows=[]))])
    with zipfile.ZipFile(paths.inbox / "u.zip") as zf:
        assert zf.infolist()[0].flag_bits & 0x800
    assert "u.zip!卫健中心报表.xlsx" in scan(paths, programme)


def _refused(paths, programme, rel: str, code: str, text: str, *, unit: str | None = None) -> None:
    """Only the zip's own record, rejected with ``text``; the loose workbook beside it is untouched."""
    records = scan(paths, programme)
    assert [p for p in records if p.startswith(rel)] == [rel]
    assert summary(records[rel]) == ("archive", "rejected", unit, [text], [code])
    assert records[rel].sha256 == hashlib.sha256((paths.inbox / rel).read_bytes()).hexdigest()
    assert summary(records["教体中心.xlsx"]) == ("spreadsheet", "pending", "edu_sports", [], [])
    assert not any(p.name.startswith(".members-") for p in paths.archive.iterdir())


@pytest.fixture
def neighbour(paths):
    """A good loose workbook beside each hostile zip."""
    paths.inbox.mkdir(parents=True, exist_ok=True)
    (paths.inbox / "教体中心.xlsx").write_bytes(xlsx_bytes())
    touch_mtime(paths.inbox / "教体中心.xlsx", OLD)


def test_an_encrypted_zip(paths, programme, neighbour):
    path = make_zip(paths.inbox / "卫健中心" / "加密.zip", [("报表.xlsx", xlsx_bytes())])
    data = bytearray(path.read_bytes())
    for header, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(header)
        while at >= 0:
            data[at + flag_at] |= 0x1
            at = data.find(header, at + 4)
    path.write_bytes(bytes(data))
    touch_mtime(path, OLD)
    text = message("archive.encrypted")
    assert text.startswith("压缩包已加密") and "请直接发送表格文件" in text
    _refused(paths, programme, "卫健中心/加密.zip", "archive.encrypted", text, unit="health")


def test_a_member_declaring_more_than_the_file_limit(paths, programme, neighbour):
    make_zip(paths.inbox / "炸弹.zip", [("报表.xlsx", b"\0" * (25 * MIB))])
    _refused(paths, programme, "炸弹.zip", "archive.too_large",
             message("archive.too_large", cause="member", member="报表.xlsx", size_mb=25, limit_mb=20))


def test_a_member_with_a_bomb_ratio(paths, programme, neighbour):
    make_zip(paths.inbox / "比例.zip", [("报表.xlsx", b"\0" * (5 * MIB))])
    with zipfile.ZipFile(paths.inbox / "比例.zip") as zf:
        ratio = zf.infolist()[0].file_size // zf.infolist()[0].compress_size
    _refused(paths, programme, "比例.zip", "archive.too_large",
             message("archive.too_large", cause="ratio", member="报表.xlsx", ratio=ratio))


def test_a_zip_declaring_more_than_the_total_limit(paths, programme, neighbour, monkeypatch):
    monkeypatch.setenv("REPORT_MAX_UNCOMPRESSED_BYTES", str(3 * MIB))
    make_zip(paths.inbox / "大.zip", [(f"{i}.pdf", os.urandom(2 * MIB)) for i in range(2)])
    _refused(paths, programme, "大.zip", "archive.too_large",
             message("archive.too_large", size_mb=4, limit_mb=3))


def test_too_many_members(paths, programme, neighbour):
    make_zip(paths.inbox / "多.zip", [(f"{i}.txt", b"x") for i in range(201)])
    _refused(paths, programme, "多.zip", "archive.too_many_members",
             message("archive.too_many_members", count=201, limit=200))


@pytest.mark.parametrize("name", ["../../教体中心.xlsx", "/etc/教体中心.xlsx", "C:/教体中心.xlsx",
                                  "a\\..\\..\\教体中心.xlsx"])
def test_a_traversal_name_refuses_the_zip_and_nothing_is_written_by_name(paths, programme, neighbour, name):
    make_zip(paths.inbox / "路径.zip", [("好.xlsx", xlsx_bytes()), (name, xlsx_bytes())])
    shown = name.replace("\\", "/")
    _refused(paths, programme, "路径.zip", "archive.unsafe_name", message("archive.unsafe_name", member=shown))
    written = [p for p in paths.output_root.rglob("*") if p.is_file()]
    assert all(re.fullmatch(r"[0-9a-f]{64}\.(xlsx|zip)", p.name) for p in written if p.parent == paths.archive)
    assert [p.name for p in written if "教体中心" in p.name] == []
    assert len([p for p in written if p.suffix == ".xlsx"]) == 1, "only the loose workbook is archived"


def test_a_nested_zip_is_ignored_with_its_reason(paths, programme):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("教体中心.xlsx", xlsx_bytes())
    make_zip(paths.inbox / "外层.zip", [("内层.zip", inner.getvalue()), ("教体中心报表.xlsx", xlsx_bytes())])
    records = scan(paths, programme)
    assert list(records) == ["外层.zip", "外层.zip!内层.zip", "外层.zip!教体中心报表.xlsx"]
    nested = message("archive.nested", member="内层.zip")
    assert summary(records["外层.zip!内层.zip"]) == ("archive", "ignored", None, [nested], ["archive.nested"])
    assert records["外层.zip!教体中心报表.xlsx"].status == "pending"


def test_a_corrupt_zip(paths, programme, neighbour):
    whole = io.BytesIO()
    with zipfile.ZipFile(whole, "w") as zf:
        zf.writestr("教体中心报表.xlsx", xlsx_bytes())
    paths.inbox.mkdir(parents=True, exist_ok=True)
    (paths.inbox / "坏.zip").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    touch_mtime(paths.inbox / "坏.zip", OLD)
    _refused(paths, programme, "坏.zip", "archive.corrupt", message("archive.corrupt"))


def test_a_damaged_member_is_rejected_and_the_others_are_read(paths, programme):
    path = make_zip(paths.inbox / "部分.zip", [("说明.pdf", b"%PDF-" + b"A" * 4000), ("教体中心.xlsx", xlsx_bytes())],
                    compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    assert data.find(b"AAAA") > 0
    data[data.find(b"AAAA")] ^= 0xFF           # the pdf's data no longer matches its CRC
    path.write_bytes(bytes(data))
    touch_mtime(path, OLD)
    records = scan(paths, programme)
    text = message("archive.corrupt", cause="member", member="说明.pdf")
    assert summary(records["部分.zip!说明.pdf"]) == ("spreadsheet", "rejected", None, [text], ["archive.corrupt"])
    assert records["部分.zip!教体中心.xlsx"].status == "pending"
    assert records["部分.zip"].status == "ignored"


def test_a_workbook_is_a_document_not_an_archive(paths, programme, neighbour):
    records = scan(paths, programme)
    assert list(records) == ["教体中心.xlsx"]


def test_a_unit_scan_gives_the_members_of_its_own(paths, programme, monkeypatch):
    make_zip(paths.inbox / "教体中心" / "材料.zip", [("报表.xlsx", xlsx_bytes())], windows=True)
    for accelerators in ("off", "on", "on"):
        monkeypatch.setenv("REPORT_ACCELERATORS", accelerators)
        mine = scan_and_identify(paths, programme, max_wait_seconds=0, unit="edu_sports")
        assert [r.path for r in mine] == ["教体中心/材料.zip!报表.xlsx"], accelerators
        assert scan_and_identify(paths, programme, max_wait_seconds=0, unit="health") == []
