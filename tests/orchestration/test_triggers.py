"""The event-driven intake's watchers (``orchestration.triggers``), run as the triggerer runs them.

The folder trigger is driven against a real folder with real writes; the mailbox trigger
against the private Dovecot of ``wcreport_testing`` (IMAP IDLE, plain IMAP on loopback).
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from wcreport.orchestration.triggers import (
    ArrivalTracker,
    MailboxTrigger,
    SharedFolderTrigger,
    UidTracker,
    list_folder,
)

Q = "2023Q3"


async def _events(trigger, count: int, within: float, act=None) -> list[dict]:
    """The first ``count`` payloads the trigger yields within ``within`` seconds (fewer on timeout);
    ``act`` (a coroutine function) runs beside it, e.g. to drop files."""
    got: list[dict] = []

    async def collect():
        async for event in trigger.run():
            got.append(event.payload)
            if len(got) >= count:
                return

    task = asyncio.ensure_future(collect())
    helper = asyncio.ensure_future(act()) if act else None
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=within)
    except TimeoutError:
        pass
    finally:
        task.cancel()
        if helper is not None:
            await helper
        await asyncio.gather(task, return_exceptions=True)
    return got


# --- serialization: no secrets ------------------------------------------------------------
def test_serialized_kwargs_hold_no_credentials(monkeypatch):
    password = "s3cret-imap-Passw0rd"
    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", json.dumps(
        {"conn_type": "imap", "host": "mail.example.cn", "login": "qtk@example.cn", "password": password}))
    for trigger in (MailboxTrigger(), SharedFolderTrigger(inbox_root="/srv/inbox")):
        classpath, kwargs = trigger.serialize()
        text = json.dumps(kwargs)
        assert password not in text and "qtk@example.cn" not in text and "mail.example.cn" not in text
        assert not {"password", "login", "host", "user"} & set(kwargs)
        # the triggerer re-creates the trigger from exactly these
        module, name = classpath.rsplit(".", 1)
        again = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
        assert again.serialize() == (classpath, kwargs)


# --- the folder ---------------------------------------------------------------------------
def test_tracker_announces_a_file_once_when_its_size_stopped_changing():
    tracker = ArrivalTracker(stable_seconds=5)
    assert tracker.observe({"a/x.xlsx": (10, 1)}, now=0) == []
    assert tracker.observe({"a/x.xlsx": (20, 2)}, now=4) == []          # still growing
    assert tracker.observe({"a/x.xlsx": (20, 2)}, now=8) == []          # stable for 4 s only
    assert tracker.observe({"a/x.xlsx": (20, 2)}, now=9) == ["a/x.xlsx"]
    assert tracker.observe({"a/x.xlsx": (20, 2)}, now=30) == []         # announced already
    tracker.observe({"a/x.xlsx": (25, 3)}, now=31)                      # replaced: a new version
    assert tracker.observe({"a/x.xlsx": (25, 3)}, now=36) == ["a/x.xlsx"]
    tracker.observe({}, now=40)                                         # removed ...
    tracker.observe({"a/x.xlsx": (25, 3)}, now=41)                      # ... and dropped again
    assert tracker.observe({"a/x.xlsx": (25, 3)}, now=46) == ["a/x.xlsx"]


def test_listing_skips_links_lock_files_and_missing_folders(tmp_path):
    (tmp_path / "教体局").mkdir()
    (tmp_path / "教体局" / "报表.xlsx").write_bytes(b"x" * 3)
    (tmp_path / "教体局" / "~$报表.xlsx").write_bytes(b"lock")
    (tmp_path / ".partial").write_bytes(b"y")
    os.symlink("/etc/passwd", tmp_path / "link.xlsx")
    assert set(list_folder(str(tmp_path))) == {"教体局/报表.xlsx"}
    assert list_folder(str(tmp_path / "absent")) == {}


def _folder_trigger(root: Path) -> SharedFolderTrigger:
    return SharedFolderTrigger(inbox_root=str(root), quarters=[Q], poke_interval=0.2, stable_seconds=0.6)


def test_folder_trigger_fires_once_per_stable_new_file(tmp_path):
    quarter = tmp_path / Q
    (quarter / "教体局").mkdir(parents=True)
    (quarter / "教体局" / "old.xlsx").write_bytes(b"there before")    # announced once at start

    async def drop():
        await asyncio.sleep(1.2)
        target = quarter / "卫健委" / "第三季度.xlsx"
        target.parent.mkdir()
        with open(target, "wb") as out:         # written in pieces, 0.3 s apart: one event, when complete
            for _ in range(4):
                out.write(b"z" * 1000)
                out.flush()
                await asyncio.sleep(0.3)
        await asyncio.sleep(2.0)
        (quarter / "top.xlsx").write_bytes(b"no folder")

    got = asyncio.run(_events(_folder_trigger(tmp_path), count=10, within=6.0, act=drop))
    assert [(e["unit_folder"], e["files"]) for e in got] == [
        ("教体局", ["教体局/old.xlsx"]), ("卫健委", ["卫健委/第三季度.xlsx"]), (None, ["top.xlsx"])]
    assert all(e["source"] == "shared_folder" and e["quarter"] == Q for e in got)


def test_a_burst_of_files_for_one_unit_is_one_event(tmp_path):
    folder = tmp_path / Q / "教体局"
    folder.mkdir(parents=True)

    async def burst():
        await asyncio.sleep(0.5)
        for n in range(10):
            (folder / f"v{n}.xlsx").write_bytes(b"%d" % n)

    got = asyncio.run(_events(_folder_trigger(tmp_path), count=5, within=3.0, act=burst))
    assert len(got) == 1 and got[0]["count"] == 10 and got[0]["unit_folder"] == "教体局"


def test_an_unreachable_share_does_not_stop_the_watcher(tmp_path, monkeypatch):
    trigger = _folder_trigger(tmp_path)
    calls = {"n": 0}
    real = trigger._listings

    def flaky():
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OSError(5, "Input/output error")
        return real()

    monkeypatch.setattr(trigger, "_listings", flaky)
    (tmp_path / Q / "妇联").mkdir(parents=True)
    (tmp_path / Q / "妇联" / "a.xlsx").write_bytes(b"a")
    got = asyncio.run(_events(trigger, count=1, within=4.0))
    assert calls["n"] > 2 and [e["files"] for e in got] == [["妇联/a.xlsx"]]


# --- the mailbox --------------------------------------------------------------------------
def test_uid_tracker_announces_each_uid_once_per_uidvalidity():
    tracker = UidTracker()
    assert tracker.new(7, [1, 2]) == [1, 2]
    assert tracker.new(7, [1, 2, 3]) == [3]
    assert tracker.new(7, [2, 3]) == []
    assert tracker.new(9, [1]) == [1]            # the folder was re-created: UIDs start afresh


def _mail(subject: str) -> bytes:
    return (f"From: unit@units.example.cn\r\nTo: qtk@test.invalid\r\nSubject: {subject}\r\n"
            "Message-ID: <%s@units.example.cn>\r\n\r\nbody\r\n" % time.time_ns()).encode()


def test_mailbox_trigger_fires_on_a_new_mail_through_idle(dovecot, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", dovecot.airflow_conn_uri())
    dovecot.append(_mail("already there"))
    trigger = MailboxTrigger(idle_seconds=60, poll_seconds=60)   # a poll could not answer within the test
    arrived = {}

    async def send():
        await asyncio.sleep(1.5)
        arrived["at"] = time.monotonic()
        await asyncio.to_thread(dovecot.append, _mail("第三季度报表"))

    got = asyncio.run(_events(trigger, count=2, within=8.0, act=send))
    assert [e["uids"] for e in got] == [[1], [2]]
    assert got[1]["source"] == "mailbox" and got[1]["folder"] == "INBOX" and got[1]["uidvalidity"]


def test_a_seen_mail_is_not_announced(dovecot, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", dovecot.airflow_conn_uri())
    dovecot.append(_mail("kept by the intake"), flags="\\Seen")
    got = asyncio.run(_events(MailboxTrigger(idle_seconds=60), count=1, within=2.0))
    assert got == []


def test_mailbox_trigger_reconnects_after_the_server_was_down(dovecot, monkeypatch):
    """The connection names a port nobody listens on first, then the real server: the trigger
    keeps trying (backoff) and fires once the mailbox can be reached."""
    from wcreport_testing.net import free_port

    good = dovecot.airflow_conn_uri()
    monkeypatch.setenv("AIRFLOW_CONN_IMAP_DEFAULT", json.dumps({**json.loads(good), "port": free_port()}))
    dovecot.append(_mail("waiting"))

    async def repair():
        await asyncio.sleep(1.5)
        os.environ["AIRFLOW_CONN_IMAP_DEFAULT"] = good

    got = asyncio.run(_events(MailboxTrigger(idle_seconds=60, max_backoff_seconds=1), count=1, within=8.0,
                              act=repair))
    assert [e["uids"] for e in got] == [[1]]
