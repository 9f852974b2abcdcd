"""The inbox: noise ignored with reasons, stable files only, archive once, cache reads."""
from __future__ import annotations

import os
import threading
import time
import zipfile

import pytest

from intake.conftest import EDU_ROWS
from intake.corpus import Book, form_sheet, touch_mtime, write, write_corrupt_zip
from wcreport.core.faults import InboxMissing
from wcreport.flow.gather import scan_inbox
from wcreport.intake import reading, scan
from wcreport.intake.scan import scan_and_identify

OLD = time.time() - 3600


def put(paths, rel, data: bytes) -> None:
    target = paths.inbox / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    touch_mtime(target, OLD)


def form(paths, rel, unit_line="教育和体育事业中心", rows=EDU_ROWS, fmt=None, mtime=OLD):
    target = write(Book([form_sheet(unit_line, rows)]), paths.inbox / rel, fmt)
    touch_mtime(target, mtime)
    return target


def by_path(records):
    return {r.path: r for r in records}


def test_a_missing_quarter_folder_fails_but_an_empty_one_means_no_files_yet(paths, programme):
    with pytest.raises(InboxMissing, match="inbox root .* does not exist"):
        scan_and_identify(paths, programme)
    paths.inbox_root.mkdir(parents=True)
    with pytest.raises(InboxMissing, match=r"quarter folder .*2023Q1 does not exist.*mkdir"):
        scan_and_identify(paths, programme)
    paths.inbox.mkdir()
    assert scan_and_identify(paths, programme) == []


