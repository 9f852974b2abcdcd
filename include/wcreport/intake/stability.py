"""Wait until the files a scan listed stop changing: a unit's copy may still be arriving."""
from __future__ import annotations

import os
import time
from pathlib import Path

from wcreport.core.faults import inbox_unreadable


def stat_or_none(path: Path) -> os.stat_result | None:
    """None when the file is gone; any other failure is ours to fix."""
    try:
        return path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise inbox_unreadable(path, exc) from exc


def size_and_mtime(path: Path) -> tuple[int, float] | None:
    st = stat_or_none(path)
    return None if st is None else (st.st_size, st.st_mtime)


def _settled(mtime: float, now: float, stable_seconds: float) -> bool:
    """Unchanged for ``stable_seconds``, or dated in the future (a clock elsewhere: not being written)."""
    age = now - mtime
    return age >= stable_seconds or age < -stable_seconds


def wait_until_stable(root: Path, rels: list[str], stable_seconds: float, max_wait_seconds: float
                      ) -> tuple[dict[str, tuple[int, float]], set[str]]:
    """Stat each file until size+mtime stop changing; return the stats and the still-unstable.

    A file whose mtime lies in the future counts as stable at once: copies with preserved
    times get their (future) time only once complete, and waiting for such a file to age
    would wait for ever. The wait never exceeds ``max_wait_seconds``.
    """
    first = {rel: st for rel in rels if (st := stat_or_none(root / rel)) is not None}
    seen, unstable = settle(root, first, stable_seconds, max_wait_seconds)
    return {rel: (st.st_size, st.st_mtime) for rel, st in seen.items()}, unstable


def settle(root: Path, first: dict[str, os.stat_result], stable_seconds: float, max_wait_seconds: float
           ) -> tuple[dict[str, os.stat_result], set[str]]:
    """``wait_until_stable`` from stats already taken (the listing's), keeping whole stat results."""
    seen = dict(first)
    now = time.time()
    unstable = {rel for rel, st in seen.items() if not _settled(st.st_mtime, now, stable_seconds)}
    deadline = time.monotonic() + max_wait_seconds
    while unstable and time.monotonic() < deadline:
        time.sleep(min(0.25, max(stable_seconds / 4, 0.05)))
        for rel in sorted(unstable):
            st = stat_or_none(root / rel)
            if st is None:
                unstable.discard(rel)
                seen.pop(rel, None)
                continue
            before = seen[rel]
            if (st.st_size, st.st_mtime) == (before.st_size, before.st_mtime) and \
                    _settled(st.st_mtime, time.time(), stable_seconds):
                unstable.discard(rel)
            seen[rel] = st
    return seen, unstable
