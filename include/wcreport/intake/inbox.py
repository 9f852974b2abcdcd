"""The quarter's inbox: list, classify, wait for stable files, archive, read and identify.

Every file under ``paths.inbox`` (recursively) yields exactly one FileRecord, in
path order. Every file is first copied once into ``paths.archive/<sha256>.<ext>``
(content-addressed: reruns copy nothing). Spreadsheets are read and their unit
identified; the result is cached by content hash under ``<output>/cache`` so the
many callers (gather, each unit's ingest, merge) pay for reading only once.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path

from wcreport.core.findings_catalogue import finding, finding_with_text
from wcreport.core.io import write_atomic
from wcreport.core.model import FileRecord, ParsedReport
from wcreport.intake.identity import identify_unit
from wcreport.intake.locate import locate_report
from wcreport.intake.reader import READABLE, UnreadableFile, detect_format, read_workbook

log = logging.getLogger(__name__)

CACHE_VERSION = "2"   # bump when cached reasons change (they are stored as text)
SPREADSHEET_EXTS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".xlt", ".xltx", ".xltm", ".et", ".ett", ".ods", ".ots"}
TEMP_EXTS = {".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", ".bak", ".wbk"}
SYSTEM_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")


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
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime


def wait_until_stable(root: Path, rels: list[str], stable_seconds: float, max_wait_seconds: float
                      ) -> tuple[dict[str, tuple[int, float]], set[str]]:
    """Stat each file until size+mtime stop changing; return the stats and the still-unstable."""
    seen: dict[str, tuple[int, float]] = {}
    for rel in rels:
        st = _stat(root / rel)
        if st is not None:
            seen[rel] = st
    unstable = {rel for rel, (_s, mtime) in seen.items() if time.time() - mtime < stable_seconds}
    deadline = time.monotonic() + max_wait_seconds
    while unstable and time.monotonic() < deadline:
        time.sleep(min(0.25, max(stable_seconds / 4, 0.05)))
        for rel in sorted(unstable):
            st = _stat(root / rel)
            if st is None:
                unstable.discard(rel)
                seen.pop(rel, None)
                continue
            if st == seen[rel] and time.time() - st[1] >= stable_seconds:
                unstable.discard(rel)
            seen[rel] = st
    return seen, unstable


def _archive_ext(rel: str, fmt: str | None) -> str:
    if fmt in READABLE:
        return fmt
    suffix = Path(rel).suffix.lower().lstrip(".")
    return suffix if _EXT_RE.match(suffix) else "bin"


def archive_file(src: Path, archive_dir: Path, rel: str, stat: tuple[int, float],
                 fmt: str | None) -> tuple[str, Path] | None:
    """Copy ``src`` into the archive under its sha256 (once); None if it changed meanwhile."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    for _attempt in range(3):
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=archive_dir, prefix=".incoming-")
        try:
            with open(src, "rb") as fh, os.fdopen(fd, "wb") as out:
                for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if _stat(src) != stat:
                stat = _stat(src) or stat
                continue  # changed while we copied: copy again
            sha = digest.hexdigest()
            target = archive_dir / f"{sha}.{_archive_ext(rel, fmt)}"
            if not target.exists():
                os.replace(tmp, target)
                os.chmod(target, 0o444)
            return sha, target
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return None


_fingerprint_cache: tuple[object, str] | None = None


def _fingerprint(programme) -> str:
    """Hash of the (frozen) programme, computed once per programme object, not per file."""
    global _fingerprint_cache
    if _fingerprint_cache is not None and _fingerprint_cache[0] is programme:
        return _fingerprint_cache[1]
    text = programme.model_dump_json() + CACHE_VERSION
    value = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    _fingerprint_cache = (programme, value)
    return value


def read_cached(paths, programme, sha: str, archived: Path) -> tuple[str | None, ParsedReport | None, UnreadableFile | None]:
    """(format, parsed report, error) for an archived file, cached by content hash."""
    cache = paths.output / "cache" / f"{sha}-{_fingerprint(programme)}.json"
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        error = UnreadableFile(data["error"]["code"], data["error"]["reason"]) if data.get("error") else None
        parsed = ParsedReport.model_validate(data["parsed"]) if data.get("parsed") else None
        return data.get("format"), parsed, error
    except (OSError, ValueError, KeyError):
        pass
    fmt = detect_format(archived)
    parsed: ParsedReport | None = None
    error: UnreadableFile | None = None
    try:
        grid = read_workbook(archived)
        parsed = locate_report(grid, programme)
    except UnreadableFile as exc:
        error = exc
    except Exception:
        log.exception("unexpected error reading %s", archived)
        error = UnreadableFile.of("file.corrupt", cause="unexpected")
    payload = {"format": fmt, "parsed": parsed.model_dump(mode="json") if parsed else None,
               "error": {"code": error.code, "reason": error.reason} if error else None}
    write_atomic(cache, json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8"), skip_if_same=True)
    return fmt, parsed, error


def _list(inbox: Path) -> list[str]:
    if not inbox.is_dir():
        return []
    rels = []
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        dirnames.sort()
        for name in filenames:
            rels.append((Path(dirpath) / name).relative_to(inbox).as_posix())
    return sorted(rels)


def scan_and_identify(paths, programme, *, stable_seconds: float = 2.0,
                      max_wait_seconds: float = 30.0) -> list[FileRecord]:
    """One FileRecord per inbox file, in path order; see the module docstring."""
    inbox = paths.inbox
    rels = _list(inbox)
    stats, unstable = wait_until_stable(inbox, rels, stable_seconds, max_wait_seconds)
    records: list[FileRecord] = []
    for rel in rels:
        if rel not in stats:
            continue  # vanished while we looked: it is not in the folder any more
        size, mtime = stats[rel]
        record = FileRecord(path=rel, size=size, mtime=mtime)
        try:
            _process(paths, programme, record, rel in unstable)
        except Exception:
            log.exception("unexpected error on inbox file %s", rel)
            reject_internal_error(record, programme)
        records.append(record)
    return records


def reject_internal_error(record: FileRecord, programme) -> None:
    """Reject a file our own code failed on, naming the programme's organiser as contact."""
    error = finding("file.internal_error", organiser=programme.report.organiser)
    record.status = "rejected"
    record.reasons = [error.message]
    record.findings = [error]


def _process(paths, programme, record: FileRecord, unstable: bool) -> None:
    src = paths.inbox / record.path
    kind, reason = classify(record.path, record.size)
    record.kind = kind
    if unstable:
        record.status = "ignored"
        record.reasons = ["文件仍在写入（大小或修改时间仍在变化），本次未处理，下次运行时再处理。"]
        return
    if src.is_symlink():
        record.kind, record.status = "other", "ignored"
        record.reasons = ["符号链接不是报表文件，已忽略。"]
        return
    fmt = detect_format(src) if kind == "spreadsheet" else None
    archived = archive_file(src, paths.archive, record.path, (record.size, record.mtime), fmt)
    if archived is None:
        record.status = "ignored"
        record.reasons = ["文件在复制过程中仍在变化，本次未处理，下次运行时再处理。"]
        return
    sha, target = archived
    record.sha256 = sha
    record.archived_as = target.relative_to(paths.output_root).as_posix()
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
