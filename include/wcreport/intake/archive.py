"""Every inbox file copied once into ``paths.archive/<sha256>.<ext>``, read-only.

Content-addressed, so a rerun adds nothing and every later step reads our copy, never
the unit's folder. A file dated in the future (the unit's PC clock) gets the time we
first archived it: the copy is made once per content, so every scan clamps to the
same moment and lateness and ordering stay stable.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

from wcreport.core.faults import inbox_unreadable, output_unwritable
from wcreport.core.io import DamagedStateError, file_mode
from wcreport.core.model import FileRecord
from wcreport.intake.formats import archive_ext
from wcreport.intake.stability import size_and_mtime

log = logging.getLogger(__name__)

FUTURE_SLACK_SECONDS = 60.0     # clocks of the share and the workers may differ this much


class Vanished(Exception):
    """The inbox file disappeared while we read it: it is no longer in the folder."""


def archive_file(src: Path, archive_dir: Path, rel: str, stat: tuple[int, float],
                 fmt: str | None) -> tuple[str, Path] | None:
    """Copy ``src`` into the archive under its sha256 (once); None if it changed meanwhile.

    The copy is read-only, with the read bits the umask allows. Raises ``Vanished`` when
    ``src`` disappeared, ``InboxUnreadable`` when it cannot be read and
    ``OutputUnwritable`` when the archive cannot be written.
    """
    for _attempt in range(3):
        with _incoming(archive_dir) as (out, tmp):
            digest = _copy(src, out, archive_dir)
            if size_and_mtime(src) != stat:
                stat = size_and_mtime(src) or stat
                continue  # changed while we copied: copy again
            sha = digest.hexdigest()
            target = archive_dir / f"{sha}.{archive_ext(rel, fmt)}"
            if not target.exists():
                try:
                    os.chmod(tmp, file_mode(0o444))
                    os.replace(tmp, target)
                except OSError as exc:
                    raise output_unwritable(target, exc) from exc
            return sha, target
    return None


@contextlib.contextmanager
def _incoming(archive_dir: Path):
    """(open file, its path): a temporary file in the archive folder, removed unless renamed into place."""
    try:
        archive_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=archive_dir, prefix=".incoming-")
    except OSError as exc:
        raise output_unwritable(archive_dir, exc) from exc
    try:
        with os.fdopen(fd, "wb") as out:
            yield out, tmp
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _copy(src: Path, out, archive_dir: Path):
    """Copy ``src`` into the open ``out`` and return its sha256; each side's failure named."""
    digest = hashlib.sha256()
    try:
        fh = open(src, "rb")
    except FileNotFoundError:
        raise Vanished(str(src)) from None
    except OSError as exc:
        raise inbox_unreadable(src, exc) from exc
    with fh:
        while True:
            try:
                chunk = fh.read(1024 * 1024)
            except OSError as exc:
                raise inbox_unreadable(src, exc) from exc
            if not chunk:
                break
            digest.update(chunk)
            try:
                out.write(chunk)
            except OSError as exc:
                raise output_unwritable(archive_dir, exc) from exc
    try:
        out.flush()
    except OSError as exc:
        raise output_unwritable(archive_dir, exc) from exc
    return digest


def check_archive_copy(archived: Path) -> None:
    """Our archive copy must be readable: if not, that is our fault, not a corrupt unit file."""
    try:
        with open(archived, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DamagedStateError(f"archive copy {archived} cannot be read ({exc.__class__.__name__}: {exc})",
                                "restore the archive folder from a backup, or move the copy aside and "
                                "clear the task: the file is copied again from the inbox") from exc


def clamp_future_mtime(record: FileRecord, archived: Path) -> None:
    """A modification time in the future becomes the time we first archived the file (at most now)."""
    now = time.time()
    if record.mtime <= now + FUTURE_SLACK_SECONDS:
        return
    try:
        first_seen = archived.stat().st_mtime
    except OSError:
        first_seen = now
    written = record.mtime
    record.mtime = min(first_seen, now)
    record.reasons = [*record.reasons, future_time_note(written, record.mtime)]
    log.warning("inbox file %s is dated in the future (%s); using %s", record.path,
                _local(written), _local(record.mtime))


def future_time_note(written: float, used: float) -> str:
    return (f"文件的修改时间（{_local(written)}）晚于当前时间，可能是报送电脑的时钟不准；"
            f"已按本系统首次收到该文件的时间（{_local(used)}）计。")


def _local(moment: float) -> str:
    from wcreport.core.quarter import TZ

    return dt.datetime.fromtimestamp(moment, TZ).strftime("%Y-%m-%d %H:%M")
