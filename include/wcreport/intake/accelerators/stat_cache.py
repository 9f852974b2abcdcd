"""The stat cache of one quarter: processed records of inbox files unchanged since a scan.

Layout, under ``<output>/cache/scan-<fingerprint>/``, the fingerprint covering the
programme (``programme_fingerprint``), the stamped-copy reading settings, the package
version and ``SCAN_CACHE_VERSION``:

- ``index.json``: ``{"files": {rel: IndexEntry}}``, the compact map a one-unit scan checks
  every listed file against;
- ``unit-<key>.json`` (``unit-none.json`` for records without a unit):
  ``{"files": {rel: GroupEntry}}``, the full records, so a one-unit scan deserialises its
  own records only;
- ``folders.json``: ``{"folders": {folder: unit key, "" or null}}``, each folder's owner
  (``owners.folder_owner``: a function of the path and the programme alone, never stale);
- ``listings.json``: ``{"listings": {folder: ListingEntry}}``, the folders a one-unit scan
  read whose sub-folders some unit's scan leaves out (in practice the quarter folder of
  unit folders). A unit's scan of a folder whose stat is the one stored visits only its
  own group, the "" group and the files, unless the listing was taken within
  ``LISTING_SAFETY_SECONDS`` of the folder's mtime.

A record is used only when the file's stat equals the one stored with the record itself
(the index only says whose a file is), its archive copy still exists, and a clamped
future mtime would be clamped the same way now. Never cached: files still being written,
records rejected with ``file.internal_error``, stamped copies with a transient finding,
anything that raised.

Limit, as for make and rsync: a file rewritten in place with the same size, mtime, inode
and change time (ctime cannot be set back by a user, only by the clock) keeps its old
record; the archive still keeps every content it saw under its sha256. Writers do not
lock: concurrent scans may lose each other's updates, which only costs recomputation,
since every entry carries its own stat. Cache files are renamed into place without fsync:
a damaged or unreadable one is ignored and rewritten when next updated.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat as stat_module
import time
from pathlib import Path
from typing import TypedDict

from wcreport.core.io import write_atomic
from wcreport.core.model import FileRecord
from wcreport.core.settings import settings
from wcreport.intake.accelerators.keys import (
    SCAN_CACHE_VERSION,
    TRANSIENT_SCAN_CODES,
    package_version,
    programme_fingerprint,
    stamped_fingerprint,
)
from wcreport.intake.accelerators.owners import ANY_UNIT, folder_owner
from wcreport.intake.archive import FUTURE_SLACK_SECONDS
from wcreport.intake.classify import still_being_written

log = logging.getLogger(__name__)

# A folder's mtime changes with every entry added, removed or renamed, but only to the
# resolution of its file system's clock (2 s on FAT, coarser on some shares), and a share
# stamps it with its own clock. A listing taken less than this after the folder's mtime may
# have missed a change that left the mtime as it was (git's "racily clean" index entries):
# it is not trusted, nor kept.
LISTING_SAFETY_SECONDS = 2.0 + FUTURE_SLACK_SECONDS
OTHER_UNIT = object()       # ``ScanCache.lookup``: unchanged, and another unit's (a one-unit scan skips it)
_UNIT_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class StatKey(TypedDict):
    """What tells an inbox file changed."""

    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int


class IndexEntry(StatKey):
    """Whose an unchanged file is (the record itself is in its unit's group)."""

    unit: str | None


class GroupEntry(TypedDict):
    stat: StatKey
    record: dict                # a FileRecord in its JSON form


class ListingEntry(TypedDict):
    """One folder's listing, with the folder's stat and when it was read."""

    mtime_ns: int
    ino: int
    dev: int
    taken_ns: int
    groups: dict[str, list[str]]    # sub-folder names by owner (unit key, or "" for any unit's)
    files: list[str]                # regular files


def stat_key(st: os.stat_result) -> StatKey:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino, "ctime_ns": st.st_ctime_ns}


def same_stat(entry, st: os.stat_result) -> bool:
    """``entry`` (a StatKey, or anything read from a damaged file) is ``st``'s."""
    return (type(entry) is dict and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns
            and entry.get("ino") == st.st_ino and entry.get("ctime_ns") == st.st_ctime_ns)


