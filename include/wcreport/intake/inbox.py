"""The quarter's inbox: list, classify, wait for stable files, archive, read and identify.

Every file under ``paths.inbox`` (recursively) yields exactly one FileRecord, in
path order; symbolic links (to files, to folders, dangling) and other non-regular
entries are listed as ignored, with a reason, and never followed. Every file is first
copied once into ``paths.archive/<sha256>.<ext>`` (content-addressed: reruns copy
nothing). Spreadsheets are read and their unit identified; the result is cached by
content hash under ``<output>/cache`` so the many callers (gather, each unit's ingest,
merge) pay for reading only once.

Ours or the unit's (``wcreport.core.faults``): a missing or unreadable inbox, an
unwritable archive or cache and a damaged archive copy raise; they never turn into a
unit's rejection or absence. A file whose modification time lies in the future (the
unit's PC clock) is not "still being written": its time is clamped to when we first
archived it, and the record says so.

Rescans are cheap: a stat cache per quarter (``<output>/cache/scan-<fingerprint>/``, see
``_ScanCache``) maps each inbox file's (size, mtime_ns, inode, ctime_ns) to its processed
record, so a file unchanged since the last scan is not copied, hashed, read or identified
again, and ``scan_and_identify(..., unit=key)`` (one ``ingest_unit``) reads only that
unit's records, and neither lists nor stats the other units' folders (``_list_for_unit``):
its cost does not grow with the files in other units' folders, nor, once the quarter
folder's listing is cached and the folder unchanged, with their number. Loose files (in no
unit's folder) are stat'ed by every unit's scan.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import re
import stat as stat_module
import tempfile
import time
from pathlib import Path

from wcreport.core.faults import OperationsFault, inbox_missing, inbox_unreadable, output_unwritable
from wcreport.core.findings_catalogue import finding, finding_with_text
from wcreport.core.io import DamagedStateError, file_mode, write_atomic
from wcreport.core.model import FileRecord, ParsedReport, StampedCopy
from wcreport.core.settings import settings
from wcreport.intake.identity import explicit_evidence, identify_unit
from wcreport.intake.locate import locate_report
from wcreport.intake.reader import MAX_ROWS, READABLE, UnreadableFile, detect_format, read_workbook
from wcreport.intake.stamped import SCAN_FORMATS, sniff

log = logging.getLogger(__name__)

CACHE_VERSION = "3"   # bump when cached reasons change (they are stored as text)
STAMPED_CACHE_VERSION = "1"   # bump when the stamped-copy reader's results change
SCAN_EXTS = {".pdf", ".jpg", ".jpeg", ".png", ".ofd"}
# Stamped-copy refusals that may not recur on another run: such a reading is not cached.
TRANSIENT_SCAN_CODES = {"stamped.tool.missing", "stamped.ocr.timeout"}
SPREADSHEET_EXTS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".xlt", ".xltx", ".xltm", ".et", ".ett", ".ods", ".ots"}
TEMP_EXTS = {".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", ".bak", ".wbk"}
SYSTEM_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")
STILL_WRITING = "文件仍在写入（大小或修改时间仍在变化），本次未处理，下次运行时再处理。"
LINK_TO_FILE = "符号链接（快捷方式）不是报表文件，已忽略。请将报表文件本身放入收件文件夹。"
LINK_TO_FOLDER = "指向文件夹的符号链接（快捷方式），其中的文件未读取，已忽略。请将报表文件本身放入收件文件夹。"
LINK_DANGLING = "符号链接（快捷方式）指向的文件不存在，已忽略。请将报表文件本身放入收件文件夹。"
NOT_A_FILE = "不是普通文件（设备、管道或套接字），已忽略。"


def classify(rel: str, size: int) -> tuple[str, str | None]:
    """(kind, Chinese reason if ignored) from the file's name and size alone."""
    parts = rel.split("/")
    name = parts[-1]
    lower = name.lower()
    if name.startswith("~$"):
        return "lock", "Office/WPS 打开表格时自动生成的锁文件（~$ 开头），不是报表，已忽略。"
    if name.startswith(".~lock.") and name.endswith("#"):
        return "lock", "LibreOffice/WPS 打开表格时自动生成的锁文件（.~lock. 开头），不是报表，已忽略。"
    if any(p.startswith(".") for p in parts) or lower in SYSTEM_NAMES or "__MACOSX" in parts:
        return "hidden", "隐藏文件或系统文件，不是报表，已忽略。"
    suffix = Path(lower).suffix
    if suffix in TEMP_EXTS or (name.startswith("~") and suffix in ("", ".tmp")):
        return "temporary", f"临时文件（{suffix or '~ 开头'}），可能是保存或传输未完成时留下的，已忽略。"
    if size == 0:
        return "empty", "文件为空（0 字节），可能保存或传输未完成，已忽略。如需报送，请重新保存后发送。"
    return "spreadsheet", None


