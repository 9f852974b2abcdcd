"""The event-driven intake's watchers: they run in Airflow's triggerer and say *that* something arrived.

``dags/unit_intake.py`` puts each on an ``Asset`` through an ``AssetWatcher``; every
``TriggerEvent`` becomes an asset event that schedules ``unit_intake``, which re-lists and
checks. A watcher never reads a unit's file or a mail's body, and it never decides anything
a unit hears: a missed or doubled event costs at most one check (the hourly mailbox poll and
the quarter-end run are the safety nets), a wrong one costs a check that finds nothing new.

* ``SharedFolderTrigger`` lists the watched quarters' inbox folders every ``poke_interval``
  seconds (``os.scandir``, no file is opened; no inotify, which network shares do not
  deliver) and fires once per file whose size and mtime have not changed for
  ``stable_seconds``, one event per unit folder and listing. A file is announced again only
  when its size or mtime changes, or after it was removed and dropped again.
* ``MailboxTrigger`` waits on IMAP IDLE (``aioimaplib``) in the folder of the ``imap_default``
  connection and fires for UNSEEN mails it has not announced yet (the intake sets ``\\Seen``
  once it has kept a mail). A server without IDLE is searched every ``poll_seconds``; a
  STARTTLS connection (which aioimaplib cannot open) is polled through ``intake.imap``. A lost
  connection is reopened with exponential backoff up to ``max_backoff_seconds``.

Credentials never enter the serialized kwargs (stored in the metadata DB): the connection is
read when the trigger runs.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from wcreport.core.quarter import TZ, Quarter

if TYPE_CHECKING:
    from wcreport.intake.imap import ImapSettings

log = logging.getLogger(__name__)

FOLDER_TRIGGER = "wcreport.orchestration.triggers.SharedFolderTrigger"
MAILBOX_TRIGGER = "wcreport.orchestration.triggers.MailboxTrigger"
# An event names at most this many files or mails: it is a hint, the DAG re-lists anyway.
MAX_NAMED = 50
# A quarter's folder holds a few hundred files; a listing stops here (the rest waits for the
# next event or the quarter-end run) so a runaway folder cannot stall the triggerer.
MAX_LISTED = 20_000
IDLE_ACK_SECONDS = 10.0


# --- the shared folder ---------------------------------------------------------------
class FolderEvent(TypedDict):
    """A shared-folder event's payload: which quarter and unit folder, which stable files."""

    source: Literal["shared_folder"]
    quarter: str
    unit_folder: str | None        # the first path component; None: files at the quarter's top level
    files: list[str]               # relative to the quarter's folder, at most MAX_NAMED
    count: int
    signature: str                 # sha256 of (path, size, mtime) of every file announced


Signature = tuple[int, int]        # (size, mtime_ns)


@dataclass
class _Watching:
    signature: Signature
    since: float


@dataclass
class ArrivalTracker:
    """Stable-size detection over successive listings; each (file, signature) is announced once."""

    stable_seconds: float
    watching: dict[str, _Watching] = field(default_factory=dict)
    announced: dict[str, Signature] = field(default_factory=dict)

    def observe(self, listing: dict[str, Signature], now: float) -> list[str]:
        """The files that have just become stable with a signature not announced before."""
        ready = []
        for rel, sig in listing.items():
            if self.announced.get(rel) == sig:
                continue
            seen = self.watching.get(rel)
            if seen is None or seen.signature != sig:
                self.watching[rel] = _Watching(sig, now)
            elif now - seen.since >= self.stable_seconds:
                ready.append(rel)
                self.announced[rel] = sig
                del self.watching[rel]
        for gone in (set(self.watching) | set(self.announced)) - set(listing):
            self.watching.pop(gone, None)
            self.announced.pop(gone, None)     # dropped again later: a new arrival
        return sorted(ready)


def list_folder(folder: str) -> dict[str, Signature]:
    """Every regular file under ``folder`` (links and special files skipped), by relative path."""
    found: dict[str, Signature] = {}
    stack = [""]
    while stack and len(found) < MAX_LISTED:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(folder, rel_dir)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.name.startswith((".", "~$")):
                continue                   # editors' lock and temporary files: never a report
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(rel)
            elif stat.S_ISREG(st.st_mode):
                found[rel] = (st.st_size, st.st_mtime_ns)
    return found


def watched_quarters(today: dt.date) -> list[str]:
    """The quarter units report for today (late reports of the previous one included) and the calendar's."""
    from wcreport.intake.mailbox import submission_quarter  # reads the programme's deadlines

    return sorted({str(submission_quarter(today)), str(Quarter.containing(today))})