class ScanCache:
    """The stat cache as one scan sees it: read lazily, written once by ``save``."""

    def __init__(self, paths, programme, unit: str | None):
        self.paths = paths
        self.unit = unit
        fingerprint = (f"{SCAN_CACHE_VERSION}:{programme_fingerprint(programme)}:"
                       f"{stamped_fingerprint(settings())}:{package_version()}")
        self.folder = paths.output / "cache" / f"scan-{hashlib.sha256(fingerprint.encode()).hexdigest()[:16]}"
        self.index: dict[str, IndexEntry] = read_index(self.folder / "index.json")
        self._owners: dict[str, str | None] | None = None      # read when first needed
        self.learnt_owners: dict[str, str | None] = {}
        self._listings: dict[str, ListingEntry] | None = None
        self.learnt_listings: dict[str, ListingEntry] = {}
        self.groups: dict[str | None, dict[str, GroupEntry]] = {}
        self.added: dict[str, tuple[IndexEntry, GroupEntry]] = {}

    def _group_file(self, unit: str | None) -> Path:
        name = unit if unit is not None and _UNIT_KEY.match(unit) else "none"
        if unit is not None and name == "none":
            name = "x" + hashlib.sha256(unit.encode("utf-8")).hexdigest()[:16]
        return self.folder / f"unit-{name}.json"

    def _group(self, unit: str | None) -> dict[str, GroupEntry]:
        if unit not in self.groups:
            self.groups[unit] = read_entries(self._group_file(unit))
        return self.groups[unit]

    @property
    def owners(self) -> dict[str, str | None]:
        if self._owners is None:
            self._owners = read_index(self.folder / "folders.json", "folders")
        return self._owners

    def listing(self, folder: str, st: os.stat_result) -> tuple[dict[str, list[str]], list[str]] | None:
        """The kept listing of ``folder`` if the folder's stat is the one it was listed with, and
        it was listed long enough after its mtime to have seen every change that mtime stands
        for; else None (list it again)."""
        if self._listings is None:
            self._listings = read_index(self.folder / "listings.json", "listings")
        entry = self._listings.get(folder)
        if not (type(entry) is dict and entry.get("mtime_ns") == st.st_mtime_ns and entry.get("ino") == st.st_ino
                and entry.get("dev") == st.st_dev and type(entry.get("taken_ns")) is int
                and trusted_listing(entry["taken_ns"], st.st_mtime_ns) and type(entry.get("groups")) is dict):
            return None
        groups = {owner: entry["groups"].get(owner, []) for owner in (ANY_UNIT, self.unit)}
        files = entry.get("files")
        if not all(_names(names) for names in (*groups.values(), files)):
            return None         # damaged
        return groups, files

    def learn_listing(self, folder: str, st: os.stat_result, taken_ns: int,
                      groups: dict[str, list[str]], files: list[str], leaves_out: bool) -> None:
        """Keep a fresh listing for ``save`` if it can be trusted later and saves work: when
        some unit's scan leaves out some of its sub-folders (``leaves_out``); else every
        entry concerns every unit, and listing the folder costs no more than reading it."""
        if leaves_out and trusted_listing(taken_ns, st.st_mtime_ns):
            self.learnt_listings[folder] = {"mtime_ns": st.st_mtime_ns, "ino": st.st_ino, "dev": st.st_dev,
                                            "taken_ns": taken_ns, "groups": groups, "files": files}

    def folder_owner(self, folder: str, programme) -> str | None:
        """``owners.folder_owner``, from ``folders.json`` once known (the cache folder is the programme's)."""
        owner = self.owners.get(folder, 0)
        if owner is not None and owner != ANY_UNIT and owner not in programme.units_by_key:   # unknown, damaged
            owner = self.owners[folder] = self.learnt_owners[folder] = folder_owner(folder, programme)
        return owner

    def other_units(self, stats: dict[str, os.stat_result]) -> set[str]:
        """The files unchanged since a scan found they are another unit's (a one-unit scan's);
        one pass, inline: a loose inbox has a file per unit, stat'ed by every unit's scan."""
        index, unit = self.index, self.unit
        return {rel for rel, st in stats.items()
                if same_stat(entry := index.get(rel), st) and entry.get("unit", unit) != unit}

    def lookup(self, rel: str, st: os.stat_result):
        """The cached record of an unchanged file; ``OTHER_UNIT``; or None (process the file)."""
        entry = self.index.get(rel)
        if not same_stat(entry, st) or "unit" not in entry:
            return None
        owner = entry["unit"]
        if owner is not None and type(owner) is not str:
            return None         # damaged
        if self.unit is not None and owner != self.unit:
            return OTHER_UNIT
        cached = self._group(owner).get(rel)
        if type(cached) is not dict or not same_stat(cached.get("stat"), st):
            return None
        record = cached_record(cached.get("record"))
        if record is None or record.path != rel or record.unit != owner or not self._still_valid(record, st):
            return None
        return record

    def _still_valid(self, record: FileRecord, st: os.stat_result) -> bool:
        """Its archive copy is there, and a clamped future time is still clamped to the same moment."""
        try:
            archived = (self.paths.output_root / (record.archived_as or "")).stat()
        except OSError:
            return False
        if not record.archived_as or not stat_module.S_ISREG(archived.st_mode):
            return False
        if record.mtime == st.st_mtime:
            return True                 # not clamped then, so not now (time only moves on)
        now = time.time()
        return st.st_mtime > now + FUTURE_SLACK_SECONDS and record.mtime == archived.st_mtime <= now

    def store(self, rel: str, st: os.stat_result, record: FileRecord) -> None:
        """Remember a freshly processed record, unless it must be processed again next time."""
        if (record.sha256 is None or record.archived_as is None or still_being_written(record)
                or any(f.code == "file.internal_error" or f.code in TRANSIENT_SCAN_CODES for f in record.findings)):
            return
        key = stat_key(st)
        self.added[rel] = ({**key, "unit": record.unit}, {"stat": key, "record": record.model_dump(mode="json")})

    def save(self, present: set[str], listed: set[str] | None = None) -> None:
        """Write what this scan learnt: new records, and the files gone from the folder.

        ``listed``: the folders a one-unit scan listed (None: all); a file elsewhere is not
        gone for not being seen (the next full scan forgets it if it is).
        """
        merge_cache(self.folder / "folders.json", "folders", self.learnt_owners)
        merge_cache(self.folder / "listings.json", "listings", self.learnt_listings)
        if listed is not None and not self.added:
            return      # a file gone from a listed folder: its entry matches nothing, and goes at the next write
        gone = set(self.index) - present
        if listed is not None:
            gone = {rel for rel in gone if rel.rpartition("/")[0] in listed}
        if not self.added and not gone:
            return
        by_unit: dict[str | None, dict[str, GroupEntry]] = {}
        for rel, (entry, cached) in self.added.items():
            by_unit.setdefault(entry["unit"], {})[rel] = cached
        for owner, fresh in by_unit.items():      # records first: an index entry without one is a miss
            group = read_entries(self._group_file(owner))      # others may have written since we read
            group = {rel: value for rel, value in group.items() if rel in present and rel not in self.added}
            group.update(fresh)
            write_cache(self._group_file(owner), {"files": group})
        index = read_entries(self.folder / "index.json")
        index = {rel: value for rel, value in index.items() if rel not in gone}
        index.update({rel: entry for rel, (entry, _cached) in self.added.items()})
        write_cache(self.folder / "index.json", {"files": index})


