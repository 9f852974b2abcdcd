"""The scan with the stat cache: unchanged files' records are taken, not made again.

A file unchanged since the last scan is not copied, hashed, read or identified again, and
a unit's scan (one ``ingest_unit``) reads only that unit's records and lists only what
may be its files (``unit_listing``). The records are those of the plain scan
(``wcreport.intake.scan``), which hands in how one file is processed.

An archive (a .zip) is not kept in the stat cache: each scan opens it again from its own
stat and bytes, so its members' records are made the same way in the full scan and in a
unit's scan (their readings still come from the read caches, by content hash).
"""
from __future__ import annotations

import os
from collections.abc import Callable

from wcreport.core.model import FileRecord
from wcreport.intake.accelerators.stat_cache import OTHER_UNIT, ScanCache
from wcreport.intake.accelerators.unit_listing import list_for_unit
from wcreport.intake.listing import list_inbox
from wcreport.intake.stability import settle

# (paths, programme, rel, lstat, still being written) -> the file's record, then its members'
# if it is an archive; none if it vanished
Process = Callable[[object, object, str, os.stat_result, bool], list[FileRecord]]


def cached_scan(paths, programme, *, stable_seconds: float, max_wait_seconds: float, unit: str | None,
                process: Process) -> list[FileRecord]:
    """``scan_and_identify`` through the stat cache; ``process`` makes a file's record."""
    cache = ScanCache(paths, programme, unit)
    if unit is None:
        rels, skipped, listed = list_inbox(paths)
        folders = None
    else:
        rels, listed, folders = list_for_unit(paths, programme, unit, cache)
        skipped = []
    others = set() if unit is None else cache.other_units(listed)
    # another unit's unchanged files are not this unit's, however recent: no wait for them
    stats, unstable = settle(paths.inbox, {rel: st for rel, st in listed.items() if rel not in others},
                             stable_seconds, max_wait_seconds)
    records: list[FileRecord] = list(skipped)
    for rel in rels:
        if rel not in stats:
            continue  # vanished while we looked: it is not in the folder any more
        st = stats[rel]
        if rel not in unstable:
            cached = cache.lookup(rel, st)
            if cached is OTHER_UNIT:
                continue
            if cached is not None:
                records.append(cached)
                continue
        made = process(paths, programme, rel, st, rel in unstable)
        if len(made) == 1:      # an opened archive is not kept: its members come from its bytes each scan
            cache.store(rel, st, made[0])
        records += [record for record in made if unit is None or record.unit == unit]
    cache.save(present=set(stats) | others, listed=folders)
    return sorted(records, key=lambda r: r.path)
