"""The mailbox ledger, and beside each kept mail the copy of its entry it can be rebuilt from.

``<output>/mailbox/ledger.json`` says, per mail taken in, whether it was saved, answered,
quarantined, its unit told; that is what keeps a mail from being answered twice. Each
mail's exact bytes are kept as ``<output>/mailbox/eml/<sha256>.eml``, and every time its
entry changes the entry is also written beside it as ``<sha256>.json`` (``keep_entry``),
under the ledger's lock and before the ledger is saved: a kept entry is never behind what
happened (a receipt is recorded only after the SMTP server accepted it).

A ledger that lacks a mail whose entry was kept (deleted, replaced by an old backup) is
refused (``DamagedStateError``), as the leaders' mail ledger is: polling on would take
those mails in again and answer them again. ``rebuild_ledger`` writes it from the kept
entries and what the old file still says (``wcreport mailbox-ledger rebuild``).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wcreport.core.io import DamagedStateError, locked_json, read_json, write_json_atomic

LEDGER_VERSION = 1
# What a mail's entry records once done; the entry that has more of these is further along.
_PROGRESS = ("saved_at", "quarantined_at", "replied_at", "no_reply", "notice")


def mailbox_dir(output_root: Path) -> Path:
    return Path(output_root) / "mailbox"


def ledger_path(output_root: Path) -> Path:
    """The mailbox ledger: folders' UID state and every mail taken in, across quarters."""
    return mailbox_dir(output_root) / "ledger.json"


def empty_ledger() -> dict:
    return {"version": LEDGER_VERSION, "folders": {}, "messages": {}}


def ledger_fix(output_root: Path) -> str:
    return (f"run `wcreport mailbox-ledger rebuild --output {output_root}`: it writes the mailbox ledger from "
            "the entries kept beside each mail's .eml (the old file is kept beside it); never delete the ledger "
            "to start over: every mail still in the mailbox would be answered again")


def kept_entry_path(output_root: Path, eml: str) -> Path:
    """Where the entry of the mail kept as ``eml`` (relative to the output root) is kept."""
    return (Path(output_root) / eml).with_suffix(".json")


def keep_entry(output_root: Path, key: str, entry: dict) -> None:
    """Keep ``entry`` (the ledger's entry ``key``) beside its mail's .eml, if it has one."""
    if entry.get("eml"):
        write_json_atomic(kept_entry_path(output_root, entry["eml"]), {"key": key, "entry": entry})


def read_ledger(output_root: Path) -> dict:
    """The ledger as it is now (no lock: for reading); refused when it lacks kept mail."""
    ledger = read_json(ledger_path(output_root), empty_ledger, fix=ledger_fix(output_root))
    check_ledger(ledger, output_root)
    return ledger


@contextlib.contextmanager
def locked_ledger(output_root: Path) -> Iterator[dict]:
    """The ledger under an exclusive lock, saved when the block ends without an exception."""
    with locked_json(ledger_path(output_root), empty_ledger, fix=ledger_fix(output_root)) as ledger:
        check_ledger(ledger, output_root)
        yield ledger


def check_ledger(ledger: Any, output_root: Path) -> None:
    if not isinstance(ledger, dict) or not isinstance(ledger.get("messages"), dict):
        raise DamagedStateError(f"mailbox ledger {ledger_path(output_root)} is not a ledger", ledger_fix(output_root))
    missing = missing_entries(ledger, output_root)
    if missing:
        state = "is missing" if not ledger_path(output_root).exists() else "lacks mails that were taken in"
        raise DamagedStateError(f"mailbox ledger {ledger_path(output_root)} {state}: {len(missing)} mail(s) kept "
                                f"under mailbox/eml/ are not in it (e.g. {missing[:3]}); no mail was taken in "
                                "or answered", ledger_fix(output_root))


def missing_entries(ledger: dict, output_root: Path) -> list[str]:
    """The kept entries (file names) whose mail the ledger does not list."""
    listed = {Path(entry["eml"]).stem for entry in ledger.get("messages", {}).values()
              if isinstance(entry, dict) and entry.get("eml")}
    return sorted(path.name for path in _kept_files(output_root) if path.stem not in listed)


def _kept_files(output_root: Path) -> list[Path]:
    folder = mailbox_dir(output_root) / "eml"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


@dataclass(frozen=True)
class Rebuilt:
    """What ``rebuild_ledger`` did."""

    ledger: dict
    restored: int                  # entries taken from the kept copies
    unreadable: list[str]          # kept entries that could not be read (named, not guessed)
    old: Path | None               # the previous file, kept beside it


def rebuild_ledger(output_root: Path) -> Rebuilt:
    """Write the ledger from the kept entries and what the old file (if readable) still says;
    for a mail both know, the entry further along wins. The old file is kept as
    ``ledger.json.replaced-<time>``. Folders' UID bookmarks come only from the old file:
    without them the next poll searches by date and recognises kept mails by their keys."""
    path = ledger_path(output_root)
    with _ledger_lock(path):
        return _rebuild(path, output_root)


def _rebuild(path: Path, output_root: Path) -> Rebuilt:
    old = _old_ledger(path)
    messages: dict[str, dict] = dict(old.get("messages", {}))
    restored, unreadable = 0, []
    for kept in _kept_files(output_root):
        try:
            record = json.loads(kept.read_text(encoding="utf-8"))
            key, entry = record["key"], record["entry"]
        except (OSError, ValueError, KeyError, TypeError):
            unreadable.append(kept.name)
            continue
        if key not in messages or _further(entry, messages[key]):
            messages[key] = entry
            restored += 1
    ledger = {"version": LEDGER_VERSION, "folders": dict(old.get("folders", {})), "messages": messages}
    kept_old = _set_aside(path)
    write_json_atomic(path, ledger)
    return Rebuilt(ledger, restored, unreadable, kept_old)


@contextlib.contextmanager
def _ledger_lock(path: Path) -> Iterator[None]:
    """The lock ``locked_json`` takes, without reading the file (it may be damaged)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _further(candidate: dict, current: dict) -> bool:
    return sum(1 for k in _PROGRESS if candidate.get(k)) > sum(1 for k in _PROGRESS if current.get(k))


def _old_ledger(path: Path) -> dict:
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(old, dict):
        return {}
    return {"folders": old.get("folders") if isinstance(old.get("folders"), dict) else {},
            "messages": {k: v for k, v in (old.get("messages") or {}).items() if isinstance(v, dict)}
            if isinstance(old.get("messages"), dict) else {}}


def _set_aside(path: Path) -> Path | None:
    if not path.exists():
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = path.with_name(f"{path.name}.replaced-{stamp}")
    os.replace(path, kept)
    return kept
