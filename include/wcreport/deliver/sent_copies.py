"""Every report mail that went out, kept as .eml: the evidence the mail ledger is checked against.

The mail ledger (``<output>/mail_ledger.json``) says what the leaders received; losing or
damaging it must never lead to a resend that looks like a first mail. So each report
mail is also kept, byte for byte, under ``<output>/<quarter>/sent/``:

* ``<quarter>-<NN>-<hash16>.eml``   the message as the SMTP server accepted it
* ``<quarter>-<NN>-<hash16>.json``  its ledger entry (with the content snapshot that the
  next correction's "what changed" list is computed from)

Both are written *before* the message is handed to the server, as ``.pending-…`` files,
and renamed once the server accepted it: a disk that cannot take the copy stops the
send, and a pending copy left by a crash says "maybe sent: check the server".

``ledger_problems`` compares a ledger with the copies; ``rebuild_ledger`` writes a ledger
from them (``wcreport ledger verify|rebuild --output DIR``). The mail step refuses to
send while the ledger is missing, damaged or behind the copies.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from wcreport.core.faults import output_unwritable
from wcreport.core.io import DamagedStateError, read_json, write_atomic, write_json_atomic

SENT_FOLDER = "sent"
PENDING = ".pending-"
QUARTER_HEADER = "X-Report-Quarter"
HASH_HEADER = "X-Report-Content-Hash"
SEQUENCE_HEADER = "X-Report-Sequence"


def ledger_fix(ledger_path: Path) -> str:
    root = Path(ledger_path).parent
    return (f"run `wcreport ledger verify --output {root}` to see what the kept copies of sent mail say, then "
            f"`wcreport ledger rebuild --output {root}` to write the ledger from them (the old file is kept "
            "beside it); never delete the ledger to start over: the next mail would look like a first one")


def copy_name(quarter: str, sequence: int, content_hash: str) -> str:
    return f"{quarter}-{sequence:02d}-{content_hash[:16]}"


@dataclass
class Pending:
    """The copy of a message about to be sent; ``commit`` once the server accepted it."""

    eml: Path
    entry: Path

    def commit(self) -> Path:
        final = self.eml.with_name(self.eml.name.removeprefix(PENDING))
        for path in (self.entry, self.eml):
            try:
                os.replace(path, path.with_name(path.name.removeprefix(PENDING)))
            except OSError as exc:
                raise output_unwritable(path, exc) from exc
        return final

    def discard(self) -> None:
        for path in (self.eml, self.entry):
            path.unlink(missing_ok=True)


def prepare_copy(keep_dir: Path, message: Message, entry: dict) -> Pending:
    """Write the message and its ledger entry as pending copies (raises if the disk cannot take them)."""
    name = PENDING + copy_name(entry["quarter"], entry["sequence"], entry["content_hash"])
    eml, meta = Path(keep_dir) / f"{name}.eml", Path(keep_dir) / f"{name}.json"
    write_atomic(eml, message.as_bytes())
    write_json_atomic(meta, entry)
    return Pending(eml, meta)


@dataclass
class SentCopy:
    path: Path
    quarter: str
    content_hash: str
    sequence: int | None
    message_id: str
    subject: str
    sent_at: str
    entry: dict | None            # the ledger entry kept beside it, if readable


def _read_copy(path: Path) -> SentCopy | None:
    with open(path, "rb") as fh:
        headers = BytesHeaderParser(policy=policy.default).parse(fh)
    quarter, content_hash = (str(headers.get(name) or "").strip() for name in (QUARTER_HEADER, HASH_HEADER))
    if not quarter or not content_hash:
        return None
    try:
        entry = read_json(path.with_suffix(".json"), lambda: None)
    except DamagedStateError:          # the .eml is the evidence; its entry only adds the snapshot
        entry = None
    if not isinstance(entry, dict) or entry.get("content_hash") != content_hash:
        entry = None
    sequence = str(headers.get(SEQUENCE_HEADER) or "").strip() or (entry or {}).get("sequence")
    try:
        sent_at = parsedate_to_datetime(str(headers.get("Date"))).astimezone(dt.UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        sent_at = ""
    return SentCopy(path=path, quarter=quarter, content_hash=content_hash,
                    sequence=int(sequence) if sequence else None,
                    message_id=str(headers.get("Message-ID", "")).strip(),
                    subject=str(headers.get("Subject", "")), sent_at=(entry or {}).get("sent_at") or sent_at,
                    entry=entry)


def sent_copies(output_root: Path) -> list[SentCopy]:
    """The kept copies of every report mail sent, by quarter and sequence."""
    copies = [c for path in sorted(Path(output_root).glob(f"*/{SENT_FOLDER}/*.eml"))
              if not path.name.startswith(PENDING) and (c := _read_copy(path)) is not None]
    return sorted(copies, key=lambda c: (c.quarter, c.sequence or 0, c.sent_at))


def pending_copies(output_root: Path) -> list[Path]:
    """Copies of messages whose sending was interrupted: maybe sent, maybe not."""
    return sorted(Path(output_root).glob(f"*/{SENT_FOLDER}/{PENDING}*.eml"))


def _key(quarter: str, sequence, content_hash: str) -> tuple[str, int, str]:
    return quarter, int(sequence or 0), content_hash


def ledger_problems(ledger: dict, output_root: Path) -> list[str]:
    """What the ledger lacks compared with the kept copies (empty: consistent).

    Entries without a copy (mail sent before copies were kept) are not problems; a copy
    without an entry is: the ledger lost what the leaders received.
    """
    listed = {_key(e.get("quarter"), e.get("sequence"), e.get("content_hash", ""))
              for e in ledger.get("sent", [])}
    problems = [f"{c.path.name}: sent {c.sent_at} ({c.subject}), not in the ledger"
                for c in sent_copies(output_root) if _key(c.quarter, c.sequence, c.content_hash) not in listed]
    problems += [f"{p.name}: sending was interrupted; check the mail server whether it went out"
                 for p in pending_copies(output_root)]
    return problems


def missing_entries(ledger: dict, output_root: Path) -> list[str]:
    """Only the copies the ledger does not list (what makes sending unsafe)."""
    return [p for p in ledger_problems(ledger, output_root) if "not in the ledger" in p]


def entries_from_copies(output_root: Path) -> list[dict]:
    """Ledger entries for every kept copy: its own entry if kept, else one read from the headers."""
    entries = []
    seen: dict[str, int] = {}
    for copy in sent_copies(output_root):
        sequence = copy.sequence or seen.get(copy.quarter, 0) + 1
        seen[copy.quarter] = sequence
        entry = dict(copy.entry) if copy.entry else {
            "quarter": copy.quarter, "content_hash": copy.content_hash, "subject": copy.subject,
            "sent_at": copy.sent_at, "message_id": copy.message_id, "changes": [], "snapshot": {}}
        entry.update(sequence=sequence, kind="original" if sequence == 1 else "correction",
                     kept_message=str(copy.path), rebuilt_from=copy.path.name)
        entries.append(entry)
    return entries


def rebuild_ledger(ledger_path: Path) -> tuple[dict, Path | None]:
    """Write the ledger from the kept copies; the old file (if any) is kept as ``….replaced-<time>``.

    Reviews of corrections are taken over from the old ledger when it can still be read;
    otherwise pending reviews are asked again by the next run.
    """
    ledger_path = Path(ledger_path)
    reviews: list = []
    kept_old = None
    if ledger_path.exists():
        try:
            old = json.loads(ledger_path.read_text(encoding="utf-8"))
            reviews = old.get("reviews", []) if isinstance(old, dict) else []
        except (OSError, ValueError):
            reviews = []
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        kept_old = ledger_path.with_name(f"{ledger_path.name}.replaced-{stamp}")
        os.replace(ledger_path, kept_old)
    ledger = {"version": 2, "sent": entries_from_copies(ledger_path.parent), "reviews": reviews}
    write_json_atomic(ledger_path, ledger)
    return ledger, kept_old