def folder_events(quarter: str, ready: Iterable[str], listing: dict[str, Signature]) -> list[FolderEvent]:
    """One event per unit folder of the files that became stable."""
    groups: dict[str | None, list[str]] = {}
    for rel in ready:
        groups.setdefault(rel.split("/", 1)[0] if "/" in rel else None, []).append(rel)
    events = []
    for unit_folder, rels in sorted(groups.items(), key=lambda item: item[0] or ""):
        digest = hashlib.sha256()
        for rel in sorted(rels):
            size, mtime = listing[rel]
            digest.update(f"{rel}\0{size}\0{mtime}\n".encode())
        events.append(FolderEvent(source="shared_folder", quarter=quarter, unit_folder=unit_folder,
                                  files=sorted(rels)[:MAX_NAMED], count=len(rels), signature=digest.hexdigest()))
    return events


class SharedFolderTrigger(BaseEventTrigger):
    """Fires when a file in a watched quarter's inbox folder has stopped changing (module docstring).

    :param inbox_root: the inbox root (``<root>/<quarter>/``); None: ``REPORT_INBOX`` where the trigger runs
    :param quarters: quarters to watch; None: those of today (``watched_quarters``), re-read every listing
    :param poke_interval: seconds between listings
    :param stable_seconds: how long size and mtime must stay the same before a file is announced
    """

    def __init__(self, *, inbox_root: str | None = None, quarters: list[str] | None = None,
                 poke_interval: float = 10.0, stable_seconds: float = 5.0) -> None:
        super().__init__()
        self.inbox_root = inbox_root
        self.quarters = list(quarters) if quarters else None
        self.poke_interval = float(poke_interval)
        self.stable_seconds = float(stable_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return FOLDER_TRIGGER, {"inbox_root": self.inbox_root, "quarters": self.quarters,
                                "poke_interval": self.poke_interval, "stable_seconds": self.stable_seconds}

    def _root(self) -> str:
        if self.inbox_root:
            return self.inbox_root
        from wcreport.core.settings import inbox_root

        return str(inbox_root())

    def _quarters(self) -> list[str]:
        return self.quarters or watched_quarters(dt.datetime.now(TZ).date())

    def _listings(self) -> dict[str, dict[str, Signature]]:
        root = self._root()
        return {quarter: list_folder(os.path.join(root, quarter)) for quarter in self._quarters()}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        trackers: dict[str, ArrivalTracker] = {}
        while True:
            try:
                listings = await asyncio.to_thread(self._listings)
            except OSError as exc:          # an unreachable share: say so and keep watching
                log.warning("Shared folder not listed (%s); next try in %.0f s", exc, self.poke_interval)
                listings = {}
            now = time.monotonic()
            for quarter, listing in listings.items():
                tracker = trackers.setdefault(quarter, ArrivalTracker(self.stable_seconds))
                for event in folder_events(quarter, tracker.observe(listing, now), listing):
                    log.info("New file(s) in %s/%s: %s", quarter, event["unit_folder"] or "", event["files"])
                    yield TriggerEvent(dict(event))
            await asyncio.sleep(self.poke_interval)


# --- the mailbox ---------------------------------------------------------------------
class MailEvent(TypedDict):
    """A mailbox event's payload: which folder and which new mails (by UID)."""

    source: Literal["mailbox"]
    folder: str
    uidvalidity: int | None
    uids: list[int]                # at most MAX_NAMED
    count: int


@dataclass
class UidTracker:
    """Which UIDs were announced, per UIDVALIDITY (a new UIDVALIDITY starts afresh)."""

    uidvalidity: int | None = None
    announced: set[int] = field(default_factory=set)

    def new(self, uidvalidity: int | None, uids: Iterable[int]) -> list[int]:
        if uidvalidity != self.uidvalidity:
            self.uidvalidity, self.announced = uidvalidity, set()
        fresh = sorted(set(uids) - self.announced)
        self.announced.update(fresh)
        return fresh


def mail_event(folder: str, uidvalidity: int | None, uids: list[int]) -> MailEvent:
    return MailEvent(source="mailbox", folder=folder, uidvalidity=uidvalidity, uids=uids[:MAX_NAMED],
                     count=len(uids))


_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")


def _uidvalidity(lines: list[bytes]) -> int | None:
    for line in lines:
        found = _UIDVALIDITY.search(line if isinstance(line, bytes) else str(line).encode())
        if found:
            return int(found.group(1))
    return None


def _uids(lines: list[bytes]) -> list[int]:
    """The numbers of a SEARCH answer (aioimaplib gives the untagged line without ``* SEARCH``)."""
    words = b" ".join(line for line in lines[:-1] if isinstance(line, bytes)).split()
    return [int(word) for word in words if word.isdigit()]


class MailboxUnreachable(RuntimeError):
    """The IMAP server refused or dropped us; the trigger waits and reconnects."""


class MailboxTrigger(BaseEventTrigger):
    """Fires on new, unseen mail in the ``conn_id`` mailbox's ``folder`` (module docstring).

    :param conn_id: the Airflow connection (host, port, login, password, extra ``use_ssl``/``starttls``/``timeout``)
    :param folder: the IMAP folder
    :param idle_seconds: longest single IDLE before it is renewed (servers drop IDLE after 30 min)
    :param poll_seconds: the search interval on a server without IDLE
    :param max_backoff_seconds: longest wait before reconnecting after an error
    """

    def __init__(self, *, conn_id: str = "imap_default", folder: str = "INBOX", idle_seconds: float = 300.0,
                 poll_seconds: float = 30.0, max_backoff_seconds: float = 300.0) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.folder = folder
        self.idle_seconds = float(idle_seconds)
        self.poll_seconds = float(poll_seconds)
        self.max_backoff_seconds = float(max_backoff_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return MAILBOX_TRIGGER, {"conn_id": self.conn_id, "folder": self.folder, "idle_seconds": self.idle_seconds,
                                 "poll_seconds": self.poll_seconds, "max_backoff_seconds": self.max_backoff_seconds}

    async def _settings(self) -> ImapSettings:
        from airflow.sdk import BaseHook

        from wcreport.orchestration.mailbox import imap_settings_of

        return imap_settings_of(await BaseHook.aget_connection(self.conn_id), self.conn_id, self.folder)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        tracker = UidTracker()
        backoff = 1.0
        while True:
            try:
                imap = await self._settings()
                watch = self._poll_starttls(imap, tracker) if imap.starttls else self._watch(imap, tracker)
                async for event in watch:
                    backoff = 1.0
                    yield TriggerEvent(dict(event))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # server down, login refused, no connection yet: wait and reconnect
                log.warning("Mailbox %s/%s not watched (%s: %s); reconnecting in %.0f s", self.conn_id,
                            self.folder, exc.__class__.__name__, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)

    async def _watch(self, imap: ImapSettings, tracker: UidTracker) -> AsyncIterator[MailEvent]:
        import aioimaplib  # type: ignore[import-untyped]

        client = (aioimaplib.IMAP4_SSL(host=imap.host, port=imap.port, timeout=imap.timeout) if imap.use_ssl
                  else aioimaplib.IMAP4(host=imap.host, port=imap.port, timeout=imap.timeout))
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(imap.user, imap.password), "LOGIN")
            uidvalidity = _uidvalidity(_ok(await client.select(imap.folder), f"SELECT {imap.folder}").lines)
            idle = client.has_capability("IDLE")
            log.info("Watching mailbox %s/%s (%s)", self.conn_id, imap.folder,
                     "IMAP IDLE" if idle else f"no IDLE: a search every {self.poll_seconds:.0f} s")
            while True:
                fresh = tracker.new(uidvalidity, _uids(_ok(await client.uid_search("UNSEEN"), "SEARCH").lines))
                if fresh:
                    log.info("New mail in %s: UIDs %s", imap.folder, fresh[:MAX_NAMED])
                    yield mail_event(imap.folder, uidvalidity, fresh)
                if idle:
                    await self._idle_once(client)
                else:
                    await asyncio.sleep(self.poll_seconds)
                    _ok(await client.noop(), "NOOP")
        finally:
            await _logout(client)

    async def _idle_once(self, client: Any) -> None:
        """IDLE until the server pushes something (a new mail: EXISTS) or ``idle_seconds`` pass."""
        idle = await client.idle_start(timeout=self.idle_seconds)
        try:
            await client.wait_server_push(timeout=self.idle_seconds + IDLE_ACK_SECONDS)
        except TimeoutError:
            pass
        finally:
            client.idle_done()
        _ok(await asyncio.wait_for(idle, timeout=IDLE_ACK_SECONDS), "IDLE")

    async def _poll_starttls(self, imap: ImapSettings, tracker: UidTracker) -> AsyncIterator[MailEvent]:
        """STARTTLS servers: the intake's own client, in a thread, every ``poll_seconds``."""
        while True:
            uidvalidity, uidnext = await asyncio.to_thread(_folder_state, imap)
            # UIDs are given in ascending order: a grown UIDNEXT is new mail.
            fresh = tracker.new(uidvalidity, [uidnext - 1] if uidnext else [])
            if fresh:
                yield mail_event(imap.folder, uidvalidity, fresh)
            await asyncio.sleep(self.poll_seconds)


def _folder_state(imap: ImapSettings) -> tuple[int, int | None]:
    from wcreport.intake.imap import ImapMailbox

    with ImapMailbox(imap) as box:
        state = box.select()
    return state.uidvalidity, state.uidnext


def _ok(response: Any, what: str) -> Any:
    if getattr(response, "result", None) != "OK":
        raise MailboxUnreachable(f"{what}: {getattr(response, 'result', response)} {getattr(response, 'lines', '')}")
    return response


async def _logout(client: Any) -> None:
    try:
        await asyncio.wait_for(client.logout(), timeout=IDLE_ACK_SECONDS)
    except Exception:  # the connection may already be gone: nothing to keep
        log.debug("IMAP logout failed", exc_info=True)
