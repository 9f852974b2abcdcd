"""The quarter's manifest: every file seen and every unit expected, in one JSON file.

Keys are documented in docs/manifest.md; other tools (dashboard, reminders, ops
scripts) read this file, so keep them stable.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

from wcreport.core.io import DamagedStateError, write_text_atomic
from wcreport.core.labels import correction_note, held_note
from wcreport.core.model import FileRecord, Manifest, ManifestUnit, StampedCopySummary, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import TZ
from wcreport.core.settings import QuarterPaths

NOT_YET_PROCESSED = "该文件在本单位上次处理之后收到，将在重新处理本单位时纳入。"
ACCEPTED_GONE = ("该文件在本单位处理之后已从收件文件夹中移除或被替换；汇总使用的是处理时存档的副本，"
                 "重新处理本单位后以收件文件夹中的文件为准。")


def build_manifest(paths: QuarterPaths, programme: Programme, scanned: list[FileRecord],
                   unit_results: list[UnitResult]) -> Manifest:
    processed = {(f.path, f.sha256): f for r in unit_results for f in r.files}
    files = [_final_record(record, processed) for record in scanned]
    files += _accepted_but_gone(files, unit_results)
    deadline = _deadline_end(programme, paths)
    units = [_manifest_unit(result, programme, deadline, files) for result in unit_results]
    return Manifest(quarter=str(paths.quarter), programme_year=programme.year,
                    generated_at=dt.datetime.now(TZ).isoformat(timespec="seconds"),
                    inbox=str(paths.inbox), files=files, units=units)


def _accepted_but_gone(files: list[FileRecord], unit_results: list[UnitResult]) -> list[FileRecord]:
    """Accepted files no longer in the inbox as they were: the report uses them, so the manifest lists them."""
    present = {(f.path, f.sha256) for f in files}
    gone = []
    for result in unit_results:
        record = accepted_record(result)
        if record is not None and (record.path, record.sha256) not in present:
            gone.append(record.model_copy(update={"reasons": [*record.reasons, ACCEPTED_GONE]}))
    return gone


def accepted_record(result: UnitResult) -> FileRecord | None:
    """The file record whose content the unit's result (and so the report) carries."""
    if result.status != "submitted":
        return None
    return next((f for f in result.files
                 if f.path == result.accepted_path and f.sha256 == result.accepted_sha256), None)


def verify_accepted(paths: QuarterPaths, unit_results: list[UnitResult]) -> None:
    """Re-hash the archived copy of every accepted file: the report must describe exactly those bytes."""
    for result in unit_results:
        if result.status != "submitted":
            continue
        record = accepted_record(result)
        archived = paths.output_root / record.archived_as if record and record.archived_as else None
        if archived is None or _sha256(archived) != result.accepted_sha256:
            raise DamagedStateError(
                f"the accepted file of {result.unit_name} ({result.accepted_path}, sha256 "
                f"{(result.accepted_sha256 or '')[:12]}…) has no intact archive copy "
                f"({archived or 'not recorded in ' + str(paths.units / (result.unit + '.json'))})",
                f"clear the ingest_unit instance of {result.unit_name} with Downstream ticked: the unit is "
                "read again from the inbox and archived anew")


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _final_record(record: FileRecord, processed: dict) -> FileRecord:
    done = processed.get((record.path, record.sha256))
    if done is not None:
        return done
    if record.status == "pending":
        return record.model_copy(update={"reasons": [*record.reasons, NOT_YET_PROCESSED]})
    return record


def _manifest_unit(result: UnitResult, programme: Programme, deadline: dt.datetime,
                   files: list[FileRecord]) -> ManifestUnit:
    own = [f for f in files if f.unit == result.unit]
    data_files = [f for f in own if f.kind != "stamped_copy"]
    accepted = next((f for f in data_files if f.status == "accepted"), None)
    received = dt.datetime.fromtimestamp(accepted.mtime, TZ) if accepted else None
    first = result.first_accepted_mtime or (accepted.mtime if accepted else None)
    rejected_reasons = [reason for f in data_files if f.status == "rejected" for reason in f.reasons]
    notes = [correction_note(f"{received.month}月{received.day}日")] if accepted and result.rejected_corrections else []
    notes += [held_note(f.path) for f in own if f.status == "held"]
    return ManifestUnit(
        unit=result.unit, unit_name=result.unit_name, status=result.status,
        late=bool(first and dt.datetime.fromtimestamp(first, TZ) > deadline),
        files=[f.path for f in own],
        accepted_file=accepted.path if accepted else None,
        accepted_sha256=accepted.sha256 if accepted else None,
        received_at=received.isoformat(timespec="seconds") if received else None,
        warnings=[w.as_text() for w in result.warnings],
        reasons=rejected_reasons if result.status == "rejected" else [],
        feedback=result.feedback,
        data_docs=result.data_docs,
        tasks=_task_statuses(result, programme),
        notes=notes,
        rejected_corrections=list(result.rejected_corrections),
        stamped_copy=StampedCopySummary.of(result.stamped_copy) if result.stamped_copy else None)


def _task_statuses(result: UnitResult, programme: Programme) -> dict[int, str]:
    seqs = [t.seq for t in programme.tasks_of(result.unit)]
    if result.status != "submitted":
        return {seq: result.status if result.status == "rejected" else "missing" for seq in seqs}
    rows_by_seq = {row.seq: row for row in result.rows}
    warned_rows = {_row_of(w.cell) for w in result.warnings if w.cell}
    statuses = {}
    for seq in seqs:
        row = rows_by_seq.get(seq)
        if row is None:
            statuses[seq] = "missing"
        else:
            statuses[seq] = "warning" if row.row in warned_rows else "accepted"
    return statuses


def _row_of(cell: str) -> int | None:
    match = re.search(r"(\d+)$", cell)
    return int(match.group(1)) if match else None


def _deadline_end(programme: Programme, paths: QuarterPaths) -> dt.datetime:
    day = programme.deadline(paths.quarter.number)
    return dt.datetime.combine(day, dt.time(23, 59, 59), TZ)



def write_manifest(manifest: Manifest, path: Path) -> Path:
    write_text_atomic(path, manifest.model_dump_json(indent=2))
    return path