def _describe_other(rel: str) -> str:
    suffix = Path(rel).suffix.lower() or "无扩展名"
    return (f"不是电子表格文件（{suffix}），已忽略。报表请使用通知附件的表格格式，"
            "另存为 .xlsx 后报送。")


def _stat(path: Path) -> tuple[int, float] | None:
    """(size, mtime); None when the file is gone. Any other failure is ours to fix."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise inbox_unreadable(path, exc) from exc
    return st.st_size, st.st_mtime


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
    first = {rel: st for rel in rels if (st := _stat_result(root / rel)) is not None}
    seen, unstable = _settle(root, first, stable_seconds, max_wait_seconds)
    return {rel: (st.st_size, st.st_mtime) for rel, st in seen.items()}, unstable


def _stat_result(path: Path) -> os.stat_result | None:
    """``_stat``, whole: None when the file is gone, any other failure is ours to fix."""
    try:
        return path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise inbox_unreadable(path, exc) from exc


def _settle(root: Path, first: dict[str, os.stat_result], stable_seconds: float, max_wait_seconds: float
            ) -> tuple[dict[str, os.stat_result], set[str]]:
    """``wait_until_stable`` from stats already taken (the listing's), keeping whole stat results."""
    seen = dict(first)
    now = time.time()
    unstable = {rel for rel, st in seen.items() if not _settled(st.st_mtime, now, stable_seconds)}
    deadline = time.monotonic() + max_wait_seconds
    while unstable and time.monotonic() < deadline:
        time.sleep(min(0.25, max(stable_seconds / 4, 0.05)))
        for rel in sorted(unstable):
            st = _stat_result(root / rel)
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


def _archive_ext(rel: str, fmt: str | None) -> str:
    if fmt in READABLE or fmt in SCAN_FORMATS:
        return fmt
    suffix = Path(rel).suffix.lower().lstrip(".")
    return suffix if _EXT_RE.match(suffix) else "bin"


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
            if _stat(src) != stat:
                stat = _stat(src) or stat
                continue  # changed while we copied: copy again
            sha = digest.hexdigest()
            target = archive_dir / f"{sha}.{_archive_ext(rel, fmt)}"
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


_programme_fingerprint_cache: tuple[object, str] | None = None


def programme_fingerprint(programme) -> str:
    """Hash of the (frozen) programme, computed once per programme object, not per file."""
    global _programme_fingerprint_cache
    if _programme_fingerprint_cache is not None and _programme_fingerprint_cache[0] is programme:
        return _programme_fingerprint_cache[1]
    text = programme.model_dump_json() + CACHE_VERSION
    value = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    _programme_fingerprint_cache = (programme, value)
    return value


def read_cached(paths, programme, sha: str, archived: Path) -> tuple[str | None, ParsedReport | None, UnreadableFile | None]:
    """(format, parsed report, error) for an archived file, cached by content hash."""
    cache = paths.output / "cache" / f"{sha}-{programme_fingerprint(programme)}.json"
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        error = UnreadableFile(data["error"]["code"], data["error"]["reason"]) if data.get("error") else None
        parsed = ParsedReport.model_validate(data["parsed"]) if data.get("parsed") else None
        return data.get("format"), parsed, error
    except (OSError, ValueError, KeyError):
        pass
    _check_archive_copy(archived)
    fmt = detect_format(archived)
    parsed: ParsedReport | None = None
    error: UnreadableFile | None = None
    try:
        grid = read_workbook(archived)
    except UnreadableFile as exc:
        error = exc
    except OperationsFault:
        raise
    except Exception:           # the parser choked on the unit's bytes: the file's problem
        log.exception("unexpected error reading %s", archived)
        error = UnreadableFile.of("file.corrupt", cause="unexpected")
    else:
        parsed = locate_report(grid, programme)     # a failure here is ours: it propagates
        parsed.findings += rows_not_read(grid, parsed)
    payload = {"format": fmt, "parsed": parsed.model_dump(mode="json") if parsed else None,
               "error": {"code": error.code, "reason": error.reason} if error else None}
    write_atomic(cache, json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8"), skip_if_same=True)
    return fmt, parsed, error


def rows_not_read(grid, parsed: ParsedReport) -> list:
    """A finding for each sheet the report reads whose content goes on beyond the reader's row limit."""
    used = {parsed.sheet, *(i.sheet for i in parsed.indicators)}
    return [finding("table.too_many_rows", sheet=sheet.name, limit=MAX_ROWS, last=sheet.last_row)
            for sheet in grid.sheets if sheet.name in used and (sheet.last_row or 0) > MAX_ROWS]


def _check_archive_copy(archived: Path) -> None:
    """Our archive copy must be readable: if not, that is our fault, not a corrupt unit file."""
    try:
        with open(archived, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DamagedStateError(f"archive copy {archived} cannot be read ({exc.__class__.__name__}: {exc})",
                                "restore the archive folder from a backup, or move the copy aside and "
                                "clear the task: the file is copied again from the inbox") from exc


def _list(paths) -> tuple[list[str], list[FileRecord], dict[str, os.stat_result]]:
    """(regular files to read, records of entries never followed, the regular files' lstat).

    Each path is relative to the inbox. A missing inbox or a folder that cannot be listed
    raises: "no files" must never be the result of a folder we could not see.
    """
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
                kept, st = _not_followed(os.path.join(dirpath, name), rel, is_dir=is_dir)
                if kept is not None:
                    skipped.append(kept)
                elif not is_dir:
                    rels.append(rel)
                    if st is not None:      # None: gone since the listing (it is not in the folder any more)
                        stats[rel] = st
    return sorted(rels), sorted(skipped, key=lambda r: r.path), stats


def _not_followed(full: str, rel: str, *, is_dir: bool) -> tuple[FileRecord | None, os.stat_result | None]:
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


def _list_for_unit(paths, programme, unit: str, cache: _ScanCache
                   ) -> tuple[list[str], dict[str, os.stat_result], set[str]]:
    """(regular files that may be ``unit``'s, their lstat, the folders listed), relative to the inbox.

    What a one-unit scan leaves out can never be that unit's file, whatever it holds:

    - folders below which every file is another unit's, refused or ignored (``_folder_owner``):
      they are neither listed nor stat'ed, so another unit's folder costs nothing, however full;
    - symbolic links and other non-regular entries: the full scan ignores them with no unit.

    Every other file is stat'ed, wherever it lies: a loose file (in no unit's folder) that
    the stat cache gives to another unit may have been overwritten in place since (a unit
    copying its file over one of the same name changes no folder's mtime), and may now be
    this unit's. A folder unchanged since its listing was cached (``_ScanCache.listing``) is
    not read again: only its entries that can concern ``unit`` are visited. Errors as ``_list``.
    """
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
                 cache: _ScanCache) -> list[str] | None:
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


def _listing(fd: int, folder: str, programme, cache: _ScanCache) -> tuple[dict[str, list[str]], list[str]]:
    """({owner: names of the sub-folders it owns}, names of the regular files) of the open folder:
    the cached listing if the folder is unchanged since, else read now (and cached if it can be
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


ANY_UNIT = ""       # ``_folder_owner``: any unit's files may lie below the folder (not a unit key)


def _folder_owner(folder: str, programme) -> str | None:
    """The only unit whose files may lie below ``folder``; None if no unit's may; ``ANY_UNIT``
    if any unit's may. Whatever a file below it holds or is named:

    - a hidden folder (``.x``, ``__MACOSX``): every file below it is ignored as hidden (None);
    - a folder whose path is explicit evidence (docs/identity.md) for one unit: a file below
      it is that unit's or refused, since a deeper folder or a 「单位：」 line naming another
      unit disagrees with it, disagreeing explicit evidence refuses the file, and weak
      evidence (the 责任单位 column, the file name) is never weighed against explicit evidence;
    - a folder whose path refuses every file below it (a folder naming several units,
      folders naming different units): None.
    """
    if any(part.startswith(".") or part == "__MACOSX" for part in folder.split("/")):
        owner = None
    else:
        found = explicit_evidence(None, f"{folder}/-", programme)
        owner = found[0].unit if found else ANY_UNIT
    return owner


def scan_and_identify(paths, programme, *, stable_seconds: float = 2.0, max_wait_seconds: float = 30.0,
                      unit: str | None = None) -> list[FileRecord]:
    """One FileRecord per inbox entry, in path order; see the module docstring.

    With ``unit`` (a unit key): only the records whose ``unit`` is that unit, exactly as the
    full scan gives them. Files unchanged since an earlier scan come from the stat cache
    (``_ScanCache``); a unit's scan reads only that unit's cached records, and fully
    processes only files that are new or changed (whichever unit they turn out to be).

    Operations faults raise. A failure of our own code on one file rejects that file with
    ``file.internal_error`` (the others are still processed); the orchestration fails the
    task afterwards (``internal_errors``), so it is never a silent rejection.
    """
    cache = _ScanCache(paths, programme, unit)
    if unit is None:
        rels, skipped, listed = _list(paths)
        folders = None
    else:
        rels, listed, folders = _list_for_unit(paths, programme, unit, cache)
        skipped = []
    others = set() if unit is None else cache.other_units(listed)
    # another unit's unchanged files are not this unit's, however recent: no wait for them
    stats, unstable = _settle(paths.inbox, {rel: st for rel, st in listed.items() if rel not in others},
                              stable_seconds, max_wait_seconds)
    records: list[FileRecord] = list(skipped)
    for rel in rels:
        if rel not in stats:
            continue  # vanished while we looked: it is not in the folder any more
        st = stats[rel]
        if rel not in unstable:
            cached = cache.lookup(rel, st)
            if cached is _OTHER_UNIT:
                continue
            if cached is not None:
                records.append(cached)
                continue
        record = FileRecord(path=rel, size=st.st_size, mtime=st.st_mtime)
        try:
            _process(paths, programme, record, rel in unstable)
        except Vanished:
            continue
        except OperationsFault:
            raise
        except Exception:
            log.exception("unexpected error on inbox file %s", rel)
            reject_internal_error(record, programme)
        else:
            cache.store(rel, st, record)
        if unit is None or record.unit == unit:
            records.append(record)
    cache.save(present=set(stats) | others, listed=folders)
    return sorted(records, key=lambda r: r.path)


_OTHER_UNIT = object()      # ``_ScanCache.lookup``: unchanged, and another unit's (a one-unit scan skips it)
SCAN_CACHE_VERSION = "1"    # bump when the stat cache's layout changes


class _ScanCache:
    """Processed records of unchanged inbox files: the stat cache of one quarter.

    Layout, under ``<output>/cache/scan-<fingerprint>/``, the fingerprint covering the
    programme (``programme_fingerprint``, with ``CACHE_VERSION``), the stamped-copy reading settings
    (``_stamped_fingerprint``), the source of the code that shapes a record
    (``_code_fingerprint``) and ``SCAN_CACHE_VERSION``:

    - ``index.json``: ``{"files": {rel: [size, mtime_ns, ino, ctime_ns, unit or null]}}``,
      the compact map a one-unit scan checks every listed file against;
    - ``unit-<key>.json`` (``unit-none.json`` for records without a unit):
      ``{"files": {rel: {"stat": [size, mtime_ns, ino, ctime_ns], "record": FileRecord}}}``,
      the full records, so a one-unit scan deserialises its own records only;
    - ``folders.json``: ``{"folders": {folder: unit key, "" or null}}``, each folder's owner
      as ``_folder_owner`` worked it out for a one-unit scan (a function of the path and the
      programme alone, so never stale);
    - ``listings.json``: ``{"listings": {folder: [mtime_ns, ino, dev, taken_ns, {owner: [name]},
      [file name]]}}``, the folders a one-unit scan read whose sub-folders some unit's scan
      leaves out (in practice the quarter folder of unit folders): the folder's stat and when
      it was read, its sub-folders grouped by owner (unit key, or "" for any unit's; those of
      no unit's left out) and its regular files. A unit's scan of a folder whose stat is the
      one stored visits only its own group, the "" group and the files (``_listing``), unless
      the listing was taken within ``LISTING_SAFETY_SECONDS`` of the folder's mtime.

    A record is used only when the file's stat equals the key stored with the record itself
    (the index only says whose a file is), its archive copy still exists (a copy moved
    aside is made again by processing the file), and a clamped future mtime would be
    clamped the same way now. Never cached: files still being written, records rejected
    with ``file.internal_error``, stamped copies with a transient finding
    (``TRANSIENT_SCAN_CODES``), anything that raised.

    Limit, as for make and rsync: a file rewritten in place with the same size, mtime,
    inode and change time (ctime cannot be set back by a user, only by the clock) keeps its
    old record; the archive still keeps every content it saw under its sha256.
    A damaged or unreadable cache file is ignored (and rewritten when next updated).
    Writers do not lock: concurrent scans (``ingest_unit`` under LocalExecutor or Celery)
    may lose each other's updates, which only costs recomputation, since every entry
    carries its own key. Cache files are renamed into place without fsync: after a crash a
    damaged one is ignored.
    """

    def __init__(self, paths, programme, unit: str | None):
        self.paths = paths
        self.unit = unit
        fingerprint = f"{SCAN_CACHE_VERSION}:{programme_fingerprint(programme)}:{_stamped_fingerprint(settings())}:" \
                      f"{_code_fingerprint()}"
        self.folder = paths.output / "cache" / f"scan-{hashlib.sha256(fingerprint.encode()).hexdigest()[:16]}"
        self.index: dict[str, list] = _read_index(self.folder / "index.json")
        self._owners: dict[str, str | None] | None = None      # read when first needed
        self.learnt_owners: dict[str, str | None] = {}
        self._listings: dict[str, list] | None = None
        self.learnt_listings: dict[str, list] = {}
        self.groups: dict[str | None, dict[str, dict]] = {}
        self.added: dict[str, tuple[list, dict]] = {}       # rel -> (index entry, group entry)

    def _group_file(self, unit: str | None) -> Path:
        name = unit if unit is not None and _UNIT_KEY.match(unit) else "none"
        if unit is not None and name == "none":
            name = "x" + hashlib.sha256(unit.encode("utf-8")).hexdigest()[:16]
        return self.folder / f"unit-{name}.json"

    def _group(self, unit: str | None) -> dict[str, dict]:
        if unit not in self.groups:
            self.groups[unit] = _read_entries(self._group_file(unit))
        return self.groups[unit]

    @property
    def owners(self) -> dict[str, str | None]:
        if self._owners is None:
            self._owners = _read_index(self.folder / "folders.json", "folders")
        return self._owners

    def listing(self, folder: str, st: os.stat_result) -> tuple[dict[str, list[str]], list[str]] | None:
        """``_listing`` of ``folder`` from ``listings.json``, if the folder's stat is the one it was
        listed with, and it was listed long enough after its mtime to have seen every change
        that mtime stands for (``LISTING_SAFETY_SECONDS``); else None (list it again)."""
        if self._listings is None:
            self._listings = _read_index(self.folder / "listings.json", "listings")
        entry = self._listings.get(folder)
        if not (type(entry) is list and len(entry) == 6 and entry[:3] == [st.st_mtime_ns, st.st_ino, st.st_dev]
                and type(entry[3]) is int and _trusted_listing(entry[3], st.st_mtime_ns)
                and type(entry[4]) is dict):
            return None
        groups = {owner: entry[4].get(owner, []) for owner in (ANY_UNIT, self.unit)}
        files = entry[5]
        if not all(_names(names) for names in (*groups.values(), files)):
            return None         # damaged
        return groups, files

    def learn_listing(self, folder: str, st: os.stat_result, taken_ns: int,
                      groups: dict[str, list[str]], files: list[str], leaves_out: bool) -> None:
        """Keep a fresh listing for ``save`` if it can be trusted later and saves work: when
        some unit's scan leaves out some of its sub-folders (``leaves_out``); else every
        entry concerns every unit, and listing the folder costs no more than reading it."""
        if leaves_out and _trusted_listing(taken_ns, st.st_mtime_ns):
            self.learnt_listings[folder] = [st.st_mtime_ns, st.st_ino, st.st_dev, taken_ns, groups, files]

    def folder_owner(self, folder: str, programme) -> str | None:
        """``_folder_owner``, from ``folders.json`` once known: a folder's owner depends only on
        its path and the programme, and the cache folder is the programme's."""
        owner = self.owners.get(folder, 0)
        if owner is not None and owner != ANY_UNIT and owner not in programme.units_by_key:   # unknown, damaged
            owner = self.owners[folder] = self.learnt_owners[folder] = _folder_owner(folder, programme)
        return owner

    def other_units(self, stats: dict[str, os.stat_result]) -> set[str]:
        """The files unchanged since a scan found they are another unit's (a one-unit scan's);
        one pass, inline: a loose inbox has a file per unit, stat'ed by every unit's scan."""
        index, unit = self.index, self.unit
        return {rel for rel, st in stats.items()
                if type(entry := index.get(rel)) is list and len(entry) == 5 and entry[4] != unit
                and entry[0] == st.st_size and entry[1] == st.st_mtime_ns and entry[2] == st.st_ino
                and entry[3] == st.st_ctime_ns}

    def lookup(self, rel: str, st: os.stat_result):
        """The cached record of an unchanged file; ``_OTHER_UNIT``; or None (process the file)."""
        entry = self.index.get(rel)
        key = _stat_key(st)
        if not isinstance(entry, list) or len(entry) != 5 or entry[:4] != key:
            return None
        owner = entry[4]
        if self.unit is not None and owner != self.unit:
            return _OTHER_UNIT
        cached = self._group(owner).get(rel)
        if not isinstance(cached, dict) or cached.get("stat") != key:
            return None
        record = _cached_record(cached.get("record"))
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
        key = _stat_key(st)
        self.added[rel] = ([*key, record.unit], {"stat": key, "record": record.model_dump(mode="json")})

    def save(self, present: set[str], listed: set[str] | None = None) -> None:
        """Write what this scan learnt: new records, and the files gone from the folder.

        ``listed``: the folders a one-unit scan listed (None: all); a file elsewhere is not
        gone for not being seen (the next full scan forgets it if it is).
        """
        _merge_cache(self.folder / "folders.json", "folders", self.learnt_owners)
        _merge_cache(self.folder / "listings.json", "listings", self.learnt_listings)
        if listed is not None and not self.added:
            return      # a file gone from a listed folder: its entry matches nothing, and goes at the next write
        gone = set(self.index) - present
        if listed is not None:
            gone = {rel for rel in gone if rel.rpartition("/")[0] in listed}
        if not self.added and not gone:
            return
        by_unit: dict[str | None, dict[str, dict]] = {}
        for rel, (entry, cached) in self.added.items():
            by_unit.setdefault(entry[4], {})[rel] = cached
        for owner, fresh in by_unit.items():      # records first: an index entry without one is a miss
            group = _read_entries(self._group_file(owner))      # others may have written since we read
            group = {rel: value for rel, value in group.items() if rel in present and rel not in self.added}
            group.update(fresh)
            _write_cache(self._group_file(owner), {"files": group})
        index = _read_entries(self.folder / "index.json")
        index = {rel: value for rel, value in index.items() if rel not in gone}
        index.update({rel: entry for rel, (entry, _cached) in self.added.items()})
        _write_cache(self.folder / "index.json", {"files": index})


_UNIT_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def _trusted_listing(taken_ns: int, mtime_ns: int) -> bool:
    """A folder's listing taken at ``taken_ns`` shows every change its ``mtime_ns`` stands for."""
    return taken_ns - mtime_ns >= LISTING_SAFETY_SECONDS * 1e9


def _names(value) -> bool:
    """A cached listing's names: entry names of one folder (a damaged one is listed again)."""
    return type(value) is list and all(type(name) is str and "/" not in name and name not in ("", ".", "..")
                                       for name in value)


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def _cached_record(data) -> FileRecord | None:
    """A record from the stat cache (None if it does not validate): the one place records are deserialised."""
    try:
        return FileRecord.model_validate(data)
    except ValueError:
        return None


_index_memo: dict[str, tuple[tuple, dict]] = {}


def _read_index(path: Path, field: str = "files") -> dict:
    """``_read_entries`` of the index or the folder owners, read again only when its stat changed.
    A stale map (rewritten within the clock's resolution) costs only recomputation: each index
    entry carries the stat of the file it describes, records are read with their own stat, and
    a folder's owner never changes for the cache folder's programme."""
    try:
        st = path.stat()
    except OSError:
        return _read_entries(path, field)
    key = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    memo = _index_memo.get(str(path))
    if memo is None or memo[0] != key:
        memo = _index_memo[str(path)] = (key, _read_entries(path, field))
    return memo[1]


def _read_entries(path: Path, field: str = "files") -> dict:
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


def _merge_cache(path: Path, field: str, learnt: dict) -> None:
    """Add ``learnt`` to the ``field`` map of a cache file as it is now (others may have written since)."""
    if learnt:
        entries = _read_entries(path, field)
        entries.update(learnt)
        _write_cache(path, {field: entries})


def _write_cache(path: Path, data: dict) -> None:
    """A cache file replaced whole, without the fsync (a damaged one is ignored and rebuilt)."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    write_atomic(path, payload, durable=False)


_code_fingerprint_value: str | None = None


def _code_fingerprint() -> str:
    """Hash of the source that shapes a record (``intake`` and ``core``): a deploy invalidates the stat cache."""
    global _code_fingerprint_value
    if _code_fingerprint_value is None:
        digest = hashlib.sha256()
        package = Path(__file__).resolve().parents[1]
        for folder in ("intake", "core"):
            for source in sorted((package / folder).glob("*.py")):
                try:
                    digest.update(source.name.encode() + b"\0" + source.read_bytes())
                except OSError:
                    digest.update(source.name.encode() + b"\0?")
        _code_fingerprint_value = digest.hexdigest()[:12]
    return _code_fingerprint_value


def still_being_written(record: FileRecord) -> bool:
    """A would-be report that was still changing when the scan's wait ran out."""
    return record.status == "ignored" and record.reasons == [STILL_WRITING]


def internal_errors(records: list[FileRecord]) -> list[FileRecord]:
    """Files our own code failed on (rejected with ``file.internal_error``)."""
    return [r for r in records if any(f.code == "file.internal_error" for f in r.findings)]


def reject_internal_error(record: FileRecord, programme) -> None:
    """Reject a file our own code failed on, naming the programme's organiser as contact."""
    error = finding("file.internal_error", organiser=programme.report.organiser)
    record.status = "rejected"
    record.reasons = [error.message]
    record.findings = [error]


FUTURE_SLACK_SECONDS = 60.0     # clocks of the share and the workers may differ this much
# A folder's mtime changes with every entry added, removed or renamed, but only to the
# resolution of its file system's clock (2 s on FAT, coarser on some shares), and a share
# stamps it with its own clock. A listing taken less than this after the folder's mtime may
# have missed a change that left the mtime as it was (git's "racily clean" index entries):
# it is not trusted (``_ScanCache.listing``), nor kept.
LISTING_SAFETY_SECONDS = 2.0 + FUTURE_SLACK_SECONDS


def _clamp_future_mtime(record: FileRecord, archived: Path) -> None:
    """A modification time in the future becomes the time we first archived the file (at most now).

    The archive copy is made once per content, so every later scan and rerun clamps to the
    same moment: lateness and ordering stay stable.
    """
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


def _process(paths, programme, record: FileRecord, unstable: bool) -> None:
    src = paths.inbox / record.path
    kind, reason = classify(record.path, record.size)
    record.kind = kind
    if unstable:
        record.status = "ignored"
        record.reasons = [STILL_WRITING]
        return
    if src.is_symlink():        # replaced by a link after the listing
        record.kind, record.status, record.reasons = "other", "ignored", [LINK_TO_FILE]
        return
    fmt = detect_format(src) if kind == "spreadsheet" else None
    scan_format = None
    if kind == "spreadsheet" and fmt is None and is_scan(src, record.path):
        kind = record.kind = "stamped_copy"
        scan_format = sniff(src)
    archived = archive_file(src, paths.archive, record.path, (record.size, record.mtime), fmt or scan_format)
    if archived is None:
        record.status = "ignored"
        record.reasons = [STILL_WRITING]
        return
    sha, target = archived
    record.sha256 = sha
    record.archived_as = target.relative_to(paths.output_root).as_posix()
    _clamp_future_mtime(record, target)
    if kind == "stamped_copy":
        _process_stamped_copy(paths, programme, record, target)
        return
    if kind != "spreadsheet":
        record.status, record.reasons = "ignored", [reason or ""]
        return
    suffix = Path(record.path).suffix.lower()
    if fmt is None and suffix not in SPREADSHEET_EXTS:
        record.kind, record.status, record.reasons = "other", "ignored", [_describe_other(record.path)]
        return
    fmt, parsed, error = read_cached(paths, programme, sha, target)
    record.format = fmt if fmt in READABLE else None
    identity = identify_unit(parsed, record.path, programme)
    record.unit = identity.unit
    record.unit_source = identity.source
    if error is not None:
        record.status = "rejected"
        record.reasons = [error.reason]
        record.findings = [error.as_finding()]
    elif identity.unit is None:
        record.status = "rejected"
        record.reasons = [identity.reason]
        record.findings = [finding_with_text("unit.unknown", identity.reason)]
    else:
        record.status = "pending"


def is_scan(src: Path, rel: str) -> bool:
    """A stamped copy (盖章件): PDF, JPEG, PNG or OFD by its bytes, or by its name (then read to say why not)."""
    return sniff(src) in SCAN_FORMATS or Path(rel).suffix.lower() in SCAN_EXTS


def _process_stamped_copy(paths, programme, record: FileRecord, archived: Path) -> None:
    """Read the scan, identify its unit like a workbook's; pending when readable, else rejected."""
    copy = read_stamped_cached(paths, record.sha256 or "", archived, record.path)
    record.format = copy.format
    record.findings = list(copy.findings)
    record.reasons = [*record.reasons, *copy.reasons]
    identity = identify_unit(ParsedReport(unit_line=copy.unit_line), record.path, programme)
    record.unit = identity.unit
    record.unit_source = identity.source
    if not copy.readable:
        record.status = "rejected"
    elif identity.unit is None:
        record.status = "rejected"
        record.reasons = [*record.reasons, identity.reason]
        record.findings = [*record.findings, finding_with_text("unit.unknown", identity.reason)]
    else:
        record.status = "pending"


def read_stamped_cached(paths, sha: str, archived: Path, name: str) -> StampedCopy:
    """The stamped copy read from its archive copy, cached by content hash and the reading settings.

    OCR costs seconds per page and the inbox is scanned by gather, every unit's ingest
    and merge: each content is read once. ``name`` (the inbox path) names the result.
    """
    config = settings()
    cache = paths.output / "cache" / f"{sha}-stamped-{_stamped_fingerprint(config)}.json"
    try:
        cached = StampedCopy.model_validate_json(cache.read_text(encoding="utf-8"))
        return cached.model_copy(update={"path": name})
    except (OSError, ValueError):
        pass
    _check_archive_copy(archived)
    copy = read_stamped_copy(archived, name=name, config=config)
    if not any(f.code in TRANSIENT_SCAN_CODES for f in copy.findings):
        write_atomic(cache, copy.model_dump_json().encode("utf-8"), skip_if_same=True)
    return copy


def read_stamped_copy(archived: Path, *, name: str, config) -> StampedCopy:
    """The stamped-copy reader, imported on first use: a unit's ingest without a scan does
    not pay for Pillow and rapidfuzz."""
    from wcreport.intake.stamped import read_stamped_copy as read

    return read(archived, name=name, config=config)


def _stamped_fingerprint(config) -> str:
    """Hash of what changes a stamped copy's reading: resolution, limits and the reader's version."""
    text = (f"{STAMPED_CACHE_VERSION}:{config.ocr_dpi}:{config.scan_max_pages}:"
            f"{config.max_file_bytes}:{config.ocr_timeout_seconds}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
