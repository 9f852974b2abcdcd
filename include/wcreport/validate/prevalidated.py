"""The quarter's files validated in one batch, kept for each unit's ingest.

``validate_quarter`` (DAG task ``validate_quarter``, after ``gather``) validates every
unit's file versions in one Great Expectations run per suite (``suites.validate_many``)
and keeps each file's outcome under ``<output>/<quarter>/cache/validated/``. Each
unit's ``ingest_unit`` then looks its files up (``lookup``) and validates on its own
only what is not there, so a quarter pays GX's fixed cost about once instead of once
per unit, and ``ingest_unit`` does not import GX at all when the batch covered it.

A batch keeps its outcomes as one pack: ``<name>.pack``, the outcomes' JSON one after the
other, and ``<name>.index``, one fixed-width line per outcome (key, offset, length) sorted
by key, written last. A lookup bisects each index (a few reads), so the batch writes two
files however many units there are: creating thousands of small files cost the batch more
than validating them.

An outcome is found only for the same bytes (sha256), the same unit, the same programme,
the same previous-quarter result and the same suites: a file replaced after the batch, a
rerun after the rules changed or after the previous quarter was corrected all miss the
cache and are validated afresh, for that unit only.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from wcreport.core.io import write_atomic
from wcreport.core.model import FileRecord, Finding, UnitResult
from wcreport.core.settings import QuarterPaths, expectations_root
from wcreport.intake.inbox import programme_fingerprint

log = logging.getLogger(__name__)

CACHE_VERSION = "1"
RULE_FILES = ("gx/expectations/*.json", "gx/validation_definitions/*.json", "gx/checkpoints/*.json")


@dataclass
class Prevalidated:
    """A file's validation outcome from the quarter's batch."""

    findings: list[Finding]
    results: dict[str, dict]        # the suites' results in GX's JSON form (for the offline page)


def rules_digest(root: Path | None = None) -> str:
    """Hash of the GX project's suites, definitions and checkpoints (the reviewed rules)."""
    root = Path(root or expectations_root())
    digest = hashlib.sha256(CACHE_VERSION.encode())
    for pattern in RULE_FILES:
        for path in sorted(root.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(programme, unit_key: str, sha256: str, previous: UnitResult | None, rules: str) -> str:
    """What a file's outcome depends on: its bytes, its unit, the programme, the unit's
    previous quarter and the rules."""
    previous_json = previous.model_dump_json() if previous is not None else ""
    parts = [CACHE_VERSION, sha256, unit_key, programme_fingerprint(programme), rules,
             hashlib.sha256(previous_json.encode()).hexdigest()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _folder(paths: QuarterPaths) -> Path:
    return paths.output / "cache" / "validated"


KEY_SIZE = 64                   # a cache key: sha256 in hex
_LINE = "{key} {offset:012d} {length:012d}\n"
LINE_SIZE = len(_LINE.format(key="0" * KEY_SIZE, offset=0, length=0))


def _indexes(folder: Path) -> list[Path]:
    try:
        return [folder / name for name in sorted(os.listdir(folder)) if name.endswith(".index")]
    except FileNotFoundError:
        return []


def _kept(folder: Path) -> set[str]:
    """The keys of every outcome already kept (each index read once)."""
    keys: set[str] = set()
    for index in _indexes(folder):
        data = index.read_bytes()
        keys.update(data[start:start + KEY_SIZE].decode("ascii", errors="replace")
                    for start in range(0, len(data) - LINE_SIZE + 1, LINE_SIZE))
    return keys


def _find(index: Path, key: str) -> tuple[int, int] | None:
    """(offset, length) of ``key``'s outcome in the index's pack: bisection over the sorted lines."""
    wanted = key.encode("ascii")
    with open(index, "rb") as fh:
        low, high = 0, os.fstat(fh.fileno()).st_size // LINE_SIZE
        while low < high:
            middle = (low + high) // 2
            fh.seek(middle * LINE_SIZE)
            line = fh.read(LINE_SIZE)
            found = line[:KEY_SIZE]
            if found < wanted:
                low = middle + 1
            elif found > wanted:
                high = middle
            else:
                _key, offset, length = line.split()
                return int(offset), int(length)
    return None


def _read_outcome(folder: Path, key: str) -> bytes | None:
    for index in _indexes(folder):
        where = _find(index, key)
        if where is not None:
            offset, length = where
            with open(index.with_suffix(".pack"), "rb") as fh:
                fh.seek(offset)
                return fh.read(length)
    return None


def _write_pack(folder: Path, outcomes: list[tuple[str, bytes]]) -> None:
    """The batch's outcomes (key, JSON) as one pack and its index (the index last: a pack is
    looked up only once complete)."""
    if not outcomes:
        return
    lines, offset = [], 0
    for key, payload in outcomes:
        lines.append(_LINE.format(key=key, offset=offset, length=len(payload)))
        offset += len(payload)
    name = hashlib.sha256("".join(lines).encode("ascii")).hexdigest()[:16]
    write_atomic(folder / f"{name}.pack", b"".join(payload for _key, payload in outcomes), durable=False)
    write_atomic(folder / f"{name}.index", "".join(sorted(lines)).encode("ascii"), durable=False)


def _payload(outcome) -> bytes:
    """An outcome: its findings and its suites' results (already JSON text)."""
    findings = json.dumps([f.model_dump(mode="json") for f in outcome.findings], ensure_ascii=False)
    return f'{{"findings": {findings}, "results": {outcome.results_json}}}'.encode()


def lookup(paths: QuarterPaths, programme, unit_key: str, sha256: str | None,
           previous: UnitResult | None) -> Prevalidated | None:
    """The batch's outcome for this file, if it was validated exactly as it would be now."""
    if not sha256:
        return None
    key = cache_key(programme, unit_key, sha256, previous, rules_digest())
    try:
        kept = _read_outcome(_folder(paths), key)
        if kept is None:
            return None
        data = json.loads(kept)
        return Prevalidated([Finding.model_validate(f) for f in data["findings"]], data["results"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _versions(records: list[FileRecord]) -> list[FileRecord]:
    """Each unit's distinct pending workbook contents, newest first (as ``decide`` reads them)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for record in sorted(records, key=lambda r: (r.mtime, r.path), reverse=True):
        if record.kind != "spreadsheet" or record.status != "pending" or not record.unit or not record.sha256:
            continue
        if (record.unit, record.sha256) not in seen:
            seen.add((record.unit, record.sha256))
            out.append(record)
    return out


def validate_quarter(paths: QuarterPaths, programme, records: list[FileRecord]) -> dict:
    """Validate, in one batch, every pending workbook version not validated yet; keep the outcomes."""
    from wcreport.intake.inbox import read_cached
    from wcreport.validate.decide import previous_result
    from wcreport.validate.suites import Item, validate_many

    started = time.perf_counter()
    rules = rules_digest()
    previous = {u.key: previous_result(paths, u.key) for u in programme.units}
    folder = _folder(paths)
    kept = _kept(folder)
    todo: list[tuple[str, Item]] = []
    cached = unreadable = 0
    for record in _versions(records):
        key = cache_key(programme, record.unit, record.sha256, previous.get(record.unit), rules)
        if key in kept:
            cached += 1
            continue
        _fmt, parsed, error = read_cached(paths, programme, record.sha256, paths.output_root / record.archived_as)
        if error is not None or parsed is None:
            unreadable += 1         # rejected by ingest_unit with its reading error
            continue
        todo.append((key, Item(parsed, record.unit, previous.get(record.unit))))
    outcomes = validate_many([item for _key, item in todo], programme, paths.quarter)
    _write_pack(folder, [(key, _payload(outcome)) for (key, _item), outcome in zip(todo, outcomes, strict=True)])
    summary = {"validated": len(todo), "already_validated": cached, "unreadable": unreadable,
               "seconds": round(time.perf_counter() - started, 2)}
    log.info("Quarter %s validated in one batch: %s", paths.quarter, summary)
    return summary
