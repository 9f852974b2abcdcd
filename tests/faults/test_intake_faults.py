"""Faults at the inbox and the output, unit level: ours raise (named), never a unit's rejection or absence."""
from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from faults.conftest import read_only
from intake.conftest import EDU_ROWS
from intake.corpus import Book, form_sheet, touch_mtime, write
from wcreport.core.faults import InboxBusy, InboxUnreadable, InternalError, OutputUnwritable
from wcreport.core.io import DamagedStateError
from wcreport.flow import gather as gather_step
from wcreport.intake import stamped
from wcreport.intake.classify import LINK_DANGLING, LINK_TO_FILE, LINK_TO_FOLDER
from wcreport.intake.scan import scan_and_identify

OLD = time.time() - 3600


def form(paths, rel, mtime=OLD):
    target = write(Book([form_sheet("教育和体育事业中心", EDU_ROWS)]), paths.inbox / rel)
    touch_mtime(target, mtime)
    return target


def test_a_read_only_output_raises_instead_of_rejecting_every_file(paths, programme):
    form(paths, "教体中心.xlsx")
    form(paths, "卫健中心.xlsx")
    with read_only(paths.output_root), pytest.raises(OutputUnwritable, match="Read-only file system"):
        scan_and_identify(paths, programme)


def test_a_full_disk_raises_naming_the_archive(paths, programme, tmp_path):
    form(paths, "教体中心.xlsx")
    paths.output_root.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(paths.output_root)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        with open(paths.output_root / "filler", "wb", buffering=0) as filler, pytest.raises(OSError):
            while True:                                        # fill the disk up
                filler.write(b"\0" * 4096)
        with pytest.raises(OutputUnwritable, match=r"archive/2023Q1.*No space left"):
            scan_and_identify(paths, programme)
    finally:
        subprocess.run(["umount", str(paths.output_root)], capture_output=True)


def test_an_unlistable_inbox_folder_raises(paths, programme, monkeypatch):
    form(paths, "sub/教体中心.xlsx")
    real_walk = os.walk

    def walk(top, onerror=None, followlinks=False):
        for entry in real_walk(top, onerror=onerror, followlinks=followlinks):
            if entry[0].endswith("sub"):
                onerror(PermissionError(13, "Permission denied", entry[0]))
            yield entry

    monkeypatch.setattr(os, "walk", walk)
    with pytest.raises(InboxUnreadable, match=r"cannot read .*sub.*Permission denied"):
        scan_and_identify(paths, programme)


def test_an_unreadable_inbox_file_raises(paths, programme, monkeypatch):
    target = form(paths, "教体中心.xlsx")
    real_open = open

    def guarded_open(file, *args, **kwargs):
        if str(file) == str(target):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    with pytest.raises(InboxUnreadable, match="教体中心.xlsx"):
        scan_and_identify(paths, programme)


def test_a_future_mtime_never_blocks_and_is_clamped_once(paths, programme):
    future = time.time() + 2 * 86400
    form(paths, "教体中心.xlsx", mtime=future)
    started = time.monotonic()
    (record,) = scan_and_identify(paths, programme, stable_seconds=2.0, max_wait_seconds=30)
    assert time.monotonic() - started < 10                    # not a 30 s wait for a file "being written"
    assert (record.status, record.unit) == ("pending", "edu_sports")
    assert record.mtime <= time.time() and "晚于当前时间" in record.reasons[-1]
    time.sleep(1.1)
    (again,) = scan_and_identify(paths, programme, stable_seconds=2.0, max_wait_seconds=0)
    assert again.mtime == record.mtime                        # clamped to the first archive time, every scan


def test_gather_waits_once_then_retries_on_a_file_still_being_written(paths, programme, monkeypatch):
    from wcreport.orchestration import tasks

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
    while not target.exists():
        time.sleep(0.01)
    monkeypatch.setattr(gather_step, "STABILITY_WAIT_SECONDS", 0.5)
    run = {"quarter": "2023Q1", "inbox": str(paths.inbox_root), "output": str(paths.output_root)}
    try:
        with pytest.raises(InboxBusy, match="still being written"):      # a plain exception: Airflow retries
            tasks.gather(run)
    finally:
        stop.set()
        writer.join()


def test_links_and_special_files_are_listed_never_followed(paths, programme, tmp_path):
    form(paths, "教体中心.xlsx")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.xlsx").write_bytes(b"PK")
    os.symlink(paths.inbox / "教体中心.xlsx", paths.inbox / "link.xlsx")
    os.symlink(outside, paths.inbox / "linked-folder")
    os.symlink(tmp_path / "gone.xlsx", paths.inbox / "dangling.xlsx")
    os.mkfifo(paths.inbox / "pipe.xlsx")
    records = {r.path: r for r in scan_and_identify(paths, programme)}
    assert set(records) == {"教体中心.xlsx", "link.xlsx", "linked-folder", "dangling.xlsx", "pipe.xlsx"}
    assert records["link.xlsx"].reasons == [LINK_TO_FILE]
    assert records["linked-folder"].reasons == [LINK_TO_FOLDER]
    assert records["dangling.xlsx"].reasons == [LINK_DANGLING]
    assert "不是普通文件" in records["pipe.xlsx"].reasons[0]
    assert all(records[p].status == "ignored" and records[p].sha256 is None
               for p in ("link.xlsx", "linked-folder", "dangling.xlsx", "pipe.xlsx"))


