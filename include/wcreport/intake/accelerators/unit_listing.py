"""A unit's scan lists only what may be that unit's: its cost does not grow with other units' files.

What it leaves out can never be that unit's file, whatever it holds:

- folders below which every file is another unit's, refused or ignored (``owners.folder_owner``):
  they are neither listed nor stat'ed, so another unit's folder costs nothing, however full;
- symbolic links and other non-regular entries: the full scan ignores them with no unit.

Every other file is stat'ed, wherever it lies: a loose file (in no unit's folder) that
the stat cache gives to another unit may have been overwritten in place since (a unit
copying its file over one of the same name changes no folder's mtime), and may now be
this unit's. A folder unchanged since its listing was kept (``ScanCache.listing``) is
not read again: only its entries that can concern the unit are visited.
"""
from __future__ import annotations

import errno
import os
import stat as stat_module
import time
from pathlib import Path

from wcreport.core.faults import inbox_missing, inbox_unreadable
from wcreport.intake.accelerators.owners import ANY_UNIT
from wcreport.intake.accelerators.stat_cache import ScanCache


def list_for_unit(paths, programme, unit: str, cache: ScanCache
                  ) -> tuple[list[str], dict[str, os.stat_result], set[str]]:
    """(regular files that may be ``unit``'s, their lstat, the folders listed), relative to the
    inbox. Errors as ``listing.list_inbox``."""
    inbox = paths.inbox
    if not inbox.is_dir():
        raise inbox_missing(inbox, paths.inbox_root)
    top = str(inbox)
    stats: dict[str, os.stat_result] = {}
    listed: set[str] = set()
    pending = [""]
    while pending:
        folder = pending.pop()
        found = _list_folder(top, folder, stats, unit, programme, cache)
        if found is None:
            continue                # no longer a folder (gone, or replaced by a link)
        listed.add(folder)
        pending.extend(found)
    return sorted(stats), stats, listed


def _list_folder(top: str, folder: str, stats: dict[str, os.stat_result], unit: str, programme,
                 cache: ScanCache) -> list[str] | None:
    """The sub-folders of ``folder`` that may hold ``unit``'s files, its regular files' lstat
    added to ``stats`` (paths relative to the inbox); None when a sub-folder is no longer one.
    A folder we cannot list raises.

    Files are stat'ed relative to the folder's descriptor: a loose inbox has a file per unit,
    stat'ed by every unit's scan."""
    directory = os.path.join(top, folder) if folder else top
    prefix = f"{folder}/" if folder else ""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | (os.O_NOFOLLOW if folder else 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if folder and exc.errno == errno.ELOOP:
            return None
        raise inbox_unreadable(Path(directory), exc) from exc
    try:
        groups, files = _listing(fd, folder, programme, cache)
        for name in files:
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue    # gone since the listing
            if stat_module.S_ISREG(st.st_mode):     # else replaced by a link since the listing
                stats[prefix + name] = st
    except OSError as exc:
        name = exc.filename if isinstance(exc.filename, str) else ""
        raise inbox_unreadable(Path(directory) / name, exc) from exc
    finally:
        os.close(fd)
    return [prefix + name for owner in (ANY_UNIT, unit) for name in groups.get(owner, ())]


def _listing(fd: int, folder: str, programme, cache: ScanCache) -> tuple[dict[str, list[str]], list[str]]:
    """({owner: names of the sub-folders it owns}, names of the regular files) of the open folder:
    the kept listing if the folder is unchanged since, else read now (and kept if it can be
    trusted later). Sub-folders no unit's file can lie below are left out."""
    taken_ns = time.time_ns()       # before the folder's stat: a later change is after it
    st = os.fstat(fd)
    cached = cache.listing(folder, st)
    if cached is not None:
        return cached
    groups: dict[str, list[str]] = {}
    files: list[str] = []
    leaves_out = False
    prefix = f"{folder}/" if folder else ""
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                owner = cache.folder_owner(prefix + entry.name, programme)
                leaves_out = leaves_out or owner != ANY_UNIT
                if owner is not None:       # else no unit's file lies below
                    groups.setdefault(owner, []).append(entry.name)
            elif entry.is_file(follow_symlinks=False):
                files.append(entry.name)
    cache.learn_listing(folder, st, taken_ns, groups, files, leaves_out)
    return groups, files
