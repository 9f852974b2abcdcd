"""Every entry of the quarter's inbox folder, recursively; links and special files never followed.

A missing inbox or a folder that cannot be listed raises: "no files" must never be the
result of a folder we could not see.
"""
from __future__ import annotations

import os
import stat as stat_module
from pathlib import Path

from wcreport.core.faults import inbox_missing, inbox_unreadable
from wcreport.core.model import FileRecord
from wcreport.intake.classify import LINK_DANGLING, LINK_TO_FILE, LINK_TO_FOLDER, NOT_A_FILE


def list_inbox(paths) -> tuple[list[str], list[FileRecord], dict[str, os.stat_result]]:
    """(regular files to read, records of entries never followed, the regular files' lstat),
    each path relative to the inbox."""
    inbox = paths.inbox
    if not inbox.is_dir():
        raise inbox_missing(inbox, paths.inbox_root)

    def refuse(exc: OSError):
        raise inbox_unreadable(Path(exc.filename or inbox), exc) from exc

    rels: list[str] = []
    skipped: list[FileRecord] = []
    stats: dict[str, os.stat_result] = {}
    top = str(inbox)
    for dirpath, dirnames, filenames in os.walk(top, onerror=refuse, followlinks=False):
        dirnames.sort()
        # plain strings, not Path objects: this runs for every entry of every rescan
        folder = os.path.relpath(dirpath, top).replace(os.sep, "/") if dirpath != top else ""
        for names, is_dir in ((dirnames, True), (filenames, False)):
            for name in names:
                rel = f"{folder}/{name}" if folder else name
                kept, st = not_followed(os.path.join(dirpath, name), rel, is_dir=is_dir)
                if kept is not None:
                    skipped.append(kept)
                elif not is_dir:
                    rels.append(rel)
                    if st is not None:      # None: gone since the listing (it is not in the folder any more)
                        stats[rel] = st
    return sorted(rels), sorted(skipped, key=lambda r: r.path), stats


def not_followed(full: str, rel: str, *, is_dir: bool) -> tuple[FileRecord | None, os.stat_result | None]:
    """(an ignored record for a symbolic link or a special file, else None; the entry's lstat or None if gone)."""
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise inbox_unreadable(Path(full), exc) from exc
    if stat_module.S_ISLNK(st.st_mode):
        reason = LINK_TO_FOLDER if os.path.isdir(full) else LINK_TO_FILE if os.path.exists(full) else LINK_DANGLING
    elif is_dir or stat_module.S_ISREG(st.st_mode):
        return None, st
    else:
        reason = NOT_A_FILE
    return FileRecord(path=rel, size=st.st_size, mtime=st.st_mtime, kind="other", status="ignored",
                      reasons=[reason]), st