def trusted_listing(taken_ns: int, mtime_ns: int) -> bool:
    """A folder's listing taken at ``taken_ns`` shows every change its ``mtime_ns`` stands for."""
    return taken_ns - mtime_ns >= LISTING_SAFETY_SECONDS * 1e9


def _names(value) -> bool:
    """A cached listing's names: entry names of one folder (a damaged one is listed again)."""
    return type(value) is list and all(type(name) is str and "/" not in name and name not in ("", ".", "..")
                                       for name in value)


def cached_record(data) -> FileRecord | None:
    """A record from the stat cache (None if it does not validate): the one place records are deserialised."""
    try:
        return FileRecord.model_validate(data)
    except ValueError:
        return None


_index_memo: dict[str, tuple[tuple, dict]] = {}


def read_index(path: Path, field: str = "files") -> dict:
    """``read_entries`` of the index, the folder owners or the listings, read again only when its
    stat changed. A stale map (rewritten within the clock's resolution) costs only recomputation:
    each entry carries the stat of what it describes, and a folder's owner never changes for the
    cache folder's programme."""
    try:
        st = path.stat()
    except OSError:
        return read_entries(path, field)
    key = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    memo = _index_memo.get(str(path))
    if memo is None or memo[0] != key:
        memo = _index_memo[str(path)] = (key, read_entries(path, field))
    return memo[1]


def read_entries(path: Path, field: str = "files") -> dict:
    """The ``field`` map of a stat-cache file; empty when it is missing, unreadable or damaged."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable scan cache %s (%s: %s)", path, exc.__class__.__name__, exc)
        return {}
    files = data.get(field) if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


def merge_cache(path: Path, field: str, learnt: dict) -> None:
    """Add ``learnt`` to the ``field`` map of a cache file as it is now (others may have written since)."""
    if learnt:
        entries = read_entries(path, field)
        entries.update(learnt)
        write_cache(path, {field: entries})


def write_cache(path: Path, data: dict) -> None:
    """A cache file replaced whole, without the fsync (a damaged one is ignored and rebuilt)."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    write_atomic(path, payload, durable=False)
