"""The accelerators change how fast intake runs, never what it finds.

Every scan of the intake corpora (the quarter's whole inbox, and each unit's scan) gives
the same records with ``REPORT_ACCELERATORS`` on, from a cold and from a warm cache, as
with it off; and with it off no cache file is read or written.
"""
from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from intake.conftest import EDU_ROWS
from intake.corpus import Book, form_sheet, touch_mtime, write
from intake.test_archives import make_zip, xlsx_bytes
from intake.test_corpus_dag import build_corpus
from wcreport.core.quarter import Quarter
from wcreport.core.settings import quarter_paths
from wcreport.demo.sample import SampleOptions, write_quarter_samples
from wcreport.intake.reading import read_report, read_stamped
from wcreport.intake.scan import scan_and_identify

OLD = time.time() - 3600


def _extras(paths) -> None:
    """What the corpora leave out: unit folders, links, a file dated in the future, a .tif scan, a .docx, zips."""
    def form(rel, unit_line="教育和体育事业中心", mtime=OLD):
        touch_mtime(write(Book([form_sheet(unit_line, EDU_ROWS)]), paths.inbox / rel), mtime)

    form("教体中心/更正版.xlsx")
    form("卫健中心/第一批/教体中心.xlsx")                  # a folder of another unit: refused
    form("四宝山、中埠镇/报表.xlsx")                       # a folder naming two units
    form("未来/教体中心.xlsx", mtime=time.time() + 2 * 86400)
    for name, data in (("盖章件.tif", b"II*\x00scan"), ("说明.docx", b"PK\x03\x04doc")):
        (paths.inbox / name).write_bytes(data)
        touch_mtime(paths.inbox / name, OLD)
    # zips: in a unit's folder (GBK names, as Windows writes them), loose, and one refused
    make_zip(paths.inbox / "教体中心" / "材料.zip", [("教体中心报表.xlsx", xlsx_bytes()), ("Thumbs.db", b"t")],
             windows=True)
    make_zip(paths.inbox / "两个单位.zip", [("教体中心.xlsx", xlsx_bytes()),
                                          ("卫健中心.xlsx", xlsx_bytes("卫生健康事业中心", rows=[]))])
    make_zip(paths.inbox / "卫健中心" / "太多.zip", [(f"{i}.txt", b"x") for i in range(201)])
    os.symlink(paths.inbox / "教体中心", paths.inbox / "链接")
    os.symlink(paths.inbox / "nowhere.xlsx", paths.inbox / "断开的链接.xlsx")


@pytest.fixture(params=["corpus", "samples"])
def inbox(request, tmp_path, programme):
    paths = quarter_paths("2023Q1", tmp_path / "inbox", tmp_path / "output")
    if request.param == "corpus":
        build_corpus(programme, paths.inbox)
    else:
        for path in write_quarter_samples(programme, Quarter.parse("2023Q1"), paths.inbox_root,
                                          SampleOptions(faulty=True)):
            touch_mtime(path, OLD)
    _extras(paths)
    return paths


def scans(paths, programme, *, cold: bool = False) -> dict[str, list[dict]]:
    """The full scan and every unit's scan, as dumps; ``cold``: each from an empty cache."""
    found = {}
    for unit in [None, *(u.key for u in programme.units)]:
        if cold:
            shutil.rmtree(paths.output / "cache", ignore_errors=True)
        records = scan_and_identify(paths, programme, max_wait_seconds=0, unit=unit)
        found[unit or ""] = [r.model_dump() for r in records]
    return found


def _cache_files(paths) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(paths.output).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted((paths.output / "cache").rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_the_records_are_the_same_with_accelerators_on_cold_warm_and_off(inbox, programme, monkeypatch):
    monkeypatch.setenv("REPORT_ACCELERATORS", "off")
    plain = scans(inbox, programme)         # first: it makes the archive copies (and their first-seen times)
    assert not (inbox.output / "cache").exists()
    assert len(plain[""]) > 20
    members = {unit: [r["path"] for r in records if ".zip!" in r["path"]] for unit, records in plain.items()}
    assert members["edu_sports"] == ["两个单位.zip!教体中心.xlsx", "教体中心/材料.zip!教体中心报表.xlsx"]
    assert members["health"] == ["两个单位.zip!卫健中心.xlsx"]
    assert {r["path"]: r["status"] for r in plain["health"]}["卫健中心/太多.zip"] == "rejected"
    monkeypatch.setenv("REPORT_ACCELERATORS", "on")
    assert scans(inbox, programme, cold=True) == plain
    scan_and_identify(inbox, programme, max_wait_seconds=0)
    assert scans(inbox, programme) == plain      # warm
    assert scans(inbox, programme) == plain      # warm, listings and owners kept too
    assert list((inbox.output / "cache").glob("scan-*/index.json"))


def _poison(paths) -> None:
    """Every cache file rewritten to say something else: a scan that reads one shows it."""
    for path in (paths.output / "cache").rglob("*.json"):
        data = json.loads(path.read_bytes())
        if path.parent.name.startswith("scan-") and path.name.startswith("unit-"):
            for entry in data["files"].values():
                entry["record"]["reasons"] = ["POISON"]
        elif "-stamped-" in path.name:
            data["reasons"] = ["POISON"]
        elif "parsed" in data:
            data.update(parsed=None, error={"code": "file.corrupt", "reason": "POISON"})
        else:
            continue
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.mark.slow
def test_with_accelerators_off_no_cache_file_is_read_or_written(tmp_path, programme, monkeypatch):
    paths = quarter_paths("2023Q1", tmp_path / "inbox", tmp_path / "output")
    build_corpus(programme, paths.inbox)
    expected = scans(paths, programme)               # on: the caches are made
    _poison(paths)
    before = _cache_files(paths)
    assert any(b"POISON" in data for data, _mtime in before.values())
    monkeypatch.setenv("REPORT_ACCELERATORS", "off")
    assert scans(paths, programme) == expected
    for record in scan_and_identify(paths, programme, max_wait_seconds=0):
        if record.kind == "spreadsheet" and record.archived_as and record.format:
            _fmt, _parsed, error = read_report(paths, programme, record.sha256, paths.output_root / record.archived_as)
            assert error is None or error.reason != "POISON"
        if record.kind == "stamped_copy":
            copy = read_stamped(paths, record.sha256, paths.output_root / record.archived_as, record.path)
            assert "POISON" not in copy.reasons
    assert _cache_files(paths) == before
