"""What the caches are keyed on: the versions to bump, the programme and the reading settings."""
from __future__ import annotations

import hashlib
from functools import cache
from importlib import metadata

CACHE_VERSION = "5"             # parsed reports: bump when cached reasons change (they are stored as text)
STAMPED_CACHE_VERSION = "3"     # bump when the stamped-copy reader's results change
# The stat cache holds whole records: bump when the code would give a different record for
# the same file (reasons, classification, identity rules), or when the layout changes.
SCAN_CACHE_VERSION = "4"
# Stamped-copy refusals that may not recur on another run: such a reading is not cached.
TRANSIENT_SCAN_CODES = frozenset({"stamped.tool.missing", "stamped.ocr.timeout"})

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


def stamped_fingerprint(config) -> str:
    """Hash of what changes a stamped copy's reading: resolution, limits and the reader's version."""
    text = (f"{STAMPED_CACHE_VERSION}:{config.ocr_dpi}:{config.scan_max_pages}:"
            f"{config.max_file_bytes}:{config.ocr_timeout_seconds}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@cache
def package_version() -> str:
    """The installed wcreport's version: a release starts with an empty stat cache."""
    try:
        return metadata.version("wcreport")
    except metadata.PackageNotFoundError:
        return "unknown"
