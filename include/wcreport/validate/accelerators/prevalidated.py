"""The quarter's files validated in one batch, kept for each unit's ingest.

``validate_quarter`` (DAG task ``validate_quarter``, after ``gather``) validates every
unit's file versions in one Great Expectations run per suite (``batch.validate_many``)
and keeps each file's outcome under ``<output>/<quarter>/cache/validated/``. Each
unit's ``ingest_unit`` then looks its files up (``lookup``) and validates on its own
only what is not there, so a quarter pays GX's fixed cost about once instead of once
per unit, and ``ingest_unit`` does not import GX at all when the batch covered it.

A batch keeps its outcomes in one SQLite file (``<name>.sqlite``, table ``outcome``: key,
JSON), built under a temporary name and renamed into place complete, never written again;
a lookup is one indexed query. One file however many units there are: creating thousands
of small files cost the batch more than validating them. As the files never change once in
place, readers open them immutable (no locks, which network file systems do not always honour).

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
import sqlite3
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from wcreport.core.io import file_mode
from wcreport.core.model import FileRecord, Finding, UnitResult
from wcreport.core.settings import QuarterPaths, expectations_root
from wcreport.core.unit_results import previous_result
from wcreport.intake.accelerators import programme_fingerprint
from wcreport.intake.reading import read_report as read_cached
from wcreport.validate.accelerators.batch import BatchOutcome, Item, validate_many

log = logging.getLogger(__name__)

CACHE_VERSION = "1"
RULE_FILES = ("gx/expectations/*.json", "gx/validation_definitions/*.json", "gx/checkpoints/*.json")


@dataclass
class Prevalidated:
    """A file's validation outcome from the quarter's batch."""

    findings: list[Finding]
    results: dict[str, dict]        # the suites' results in GX's JSON form (for the offline page)


@dataclass(frozen=True)
class StoredOutcome:
    """One row of an outcome store: the cache key and the outcome as JSON."""

    key: str
    payload: bytes


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


STORE_SUFFIX = ".sqlite"


def _stores(folder: Path) -> list[Path]:
    try:
        return [folder / name for name in sorted(os.listdir(folder)) if name.endswith(STORE_SUFFIX)]
    except FileNotFoundError:
        return []


def _open(store: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{store.as_uri()}?mode=ro&immutable=1", uri=True)


def _kept(folder: Path) -> set[str]:
    """The keys of every outcome already kept; a damaged store keeps none (its files are validated again)."""
    keys: set[str] = set()
    for store in _stores(folder):
        try:
            with closing(_open(store)) as db:
                keys.update(key for (key,) in db.execute("SELECT key FROM outcome"))
        except sqlite3.DatabaseError as exc:
            log.warning("Outcome store %s unreadable (%s): its files are validated again", store.name, exc)
    return keys


def _read_outcome(folder: Path, key: str) -> bytes | None:
    for store in _stores(folder):
        try:
            with closing(_open(store)) as db:
                row = db.execute("SELECT payload FROM outcome WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None:
            return row[0]
    return None


def _write_store(folder: Path, outcomes: list[StoredOutcome]) -> None:
    """The batch's outcomes in one SQLite file, renamed into place once complete."""
    if not outcomes:
        return
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256("".join(sorted(o.key for o in outcomes)).encode("ascii")).hexdigest()[:16]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        with closing(sqlite3.connect(tmp)) as db:
            db.execute("CREATE TABLE outcome (key TEXT PRIMARY KEY, payload BLOB NOT NULL) WITHOUT ROWID")
            db.executemany("INSERT OR REPLACE INTO outcome VALUES (?, ?)", [(o.key, o.payload) for o in outcomes])
            db.commit()
        os.chmod(tmp, file_mode())
        os.replace(tmp, folder / f"{name}{STORE_SUFFIX}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _payload(outcome: BatchOutcome) -> bytes:
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
    started = time.perf_counter()
    rules = rules_digest()
    previous = {u.key: previous_result(paths, u.key) for u in programme.units}
    folder = _folder(paths)
    kept = _kept(folder)
    keys: list[str] = []
    todo: list[Item] = []
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
        keys.append(key)
        todo.append(Item(parsed, record.unit, previous.get(record.unit)))
    outcomes = validate_many(todo, programme, paths.quarter)
    _write_store(folder, [StoredOutcome(key, _payload(outcome)) for key, outcome in zip(keys, outcomes, strict=True)])
    summary = {"validated": len(todo), "already_validated": cached, "unreadable": unreadable,
               "seconds": round(time.perf_counter() - started, 2)}
    log.info("Quarter %s validated in one batch: %s", paths.quarter, summary)
    return summary