def test_our_bug_on_a_file_fails_the_task_instead_of_rejecting_the_unit(paths, programme, monkeypatch):
    from wcreport.orchestration import tasks
    from wcreport.validate import suites

    form(paths, "教体中心.xlsx")
    run = {"quarter": "2023Q1", "inbox": str(paths.inbox_root), "output": str(paths.output_root)}
    monkeypatch.setattr(suites, "validate_report", lambda *a, **k: 1 / 0)
    with pytest.raises(Exception) as caught:
        tasks.ingest(run, "edu_sports")
    assert type(caught.value).__name__ == "AirflowFailException"
    assert isinstance(caught.value.__cause__, InternalError) and "教体中心.xlsx" in str(caught.value)


def test_merge_refuses_a_missing_unit_result(paths, programme):
    from wcreport.orchestration.tasks import load_unit_result

    with pytest.raises(DamagedStateError, match=r"units/health.json does not exist.*clear the ingest_unit"):
        load_unit_result(paths, programme, "health")


def test_archive_copies_honour_the_umask(paths, programme):
    form(paths, "教体中心.xlsx")
    old = os.umask(0o027)
    try:
        (record,) = scan_and_identify(paths, programme)
    finally:
        os.umask(old)
    assert oct((paths.output_root / record.archived_as).stat().st_mode & 0o777) == oct(0o440)


def test_a_worker_without_ocr_tools_alerts_ops_and_the_quarter_goes_on(paths, programme, monkeypatch, caplog):
    """One unit's advisory scan must not cost the quarter its report: gather succeeds with every
    unit, the log says it at error level, ops get one alert mail, the unit's file is not refused."""
    import logging

    from wcreport.core.findings_catalogue import finding
    from wcreport.core.model import StampedCopy
    from wcreport.orchestration import alerts, tasks

    form(paths, "教体中心.xlsx")
    scan = paths.inbox / "教体中心盖章件.pdf"
    scan.write_bytes(b"%PDF-1.4\n%%EOF\n")
    touch_mtime(scan, OLD)
    missing = finding("stamped.tool.missing", tool="tesseract-ocr")
    monkeypatch.setattr(stamped, "read_stamped_copy", lambda path, name, config: StampedCopy(
        path=name, format="pdf", readable=True, findings=[missing], reasons=[missing.message]))
    sent = []
    monkeypatch.setattr(alerts, "send_mail", lambda to, subject, html, **kw: sent.append((to, subject, kw)))
    monkeypatch.setenv("REPORT_OPS_EMAIL", "ops@example.org")
    run = {"quarter": "2023Q1", "inbox": str(paths.inbox_root), "output": str(paths.output_root)}
    with caplog.at_level(logging.ERROR):
        units = tasks.gather(run)
    assert units == [u.key for u in programme.units]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("教体中心盖章件.pdf" in e and "tesseract-ocr" in e and "install_system_packages.sh" in e
               for e in errors)
    ((to, subject, extra),) = sent
    assert to == ["ops@example.org"] and "需要管理员处理" in subject
    assert "教体中心盖章件.pdf" in extra["text_body"] and "无法确认" in extra["text_body"]
    records = gather_step.scan_inbox(paths, programme, max_wait_seconds=0)
    assert {r.path: r.status for r in records}["教体中心盖章件.pdf"] == "pending"     # not refused


def test_gather_without_ocr_tools_and_without_an_ops_address_still_succeeds(paths, programme, monkeypatch, caplog):
    import logging

    from wcreport.core.findings_catalogue import finding
    from wcreport.core.model import StampedCopy
    from wcreport.orchestration import alerts, tasks

    scan = paths.inbox / "教体中心盖章件.pdf"
    scan.parent.mkdir(parents=True)
    scan.write_bytes(b"%PDF-1.4\n%%EOF\n")
    touch_mtime(scan, OLD)
    missing = finding("stamped.tool.missing", tool="pdftoppm")
    monkeypatch.setattr(stamped, "read_stamped_copy", lambda path, name, config: StampedCopy(
        path=name, format="pdf", readable=True, findings=[missing], reasons=[missing.message]))
    monkeypatch.setattr(alerts, "send_mail", lambda *a, **kw: pytest.fail("no ops address: nothing to send"))
    monkeypatch.setattr("wcreport.orchestration.connections.variable", lambda name: None)
    run = {"quarter": "2023Q1", "inbox": str(paths.inbox_root), "output": str(paths.output_root)}
    with caplog.at_level(logging.ERROR):
        assert tasks.gather(run) == [u.key for u in programme.units]
    assert any("no ops address is set" in r.getMessage() for r in caplog.records)
