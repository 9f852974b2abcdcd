"""Readings kept by content hash under ``<output>/cache``: each content is read once a quarter."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from wcreport.core.io import write_atomic
from wcreport.core.model import ParsedReport, StampedCopy
from wcreport.intake.accelerators.keys import TRANSIENT_SCAN_CODES, programme_fingerprint, stamped_fingerprint
from wcreport.intake.reader import UnreadableFile


class _Refusal(BaseModel):
    code: str
    reason: str


class ReportEntry(BaseModel):
    """A workbook's reading: its format, and the report or why it cannot be read."""

    format: str | None = None
    parsed: ParsedReport | None = None
    error: _Refusal | None = None


def cached_report(paths, programme, sha: str, archived: Path, read: Callable):
    """``read(archived, programme, paths.quarter)``, cached by content hash, programme and quarter
    (the quarter decides which sheet is read and whether the file is another quarter's)."""
    cache = paths.output / "cache" / f"{sha}-{programme_fingerprint(programme)}-{paths.quarter}.json"
    try:
        entry = ReportEntry.model_validate(json.loads(cache.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    else:
        error = UnreadableFile(entry.error.code, entry.error.reason) if entry.error else None
        return entry.format, entry.parsed, error
    fmt, parsed, error = read(archived, programme, paths.quarter)
    entry = ReportEntry(format=fmt, parsed=parsed,
                        error=_Refusal(code=error.code, reason=error.reason) if error else None)
    payload = json.dumps(entry.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
    write_atomic(cache, payload.encode("utf-8"), skip_if_same=True)
    return fmt, parsed, error


def cached_stamped_copy(paths, sha: str, archived: Path, name: str, config, read: Callable) -> StampedCopy:
    """``read(archived, name, config)``, cached by content hash and the reading settings;
    a reading that may differ next time (``TRANSIENT_SCAN_CODES``) is not kept."""
    cache = paths.output / "cache" / f"{sha}-stamped-{stamped_fingerprint(config)}.json"
    try:
        cached = StampedCopy.model_validate_json(cache.read_text(encoding="utf-8"))
        return cached.model_copy(update={"path": name})
    except (OSError, ValueError):
        pass
    copy = read(archived, name, config)
    if not any(f.code in TRANSIENT_SCAN_CODES for f in copy.findings):
        write_atomic(cache, copy.model_dump_json().encode("utf-8"), skip_if_same=True)
    return copy
