"""The inbox's stat cache: a rescan redoes only new or changed files, a unit's scan reads only its own."""
from __future__ import annotations

import json
import os
import shutil
import threading
import time

import pytest

from intake.conftest import EDU_ROWS
from intake.corpus import Book, form_sheet, touch_mtime, write
from wcreport.core.findings_catalogue import finding
from wcreport.core.model import StampedCopy
from wcreport.core.quarter import Quarter
from wcreport.demo.sample import SampleOptions, write_quarter_samples
from wcreport.intake import classify, scan, stamped
from wcreport.intake.accelerators import stat_cache
from wcreport.intake.scan import scan_and_identify

OLD = time.time() - 3600
HEALTH_ROWS = [[5, "实施“心希望”健康服务行动", "卫生健康服务中心", "开展筛查2次。", "2023年12月"]]


def form(paths, rel, unit_line="教育和体育事业中心", rows=EDU_ROWS, mtime=OLD):
    target = write(Book([form_sheet(unit_line, rows)]), paths.inbox / rel)
    touch_mtime(target, mtime)
    return target


def dumps(records):
    return [r.model_dump() for r in records]


def cache_folder(paths):
    (folder,) = (paths.output / "cache").glob("scan-*")
    return folder


@pytest.fixture
def calls(monkeypatch):
    """Counts of the per-file work: archive (copy+hash), parse cache, identify, process, records deserialised."""
    modules = {"archive_file": scan, "read_report": scan, "identify_unit": scan, "process_file": scan,
               "cached_record": stat_cache, "read_entries": stat_cache}
    counts = dict.fromkeys(modules, 0)

    def counting(name):
        real = getattr(modules[name], name)

        def wrapper(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(modules[name], name, wrapper)

    for name in counts:
        counting(name)

    def reset():
        for name in counts:
            counts[name] = 0
    return counts, reset


def test_an_unchanged_inbox_is_not_processed_again(paths, programme, calls):
    counts, reset = calls
    form(paths, "教体中心.xlsx")
    form(paths, "卫健/季度报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    (paths.inbox / "说明.txt").write_text("请查收", encoding="utf-8")
    touch_mtime(paths.inbox / "说明.txt", OLD)
    first = scan_and_identify(paths, programme)
    assert counts["archive_file"] == 3 and counts["identify_unit"] == 2
    reset()
    again = scan_and_identify(paths, programme)
    assert dumps(again) == dumps(first)
    assert (counts["archive_file"], counts["read_report"], counts["identify_unit"], counts["process_file"]) == (0, 0, 0, 0)
    assert counts["cached_record"] == 3
    reset()
    (edu,) = scan_and_identify(paths, programme, unit="edu_sports")
    assert edu == next(r for r in first if r.unit == "edu_sports")
    assert (counts["process_file"], counts["cached_record"]) == (0, 1)


def test_a_units_scan_is_the_full_scans_records_of_that_unit(paths, programme, calls):
    counts, _reset = calls
    quarter = Quarter.parse("2023Q1")
    for path in write_quarter_samples(programme, quarter, paths.inbox_root, SampleOptions(faulty=True)):
        if path.stat().st_mtime > OLD:
            touch_mtime(path, OLD)                       # the lock file and the note: no wait for them
    form(paths, "教体中心/更正版.xlsx")                 # a second edu file, found by its folder too
    full = scan_and_identify(paths, programme)
    assert {r.unit for r in full} >= {u.key for u in programme.units}
    for unit in programme.units:
        mine = scan_and_identify(paths, programme, unit=unit.key)
        assert dumps(mine) == dumps([r for r in full if r.unit == unit.key]), unit.key
        assert mine
    assert counts["process_file"] == len([r for r in full if r.sha256])    # each file processed once, in the full scan
    shutil.rmtree(paths.output / "cache")                # a cold cache: the unit's scan processes every file
    cold = scan_and_identify(paths, programme, unit="edu_sports")
    assert dumps(cold) == dumps([r for r in full if r.unit == "edu_sports"]) and len(cold) == 2
    assert dumps(scan_and_identify(paths, programme)) == dumps(full)


def test_a_replaced_added_or_deleted_file_is_seen(paths, programme, calls):
    counts, reset = calls
    edu = form(paths, "教体中心.xlsx")
    health = form(paths, "卫健中心报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    form(paths, "其他/某单位.xlsx", unit_line="组织人事部")
    scan_and_identify(paths, programme)
    # same name, new content: the unit's file replaced by another unit's form
    form(paths, "教体中心.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    # in place, same size and the same mtime: only the change time tells (no unit line: the name says health)
    data = b"PK\x03\x04" + b"\xff" * (health.stat().st_size - 4)
    size_before, mtime_before, ino_before = health.stat().st_size, health.stat().st_mtime_ns, health.stat().st_ino
    time.sleep(0.01)
    with open(health, "r+b") as fh:
        fh.write(data)
    os.utime(health, ns=(mtime_before, mtime_before))
    assert (health.stat().st_size, health.stat().st_mtime_ns, health.stat().st_ino) == (
        size_before, mtime_before, ino_before)
    form(paths, "更正/教体中心 更正.xlsx")                # a new file in another folder
    (paths.inbox / "其他" / "某单位.xlsx").unlink()
    reset()
    mine = {r.path: r for r in scan_and_identify(paths, programme, unit="health")}
    assert set(mine) == {"教体中心.xlsx", "卫健中心报表.xlsx"}
    assert mine["教体中心.xlsx"].status == "pending"
    assert mine["卫健中心报表.xlsx"].status == "rejected" and mine["卫健中心报表.xlsx"].unit_source == "file_name"
    assert counts["process_file"] == 3                       # the changed and the new files only, whoever's they are
    edu_records = scan_and_identify(paths, programme, unit="edu_sports")
    assert [r.path for r in edu_records] == ["更正/教体中心 更正.xlsx"]
    assert scan_and_identify(paths, programme, unit="org_personnel") == []
    full = scan_and_identify(paths, programme)
    assert [r.path for r in full] == ["卫健中心报表.xlsx", "教体中心.xlsx", "更正/教体中心 更正.xlsx"]
    index = json.loads((cache_folder(paths) / "index.json").read_text(encoding="utf-8"))["files"]
    assert "其他/某单位.xlsx" not in index
    assert edu.exists()


def fake_stamped(counter, *, transient=False):
    def read(path, name, config):
        counter.append(name)
        findings = [finding("stamped.tool.missing", tool="tesseract-ocr")] if transient else []
        return StampedCopy(path=name, format="pdf", readable=True, unit_line="教育和体育事业中心",
                           findings=findings, reasons=[f.message for f in findings])
    return read


def scan_pdf(paths, rel="教体中心盖章件.pdf"):
    target = paths.inbox / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"%PDF-1.4\n%%EOF\n")
    touch_mtime(target, OLD)


def test_a_programme_or_stamped_settings_change_invalidates(paths, programme, calls, monkeypatch):
    counts, reset = calls
    read = []
    monkeypatch.setattr(stamped, "read_stamped_copy", fake_stamped(read))
    form(paths, "教体中心.xlsx")
    scan_pdf(paths)
    first = scan_and_identify(paths, programme)
    assert [r.kind for r in first] == ["spreadsheet", "stamped_copy"] and len(read) == 1
    reset()
    assert dumps(scan_and_identify(paths, programme)) == dumps(first) and counts["process_file"] == 0
    monkeypatch.setenv("REPORT_OCR_DPI", "300")          # another reading: the copy is read again
    reset()
    again = scan_and_identify(paths, programme, unit="edu_sports")
    assert counts["process_file"] == 2 and len(read) == 2 and dumps(again) == dumps(first)
    reset()
    scan_and_identify(paths, programme, unit="edu_sports")
    assert counts["process_file"] == 0
    report = programme.report.model_copy(update={"organiser": "某某办公室"})
    other = programme.model_copy(update={"report": report})
    reset()
    scan_and_identify(paths, other, unit="edu_sports")
    assert counts["process_file"] == 2 and counts["identify_unit"] == 2


def test_what_may_differ_next_time_is_never_cached(paths, programme, calls, monkeypatch):
    counts, reset = calls
    read = []
    monkeypatch.setattr(stamped, "read_stamped_copy", fake_stamped(read, transient=True))
    scan_pdf(paths)
    form(paths, "教体中心.xlsx")
    real_identify = scan.identify_unit

    def flaky(parsed, name, programme, **kwargs):
        if name.endswith(".xlsx"):
            raise RuntimeError("bug")
        return real_identify(parsed, name, programme, **kwargs)

    monkeypatch.setattr(scan, "identify_unit", flaky)
    records = scan_and_identify(paths, programme)
    assert [f.code for r in records for f in r.findings] == ["file.internal_error", "stamped.tool.missing"]
    reset()
    scan_and_identify(paths, programme)
    assert counts["process_file"] == 2 and len(read) == 2    # both processed again
    busy = paths.inbox / "正在写入.xlsx"
    busy.write_bytes(b"PK")                             # just written: still being written with no wait
    (record,) = [r for r in scan_and_identify(paths, programme, max_wait_seconds=0) if r.path == busy.name]
    assert classify.still_being_written(record)
    assert not list((paths.output / "cache").glob("scan-*/*.json"))


def test_a_damaged_cache_is_ignored_and_rebuilt(paths, programme, calls):
    counts, reset = calls
    form(paths, "教体中心.xlsx")
    form(paths, "卫健中心报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    first = scan_and_identify(paths, programme)
    folder = cache_folder(paths)
    group = folder / "unit-edu_sports.json"
    entries = json.loads(group.read_text(encoding="utf-8"))
    entries["files"]["教体中心.xlsx"]["record"]["status"] = "no such status"
    group.write_text(json.dumps(entries), encoding="utf-8")
    reset()
    assert scan_and_identify(paths, programme, unit="edu_sports") == [first[1]]
    assert counts["process_file"] == 1                       # an invalid record is a miss
    for damaged in (b"{\"files\": [", b"\xff\xfe", b"[]", b"{\"files\": {\"x\": 1}}"):
        (folder / "index.json").write_bytes(damaged)
        group.write_bytes(damaged)
        reset()
        assert dumps(scan_and_identify(paths, programme, unit="edu_sports")) == dumps([first[1]])
        assert counts["process_file"] == 2
        assert dumps(scan_and_identify(paths, programme)) == dumps(first)
    json.loads((folder / "index.json").read_text(encoding="utf-8"))     # rewritten whole
    reset()
    assert dumps(scan_and_identify(paths, programme)) == dumps(first) and counts["process_file"] == 0


def test_an_archive_copy_moved_aside_is_copied_again(paths, programme):
    form(paths, "教体中心.xlsx")
    (record,) = scan_and_identify(paths, programme)
    archived = paths.output_root / record.archived_as
    archived.rename(archived.with_name("aside"))
    assert scan_and_identify(paths, programme, unit="edu_sports") == [record]
    assert archived.exists()


def test_a_clamped_future_time_is_recomputed_once_it_has_passed(paths, programme, monkeypatch):
    target = form(paths, "教体中心.xlsx", mtime=time.time() + 2 * 86400)
    (record,) = scan_and_identify(paths, programme)
    assert "晚于当前时间" in record.reasons[-1]
    assert scan_and_identify(paths, programme, unit="edu_sports") == [record]
    later = time.time() + 3 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    (now,) = scan_and_identify(paths, programme, unit="edu_sports")
    assert now.mtime == target.stat().st_mtime and now.reasons == []


def inbox_of(paths, programme, n_others: int) -> None:
    """One edu form and ``n_others`` files of other units (copies of one health form, by name)."""
    form(paths, "教体中心.xlsx")
    health = form(paths, "卫健中心报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    for i in range(n_others - 1):
        copy = paths.inbox / f"其他/卫健中心报表-{i:03d}.xlsx"
        copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(health, copy)
        touch_mtime(copy, OLD)


@pytest.mark.parametrize("n_others", [15, 200])
def test_a_units_scan_does_work_only_for_its_own_files(tmp_path, programme, calls, n_others):
    from wcreport.core.settings import quarter_paths

    counts, reset = calls
    paths = quarter_paths("2023Q1", tmp_path / "inbox", tmp_path / "output")
    inbox_of(paths, programme, n_others)
    assert len(scan_and_identify(paths, programme)) == n_others + 1
    reset()
    (mine,) = scan_and_identify(paths, programme, unit="edu_sports")
    assert mine.unit == "edu_sports"
    # the same work at 15 and at 200 other files: the index, one unit's records, the folder
    # listings (none kept: the inbox was just written) and the folder owners (none known yet,
    # then read again to add the folder "其他" it looked at)
    assert {k: v for k, v in counts.items() if v} == {"cached_record": 1, "read_entries": 1 + 1 + 1 + 2}
    for reads in (3, 2):        # records, listings and the owners it wrote, then records and listings
        # (an unchanged index is read once)
        reset()
        assert scan_and_identify(paths, programme, unit="edu_sports") == [mine]
        assert {k: v for k, v in counts.items() if v} == {"cached_record": 1, "read_entries": reads}
    form(paths, "其他/卫健中心报表-000.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS,
         mtime=OLD + 1)                                  # another unit's file changed: processed once
    reset()
    assert scan_and_identify(paths, programme, unit="edu_sports") == [mine]
    assert (counts["process_file"], counts["cached_record"]) == (1, 1)
    reset()
    assert scan_and_identify(paths, programme, unit="edu_sports") == [mine]
    assert (counts["process_file"], counts["cached_record"]) == (0, 1)


def test_concurrent_unit_scans_agree_with_a_full_scan(paths, programme):
    write_quarter_samples(programme, Quarter.parse("2023Q1"), paths.inbox_root)
    scan_and_identify(paths, programme)
    for path in sorted(paths.inbox.iterdir())[:5]:      # five files changed since gather
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)
        touch_mtime(path, OLD)
    expected = {u.key: [r for r in scan_and_identify(paths.__class__(paths.quarter, paths.inbox_root,
                                                                      paths.output_root / "fresh"), programme)
                        if r.unit == u.key] for u in programme.units}
    got, errors = {}, []

    def ingest(key):
        try:
            got[key] = scan_and_identify(paths, programme, unit=key)
        except Exception as exc:     # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(u.key,)) for u in programme.units]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for key, records in expected.items():
        assert [(r.path, r.sha256, r.unit, r.status, r.mtime) for r in got[key]] == \
               [(r.path, r.sha256, r.unit, r.status, r.mtime) for r in records], key
    full = scan_and_identify(paths, programme)
    assert [(r.path, r.sha256, r.unit) for r in full] == \
           sorted([(r.path, r.sha256, r.unit) for rs in expected.values() for r in rs])


def test_a_lost_update_costs_recomputation_never_a_wrong_record(paths, programme, calls):
    counts, reset = calls
    form(paths, "教体中心.xlsx")
    (old,) = scan_and_identify(paths, programme)
    group = cache_folder(paths) / "unit-edu_sports.json"
    stale = group.read_bytes()
    form(paths, "教体中心.xlsx", rows=EDU_ROWS[:2])        # a correction: same name and mtime
    (new,) = scan_and_identify(paths, programme, unit="edu_sports")
    assert new.sha256 != old.sha256
    group.write_bytes(stale)        # a slower writer put back the records it had read: the index is newer
    reset()
    assert scan_and_identify(paths, programme, unit="edu_sports") == [new]
    assert counts["process_file"] == 1


def draft(paths, unit_line="教育和体育事业中心", rows=EDU_ROWS):
    """A form written outside the inbox."""
    return write(Book([form_sheet(unit_line, rows)]), paths.output_root.parent / "drafts" / "草稿.xlsx")


def overwrite_in_place(target, source):
    """``target`` gets ``source``'s bytes in the same inode (a copy over a file of the same name):
    its folder's mtime does not change."""
    folder_mtime = target.parent.stat().st_mtime_ns
    inode = target.stat().st_ino
    data = source.read_bytes()
    source.unlink()
    with open(target, "r+b") as fh:
        fh.write(data)
        fh.truncate()
    touch_mtime(target, OLD + 60)
    assert target.stat().st_ino == inode and target.parent.stat().st_mtime_ns == folder_mtime


@pytest.fixture
def looked_at(monkeypatch):
    """The inbox folders listed and the paths stat'ed, as absolute paths (a directory entry can
    only be stat'ed through its folder's listing or descriptor)."""
    seen = {"listed": [], "stat": []}
    real = {name: getattr(os, name) for name in ("open", "scandir", "stat", "lstat")}
    folders: dict[int, str] = {}

    def opened(path, flags, *args, **kwargs):
        fd = real["open"](path, flags, *args, **kwargs)
        folders[fd] = os.fspath(path)
        return fd

    def listed(path="."):
        seen["listed"].append(folders.get(path, "?") if isinstance(path, int) else os.fspath(path))
        return real["scandir"](path)

    def stat(name):
        def wrapper(path, *args, dir_fd=None, **kwargs):
            where = os.fspath(path) if dir_fd is None else os.path.join(folders.get(dir_fd, "?"), path)
            seen["stat"].append(where)
            return real[name](path, *args, dir_fd=dir_fd, **kwargs)
        return wrapper

    monkeypatch.setattr(os, "open", opened)
    monkeypatch.setattr(os, "scandir", listed)
    monkeypatch.setattr(os, "stat", stat("stat"))
    monkeypatch.setattr(os, "lstat", stat("lstat"))
    return seen


UNIDENTIFIED_ROWS = [[1, "实施优质教育资源扩增赋能行动", "", "新建幼儿园1所。", "2023年12月"]]


def edu_records(paths, programme):
    return scan_and_identify(paths, programme, unit="edu_sports")


def test_a_units_scan_does_not_look_into_another_units_folder(paths, programme, calls, looked_at):
    counts, reset = calls
    form(paths, "教体中心/季度报表.xlsx")
    health = form(paths, "卫健中心/季度报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    form(paths, "卫健中心/第一批/季度报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    form(paths, "四宝山、中埠镇/季度报表.xlsx")        # a folder naming two units refuses its files
    first = scan_and_identify(paths, programme)
    # health's file rewritten in place with edu's form, and a new file there: the folder still
    # says health, so both are health's or refused, never edu's
    overwrite_in_place(health, draft(paths))
    form(paths, "卫健中心/教体中心 更正.xlsx")
    form(paths, "四宝山、中埠镇/教体中心.xlsx")
    reset()
    looked_at["listed"].clear()
    looked_at["stat"].clear()
    assert dumps(edu_records(paths, programme)) == dumps([r for r in first if r.unit == "edu_sports"])
    skipped = [str(paths.inbox / "卫健中心"), str(paths.inbox / "四宝山、中埠镇")]
    looked = looked_at["listed"] + looked_at["stat"]
    assert str(paths.inbox) in looked_at["listed"] and str(paths.inbox / "教体中心" / "季度报表.xlsx") in looked
    assert not [p for p in looked if p == "?" or any(p.startswith(s) for s in skipped)]
    assert counts["process_file"] == 0
    full = scan_and_identify(paths, programme)          # the full scan sees them: refused or health's
    assert [r for r in full if r.unit == "edu_sports"] == [r for r in first if r.unit == "edu_sports"]
    assert {r.path: r.unit for r in full if r.path.startswith("卫健中心/")} == {
        "卫健中心/季度报表.xlsx": None, "卫健中心/教体中心 更正.xlsx": None, "卫健中心/第一批/季度报表.xlsx": "health"}


def test_a_units_scan_keeps_what_it_did_not_look_at(paths, programme, calls):
    counts, reset = calls
    form(paths, "教体中心/季度报表.xlsx")
    form(paths, "卫健中心/季度报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    first = scan_and_identify(paths, programme)
    form(paths, "教体中心/更正版.xlsx")                  # something to save
    edu_records(paths, programme)
    reset()
    assert [r.path for r in scan_and_identify(paths, programme)] == [
        "卫健中心/季度报表.xlsx", "教体中心/季度报表.xlsx", "教体中心/更正版.xlsx"]
    assert counts["process_file"] == 0 and len(first) == 2  # health's record was not forgotten


def test_a_units_scan_sees_every_change_that_can_make_a_file_its_own(paths, programme, calls):
    counts, reset = calls
    form(paths, "教体中心/季度报表.xlsx")
    form(paths, "卫健中心/季度报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    loose = form(paths, "季度报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    form(paths, "待分类/汇总.xlsx", unit_line="", rows=UNIDENTIFIED_ROWS)
    full = {r.path: r for r in scan_and_identify(paths, programme)}
    assert (full["季度报表.xlsx"].unit, full["待分类/汇总.xlsx"].unit) == ("health", None)

    def seen():
        return {r.path: r for r in edu_records(paths, programme)}

    assert list(seen()) == ["教体中心/季度报表.xlsx"]
    form(paths, "教体中心/更正版.xlsx")                  # a new file in the unit's folder
    assert "教体中心/更正版.xlsx" in seen()
    own = paths.inbox / "教体中心/季度报表.xlsx"          # replaced in place in the unit's folder
    before = seen()[own.relative_to(paths.inbox).as_posix()].sha256
    overwrite_in_place(own, draft(paths, rows=EDU_ROWS[:2]))
    assert seen()["教体中心/季度报表.xlsx"].sha256 != before
    form(paths, "教体中心 一季度.xlsx", unit_line="", rows=UNIDENTIFIED_ROWS)   # a new loose file naming it
    assert seen()["教体中心 一季度.xlsx"].unit_source == "file_name"
    (paths.inbox / "教体中心/汇总.xlsx").write_bytes((paths.inbox / "待分类/汇总.xlsx").read_bytes())
    (paths.inbox / "待分类/汇总.xlsx").unlink()          # moved into the unit's folder
    assert seen()["教体中心/汇总.xlsx"].unit_source == "folder"
    form(paths, "教体中心/第二批/报表.xlsx", unit_line="", rows=UNIDENTIFIED_ROWS)   # new sub-folders
    form(paths, "补报/一季度/教体中心补报.xlsx", unit_line="", rows=UNIDENTIFIED_ROWS)
    assert {"教体中心/第二批/报表.xlsx", "补报/一季度/教体中心补报.xlsx"} <= set(seen())
    # a loose file the cache gives to health, overwritten in place with edu's form: now edu's
    overwrite_in_place(loose, draft(paths))
    mine = seen()
    assert mine["季度报表.xlsx"].unit_source == "unit_line"
    assert dumps(mine.values()) == dumps([r for r in scan_and_identify(paths, programme) if r.unit == "edu_sports"])


def test_damaged_folder_owners_are_worked_out_again(paths, programme):
    form(paths, "教体中心/季度报表.xlsx")
    form(paths, "卫健中心/季度报表.xlsx", unit_line="卫生健康服务中心", rows=HEALTH_ROWS)
    full = scan_and_identify(paths, programme)
    edu_records(paths, programme)
    owners = cache_folder(paths) / "folders.json"
    assert json.loads(owners.read_text(encoding="utf-8"))["folders"] == {"教体中心": "edu_sports", "卫健中心": "health"}
    for damaged in ('{"folders": {"教体中心": 5}}', '{"folders": {"教体中心": "no_such_unit"}}', "{", "[]"):
        owners.write_text(damaged, encoding="utf-8")
        assert dumps(edu_records(paths, programme)) == dumps([r for r in full if r.unit == "edu_sports"])


def age(folder, seconds=OLD):
    """The folder's mtime set to ``seconds``: as if last changed then (or at a later tick)."""
    os.utime(folder, (seconds, seconds))


@pytest.fixture
def owners_asked(monkeypatch):
    """The folders whose owner was asked for (each sub-folder of a folder read, not cached)."""
    asked = []
    real = stat_cache.ScanCache.folder_owner

    def counting(self, folder, programme):
        asked.append(folder)
        return real(self, folder, programme)
    monkeypatch.setattr(stat_cache.ScanCache, "folder_owner", counting)
    return asked


def unit_folders(paths, programme):
    """A quarter folder of many unit folders (one per name and alias of every unit), hidden
    folders, and edu's form in its own folder; the quarter folder last changed long ago."""
    for unit in programme.units:
        for name in (unit.name, *unit.aliases):
            (paths.inbox / name).mkdir(parents=True, exist_ok=True)
    for i in range(10):
        (paths.inbox / f".hidden-{i}").mkdir()
    form(paths, "教体中心/季度报表.xlsx")
    age(paths.inbox)


def test_a_units_rescan_of_an_unchanged_folder_visits_only_its_own_entries(paths, programme, looked_at,
                                                                            owners_asked):
    unit_folders(paths, programme)
    full = scan_and_identify(paths, programme)
    expected = dumps([r for r in full if r.unit == "edu_sports"])
    assert dumps(edu_records(paths, programme)) == expected          # reads the folder, keeps its listing
    assert len(owners_asked) > 60
    owners_asked.clear()
    looked_at["listed"].clear()
    looked_at["stat"].clear()
    assert dumps(edu_records(paths, programme)) == expected
    assert owners_asked == []                                        # no other unit's entry visited
    assert str(paths.inbox) not in looked_at["listed"]
    edu = programme.units_by_key["edu_sports"]
    assert {p for p in looked_at["listed"] + looked_at["stat"] if p.startswith(f"{paths.inbox}/")} == {
        *(str(paths.inbox / name) for name in (edu.name, *edu.aliases)),
        str(paths.inbox / "教体中心" / "季度报表.xlsx")}


def test_a_change_to_a_cached_folder_is_seen(paths, programme):
    unit_folders(paths, programme)
    (before,) = edu_records(paths, programme)
    form(paths, "教体中心 一季度.xlsx", unit_line="", rows=UNIDENTIFIED_ROWS)     # a new loose file
    form(paths, "补报/教体中心补报.xlsx", unit_line="", rows=UNIDENTIFIED_ROWS)   # a new folder
    age(paths.inbox, OLD + 1)                                        # changed at a later tick
    assert [r.path for r in edu_records(paths, programme)] == [
        "教体中心 一季度.xlsx", "教体中心/季度报表.xlsx", "补报/教体中心补报.xlsx"]
    (paths.inbox / "补报").rename(paths.inbox / "教体中心" / "补报")   # moved into the unit's folder
    (paths.inbox / "教体中心 一季度.xlsx").unlink()
    age(paths.inbox, OLD + 2)
    assert [r.path for r in edu_records(paths, programme)] == [before.path, "教体中心/补报/教体中心补报.xlsx"]
    shutil.copytree(paths.inbox, paths.inbox.with_name("copy"))     # the folder replaced by a copy
    shutil.rmtree(paths.inbox)
    paths.inbox.with_name("copy").rename(paths.inbox)
    form(paths, "教体中心 一季度.xlsx", unit_line="", rows=UNIDENTIFIED_ROWS)
    age(paths.inbox, OLD + 2)                          # the mtime as cached, another folder
    assert "教体中心 一季度.xlsx" in [r.path for r in edu_records(paths, programme)]


def test_a_listing_taken_within_the_racy_window_is_not_trusted(paths, programme, monkeypatch):
    unit_folders(paths, programme)
    listings = cache_folder_of(paths, programme) / "listings.json"
    just_after = int((OLD + 1) * 1e9)                 # listed in the same second the folder changed
    monkeypatch.setattr(time, "time_ns", lambda: just_after)
    edu_records(paths, programme)
    assert not listings.exists()                      # not kept: it may miss a change of the same tick
    monkeypatch.undo()
    edu_records(paths, programme)
    kept = json.loads(listings.read_bytes())
    kept["listings"][""]["taken_ns"] = just_after              # as if kept by an older version, or a clock leap
    listings.write_text(json.dumps(kept), encoding="utf-8")
    form(paths, "教体中心 一季度.xlsx", unit_line="", rows=UNIDENTIFIED_ROWS)
    age(paths.inbox)                                   # a change within the tick: the mtime as cached
    assert "教体中心 一季度.xlsx" in [r.path for r in edu_records(paths, programme)]


def cache_folder_of(paths, programme):
    scan_and_identify(paths, programme)
    return cache_folder(paths)


def test_a_damaged_listing_cache_is_listed_again(paths, programme, looked_at):
    unit_folders(paths, programme)
    listings = cache_folder_of(paths, programme) / "listings.json"
    expected = dumps(edu_records(paths, programme))
    kept = json.loads(listings.read_bytes())
    stamp = {k: v for k, v in kept["listings"][""].items() if k in ("mtime_ns", "ino", "dev", "taken_ns")}
    form(paths, "教体中心 一季度.xlsx", unit_line="", rows=UNIDENTIFIED_ROWS)
    age(paths.inbox)                                   # not seen if a damaged listing were trusted
    for damaged in (b"{", b"[]", b'{"listings": []}', b'{"listings": {"": [1, 2, 3, 4, {}, []]}}',
                    *(json.dumps({"listings": {"": {**stamp, **rest}}}).encode()
                      for rest in ({"groups": {"edu_sports": 5}, "files": []}, {"groups": {}, "files": 7},
                                   {"groups": {"": ["../教体中心"]}, "files": []},
                                   {"groups": [], "files": []}, {"groups": {}}))):
        listings.write_bytes(damaged)
        looked_at["listed"].clear()
        mine = edu_records(paths, programme)
        assert [r.path for r in mine] == ["教体中心 一季度.xlsx", "教体中心/季度报表.xlsx"], damaged
        assert str(paths.inbox) in looked_at["listed"]
        kept_again = json.loads(listings.read_bytes())["listings"][""]
        assert [kept_again[k] for k in ("mtime_ns", "ino", "dev")] == [stamp[k] for k in ("mtime_ns", "ino", "dev")]
    assert dumps(mine[1:]) == expected