def test_noise_is_ignored_each_with_its_reason(paths, programme):
    form(paths, "教体中心 报表（第1季度）#1 & final!.xlsx")
    put(paths, "~$教体中心报表.xlsx", b"\x00" * 165)
    put(paths, ".~lock.教体中心报表.xlsx#", b"lock")
    put(paths, ".DS_Store", b"x")
    put(paths, "sub/.hidden.xlsx", b"x")
    put(paths, "卫健中心报表.xlsx.tmp", b"partial")
    put(paths, "空文件.xlsx", b"")
    put(paths, "报送说明.txt", "请查收".encode())
    put(paths, "扫描件.pdf", b"%PDF-1.4 ...")
    with zipfile.ZipFile(paths.inbox / "说明.docx", "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
    touch_mtime(paths.inbox / "说明.docx", OLD)
    records = scan_and_identify(paths, programme)
    assert [r.path for r in records] == sorted(r.path for r in records)
    got = {r.path: (r.kind, r.status) for r in records}
    assert got == {
        "教体中心 报表（第1季度）#1 & final!.xlsx": ("spreadsheet", "pending"),
        "~$教体中心报表.xlsx": ("lock", "ignored"),
        ".~lock.教体中心报表.xlsx#": ("lock", "ignored"),
        ".DS_Store": ("hidden", "ignored"),
        "sub/.hidden.xlsx": ("hidden", "ignored"),
        "卫健中心报表.xlsx.tmp": ("temporary", "ignored"),
        "空文件.xlsx": ("empty", "ignored"),
        "报送说明.txt": ("other", "ignored"),
        "扫描件.pdf": ("stamped_copy", "rejected"),     # a stamped copy, but a broken PDF
        "说明.docx": ("spreadsheet", "rejected"),     # a Word file is read for its table: this one is broken
    }
    assert "盖章件 PDF 已损坏" in by_path(records)["扫描件.pdf"].reasons[0]
    reasons = {r.path: r.reasons[0] for r in records if r.status == "ignored"}
    assert "锁文件（~$ 开头）" in reasons["~$教体中心报表.xlsx"]
    assert "锁文件（.~lock. 开头）" in reasons[".~lock.教体中心报表.xlsx#"]
    assert "隐藏文件" in reasons["sub/.hidden.xlsx"]
    assert "临时文件（.tmp）" in reasons["卫健中心报表.xlsx.tmp"]
    assert "文件为空（0 字节）" in reasons["空文件.xlsx"]
    assert "Word 文件已损坏" in by_path(records)["说明.docx"].reasons[0]
    good = by_path(records)["教体中心 报表（第1季度）#1 & final!.xlsx"]
    assert (good.unit, good.unit_source, good.format) == ("edu_sports", "unit_line", "xlsx")
    # every file, noise included, is archived exactly once under its hash
    assert all(r.archived_as and r.sha256 and r.archived_as.endswith(r.sha256 + "." + r.archived_as.rsplit(".", 1)[1])
               for r in records)


def test_archive_is_content_addressed_and_idempotent(paths, programme):
    first = form(paths, "a/教体中心.xlsx")
    put(paths, "b/教体中心-副本.xlsx", first.read_bytes())
    records = scan_and_identify(paths, programme)
    assert records[0].sha256 == records[1].sha256
    assert records[0].archived_as == records[1].archived_as == f"archive/2023Q1/{records[0].sha256}.xlsx"
    archived = {p.name: p.stat().st_mtime_ns for p in paths.archive.iterdir()}
    assert len(archived) == 1
    assert (paths.output_root / records[0].archived_as).read_bytes() == first.read_bytes()
    again = scan_and_identify(paths, programme)
    assert [r.model_dump() for r in again] == [r.model_dump() for r in records]
    assert {p.name: p.stat().st_mtime_ns for p in paths.archive.iterdir()} == archived
    assert first.exists()  # the inbox is never touched


def test_second_scan_uses_the_cache(paths, programme, monkeypatch):
    form(paths, "教体中心.xls", fmt="xls")
    first = scan_and_identify(paths, programme)

    def tripwire(*args):
        raise AssertionError("read again")

    monkeypatch.setattr(reading, "parse_report", tripwire)
    assert scan_and_identify(paths, programme) == first


def test_unreadable_and_unidentified_files_are_rejected_with_reasons(paths, programme):
    paths.inbox.mkdir(parents=True)
    write_corrupt_zip(paths.inbox / "卫健中心报表.xlsx")
    touch_mtime(paths.inbox / "卫健中心报表.xlsx", OLD)
    form(paths, "其他单位报表.xlsx", unit_line="某某未列明单位",
         rows=[[1, "实施优质教育资源扩增赋能行动", "某某未列明单位", "已完成。", "12月"]])
    records = by_path(scan_inbox(paths, programme))
    broken = records["卫健中心报表.xlsx"]
    assert (broken.status, broken.unit, broken.unit_source) == ("rejected", "health", "file_name")
    assert "文件已损坏" in broken.reasons[0] and broken.findings[0].code == "zip.corrupt"
    stranger = records["其他单位报表.xlsx"]
    assert (stranger.status, stranger.unit) == ("rejected", None)
    assert "不是本次实事的责任单位" in stranger.reasons[0] and "「某某未列明单位」" in stranger.reasons[0]
    page = (paths.output_root / stranger.feedback).read_text(encoding="utf-8")
    assert "其他单位报表.xlsx" in page and "不是本次实事的责任单位" in page


def test_waits_for_a_file_still_being_written(paths, programme):
    source = write(Book([form_sheet("教育和体育事业中心", EDU_ROWS)]), paths.output_root / "src.xlsx")
    data = source.read_bytes()
    target = paths.inbox / "教体中心.xlsx"
    target.parent.mkdir(parents=True)

    def slow_copy():
        with open(target, "wb") as fh:
            for i in range(0, len(data), len(data) // 6 + 1):
                fh.write(data[i:i + len(data) // 6 + 1])
                fh.flush()
                time.sleep(0.15)

    writer = threading.Thread(target=slow_copy)
    writer.start()
    time.sleep(0.05)
    try:
        records = scan_and_identify(paths, programme, stable_seconds=0.4, max_wait_seconds=10)
    finally:
        writer.join()
    (record,) = records
    assert record.size == len(data)
    assert (record.status, record.unit) == ("pending", "edu_sports")


def test_gives_up_on_a_file_that_keeps_changing(paths, programme):
    target = paths.inbox / "教体中心.xlsx"
    target.parent.mkdir(parents=True)
    stop = threading.Event()

    def keep_writing():
        with open(target, "wb") as fh:
            while not stop.is_set():
                fh.write(b"PK")
                fh.flush()
                time.sleep(0.05)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    time.sleep(0.1)
    try:
        (record,) = scan_and_identify(paths, programme, stable_seconds=0.3, max_wait_seconds=0.6)
    finally:
        stop.set()
        writer.join()
    assert record.status == "ignored" and record.sha256 is None
    assert "仍在写入" in record.reasons[0]
    assert not paths.archive.exists() or not any(paths.archive.iterdir())
    os.utime(target, (OLD, OLD))


def test_an_internal_error_names_the_programmes_organiser(paths, programme, monkeypatch):
    report = programme.report.model_copy(update={"organiser": "某某办公室"})
    other = programme.model_copy(update={"report": report})
    form(paths, "教体中心.xlsx")

    def broken(*args):
        raise RuntimeError("bug")

    monkeypatch.setattr(scan, "process_file", broken)
    (record,) = scan_and_identify(paths, other)
    assert record.status == "rejected" and record.findings[0].code == "file.internal_error"
    assert record.reasons == ["处理该文件时发生内部错误，请另存为 .xlsx 后重新报送，或联系某某办公室。"]
