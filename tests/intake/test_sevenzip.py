"""A .7z a unit sends (written by py7zr, as 7-Zip writes them) is opened like a .zip: each
member a record of its own (``x.7z!member``), under the same limits, each refusal with its
own Chinese reason and nothing else in the inbox affected. A .rar is refused: 「请改用 .zip」."""
from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import py7zr
import pytest

from intake.corpus import touch_mtime
from intake.test_archives import OLD, _refused, neighbour, scan, summary, xlsx_bytes  # noqa: F401 (a fixture)
from wcreport.core.findings_catalogue import message
from wcreport.intake.archives import archive_opened
from wcreport.intake.sevenzip import RAR_MAGIC

MIB = 1024 * 1024
STORED = [{"id": py7zr.FILTER_COPY}]


def make_7z(path: Path, members: list[tuple[str, bytes]], *, password: str | None = None,
            filters: list[dict] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with py7zr.SevenZipFile(path, "w", password=password, header_encryption=bool(password), filters=filters) as archive:
        for name, data in members:
            archive.writestr(data, name)
    touch_mtime(path, OLD)
    return path


def test_a_7z_with_two_units_workbooks(paths, programme):
    workbook = xlsx_bytes()
    other = xlsx_bytes("卫生健康事业中心", rows=[])
    make_7z(paths.inbox / "报送材料.7z", [("教体中心季度报表.xlsx", workbook), ("卫健/卫健中心报表.xlsx", other)])
    records = scan(paths, programme)
    assert set(records) == {"报送材料.7z", "报送材料.7z!教体中心季度报表.xlsx", "报送材料.7z!卫健/卫健中心报表.xlsx"}
    container = records["报送材料.7z"]
    assert summary(container) == ("archive", "ignored", None, [archive_opened("报送材料.7z")], [])
    assert container.format == "7z" and container.archived_as == f"archive/2023Q1/{container.sha256}.7z"
    book = records["报送材料.7z!教体中心季度报表.xlsx"]
    assert summary(book) == ("spreadsheet", "pending", "edu_sports", [], [])
    assert (book.format, book.size, book.sha256) == ("xlsx", len(workbook), hashlib.sha256(workbook).hexdigest())
    assert (paths.output_root / book.archived_as).read_bytes() == workbook
    assert records["报送材料.7z!卫健/卫健中心报表.xlsx"].unit == "health"
    assert not list(paths.archive.glob(".members-*")), "the extraction folder is removed"


def test_an_encrypted_7z(paths, programme, neighbour):
    make_7z(paths.inbox / "卫健中心" / "加密.7z", [("报表.xlsx", xlsx_bytes())], password="123456")
    _refused(paths, programme, "卫健中心/加密.7z", "archive.encrypted", message("archive.encrypted"), unit="health")


def test_a_7z_with_only_its_contents_encrypted(paths, programme, neighbour, tmp_path):
    with py7zr.SevenZipFile(paths.inbox / "内容加密.7z", "w", password="123456") as archive:
        archive.writestr(xlsx_bytes(), "报表.xlsx")
    touch_mtime(paths.inbox / "内容加密.7z", OLD)
    _refused(paths, programme, "内容加密.7z", "archive.encrypted", message("archive.encrypted"))


def test_a_7z_bomb_ratio_is_refused_before_decompressing(paths, programme, neighbour, monkeypatch):
    make_7z(paths.inbox / "比例.7z", [("报表.xlsx", b"\0" * (5 * MIB))])
    monkeypatch.setattr(py7zr.SevenZipFile, "extract", lambda *a, **k: pytest.fail("decompressed a bomb"))
    ratio = 5 * MIB // (paths.inbox / "比例.7z").stat().st_size
    _refused(paths, programme, "比例.7z", "archive.too_large",
             message("archive.too_large", cause="ratio", member="报表.xlsx", ratio=ratio))


def test_a_7z_member_declaring_more_than_the_file_limit(paths, programme, neighbour):
    make_7z(paths.inbox / "大.7z", [("报表.pdf", os.urandom(21 * MIB))], filters=STORED)
    _refused(paths, programme, "大.7z", "archive.too_large",
             message("archive.too_large", cause="member", member="报表.pdf", size_mb=21, limit_mb=20))


def test_too_many_members_in_a_7z(paths, programme, neighbour):
    make_7z(paths.inbox / "多.7z", [(f"{i}.txt", b"x") for i in range(201)])
    _refused(paths, programme, "多.7z", "archive.too_many_members",
             message("archive.too_many_members", count=201, limit=200))


def with_a_traversal_name(path: Path, placeholder: str, name: str) -> None:
    """py7zr refuses to write ``../`` names, so one is patched into an uncompressed header
    (UTF-16 names) and the header's CRCs are made right again, as a hand-made archive has them."""
    data = bytearray(path.read_bytes())
    at = data.find(placeholder.encode("utf-16-le"))
    assert at > 0 and len(placeholder) == len(name)
    data[at:at + 2 * len(name)] = name.encode("utf-16-le")
    offset, size = struct.unpack_from("<QQ", data, 12)
    struct.pack_into("<I", data, 28, zlib.crc32(data[32 + offset:32 + offset + size]))
    struct.pack_into("<I", data, 8, zlib.crc32(data[12:32]))
    path.write_bytes(bytes(data))
    touch_mtime(path, OLD)


def test_a_traversal_name_refuses_the_7z(paths, programme, neighbour):
    path = paths.inbox / "路径.7z"
    paths.inbox.mkdir(parents=True, exist_ok=True)
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.set_encoded_header_mode(False)
        archive.writestr(xlsx_bytes(), "好.xlsx")
        archive.writestr(xlsx_bytes(), "xx/xx/教体中心.xlsx")
    with_a_traversal_name(path, "xx/xx/", "../../")
    with py7zr.SevenZipFile(path) as archive:
        assert "../../教体中心.xlsx" in archive.getnames()
    _refused(paths, programme, "路径.7z", "archive.unsafe_name",
             message("archive.unsafe_name", member="../../教体中心.xlsx"))


def test_a_corrupt_7z(paths, programme, neighbour):
    whole = make_7z(paths.inbox / "整.7z", [("教体中心报表.xlsx", xlsx_bytes())]).read_bytes()
    (paths.inbox / "整.7z").unlink()
    (paths.inbox / "坏.7z").write_bytes(whole[: len(whole) // 2])
    touch_mtime(paths.inbox / "坏.7z", OLD)
    _refused(paths, programme, "坏.7z", "archive.corrupt", message("archive.corrupt"))


def damaged_7z(path: Path, order: list[str]) -> Path:
    """A stored .7z of a workbook and a PDF (in ``order``) whose PDF bytes no longer match their CRC."""
    contents = {"说明.pdf": b"%PDF-" + b"A" * 4000, "教体中心.xlsx": xlsx_bytes()}
    make_7z(path, [(name, contents[name]) for name in order], filters=STORED)
    data = bytearray(path.read_bytes())
    data[data.find(b"AAAA")] ^= 0xFF
    path.write_bytes(bytes(data))
    touch_mtime(path, OLD)
    return path


def test_a_damaged_7z_member_is_rejected_and_the_one_before_it_is_read(paths, programme):
    damaged_7z(paths.inbox / "部分.7z", ["教体中心.xlsx", "说明.pdf"])
    records = scan(paths, programme)
    text = message("archive.corrupt", cause="member", member="说明.pdf")
    assert summary(records["部分.7z!说明.pdf"]) == ("spreadsheet", "rejected", None, [text], ["archive.corrupt"])
    assert records["部分.7z!教体中心.xlsx"].status == "pending"
    assert records["部分.7z"].status == "ignored"


def test_members_after_a_damaged_one_in_a_solid_block_are_each_rejected_by_name(paths, programme):
    """7-Zip compresses members as one stream: py7zr stops at the first bad one, so what
    follows it cannot be read, and each such member says so under its own name."""
    damaged_7z(paths.inbox / "部分.7z", ["说明.pdf", "教体中心.xlsx"])
    records = scan(paths, programme)
    for name in ("说明.pdf", "教体中心.xlsx"):
        text = message("archive.corrupt", cause="member", member=name)
        assert summary(records[f"部分.7z!{name}"]) == ("spreadsheet", "rejected", None, [text], ["archive.corrupt"])


def test_archives_inside_a_7z_and_a_7z_inside_a_zip_are_not_opened(paths, programme):
    inner = io.BytesIO()
    with py7zr.SevenZipFile(inner, "w") as archive:
        archive.writestr(xlsx_bytes(), "教体中心.xlsx")
    paths.inbox.mkdir(parents=True)
    with zipfile.ZipFile(paths.inbox / "外层.zip", "w") as zf:
        zf.writestr("内层.7z", inner.getvalue())
    touch_mtime(paths.inbox / "外层.zip", OLD)
    make_7z(paths.inbox / "外层.7z", [("内层.7z", inner.getvalue())])
    records = scan(paths, programme)
    for rel in ("外层.zip!内层.7z", "外层.7z!内层.7z"):
        nested = message("archive.nested", member="内层.7z")
        assert summary(records[rel]) == ("archive", "ignored", None, [nested], ["archive.nested"]), rel


def test_a_rar_is_refused_asking_for_a_zip(paths, programme, neighbour):
    paths.inbox.mkdir(parents=True, exist_ok=True)
    (paths.inbox / "报送材料.rar").write_bytes(RAR_MAGIC + b"\x01\x00" + os.urandom(300))
    touch_mtime(paths.inbox / "报送材料.rar", OLD)
    text = message("archive.unsupported", cause="rar")
    assert "请改用 .zip" in text
    _refused(paths, programme, "报送材料.rar", "archive.unsupported", text)
