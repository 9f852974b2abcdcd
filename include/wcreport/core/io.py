"""Files that readers never see half-written, and JSON ledgers shared between processes.

Every file the pipeline writes goes through ``write_atomic``: the bytes go to a
temporary file in the same folder, are flushed to disk, then renamed over the target,
so a reader (or a crash) sees the old file or the new one, never a mix. The file gets
the permissions the process umask allows (``mkstemp`` alone would leave 0600). A write
that fails (read-only mount, full disk, permissions) raises ``OutputUnwritable`` naming
the file: an operations fault, never a unit's.

``locked_json`` is the one ledger helper: an exclusive ``flock`` on ``<file>.lock``
for the whole read-modify-write, so concurrent task processes never lose an entry.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from wcreport.core.faults import OperationsFault, output_unwritable


class DamagedStateError(OperationsFault):
    """A state file of ours (ledger, manifest) exists but cannot be read: fix it, do not guess."""


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_atomic(path: Path, data: bytes, *, skip_if_same: bool = False, durable: bool = True) -> bool:
    """Write ``data`` to ``path`` atomically and durably; True when the file was written.

    With ``skip_if_same`` an identical existing file is left alone (keeps mtimes stable
    across reruns). ``durable=False`` skips the fsync: for derived files (caches, Data Docs
    pages) that the next run writes again, where many small writes would each wait for the disk.
    """
    path = Path(path)
    if skip_if_same:
        try:
            if path.read_bytes() == data:
                return False
        except OSError:
            pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise output_unwritable(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise output_unwritable(path, exc) from exc
        raise
    return True


def file_mode(mode: int = 0o666) -> int:
    """``mode`` as the process umask allows it (what ``open`` would give a new file)."""
    return mode & ~_umask()


def write_text_atomic(path: Path, text: str, *, skip_if_same: bool = False, durable: bool = True) -> bool:
    return write_atomic(path, text.encode("utf-8"), skip_if_same=skip_if_same, durable=durable)


def write_json_atomic(path: Path, data: Any, *, skip_if_same: bool = False) -> bool:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    return write_text_atomic(path, text, skip_if_same=skip_if_same)


def read_json(path: Path, default: Callable[[], Any], *, fix: str | None = None) -> Any:
    """The JSON in ``path``; ``default()`` when the file does not exist.

    A file that exists but is not valid JSON raises ``DamagedStateError`` naming it and
    ``fix`` (what to do; a generic advice by default): state we wrote ourselves is never
    silently replaced by an empty default.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default()
    except (OSError, UnicodeDecodeError) as exc:
        raise DamagedStateError(f"{path} cannot be read ({exc.__class__.__name__}: {exc})",
                                fix or _RESTORE) from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DamagedStateError(f"{path} is damaged (not valid JSON: {exc})", fix or _RESTORE) from exc


_RESTORE = ("restore it from a backup; do not delete it to start over (docs/runbook.md, "
            "'What failed and what to do', says how each state file is rebuilt)")


@contextlib.contextmanager
def locked_json(path: Path, default: Callable[[], Any], *, fix: str | None = None) -> Iterator[Any]:
    """Read, let the caller change, and save a JSON file under an exclusive lock.

    The lock file is ``<path>.lock`` beside it. The data is saved only when the block
    ends without an exception.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.with_name(path.name + ".lock"), "a+")
    except OSError as exc:
        raise output_unwritable(path.with_name(path.name + ".lock"), exc) from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = read_json(path, default, fix=fix)
            yield data
            write_json_atomic(path, data)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
