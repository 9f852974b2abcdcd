"""The quarter's inbox scanned: list, wait for stable files, classify, archive, read and identify.

Every file under ``paths.inbox`` (recursively) yields exactly one FileRecord, in path
order; symbolic links and other non-regular entries are listed as ignored, with a
reason, and never followed (``listing``). Every file is first copied once into the
archive (``archive``); spreadsheets are read and their unit identified, stamped copies
read and identified the same way. A plain .zip also yields one record per member
(``<zip path>!<member name>``), each processed like a loose file in the zip's folder
once the zip has passed its limits (``archives``).

Ours or the unit's (``wcreport.core.faults``): a missing or unreadable inbox, an
unwritable archive or cache and a damaged archive copy raise; they never turn into a
unit's rejection or absence.

With accelerators on, a rescan takes unchanged files' records from the stat cache and a
unit's scan looks only at what may be that unit's (``accelerators.cached_scan``); the
records are the same as this plain scan's.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from wcreport.core.faults import OperationsFault
from wcreport.core.findings_catalogue import finding, finding_with_text
from wcreport.core.model import FileRecord, ParsedReport
from wcreport.core.settings import accelerators_on
from wcreport.intake.accelerators.cached_scan import cached_scan
from wcreport.intake.archive import Vanished, archive_file, check_archive_copy, clamp_future_mtime
from wcreport.intake.archives import archive_members, archive_opened, is_damaged_zip
from wcreport.intake.classify import LINK_TO_FILE, STILL_WRITING, classify, describe_other
from wcreport.intake.formats import (
    ARCHIVE,
    SCAN_EXTS,
    SPREADSHEET,
    SPREADSHEET_EXTS,
    STAMPED_COPY,
    detect,
    of_kind,
    reader,
)
from wcreport.intake.identity import identify_unit
from wcreport.intake.listing import list_inbox
from wcreport.intake.quarter_names import file_name_check
from wcreport.intake.reading import read_report, read_stamped
from wcreport.intake.scan_unit_line import unit_line_evidence
from wcreport.intake.stability import settle, size_and_mtime

log = logging.getLogger(__name__)


def scan_and_identify(paths, programme, *, stable_seconds: float = 2.0, max_wait_seconds: float = 30.0,
                      unit: str | None = None) -> list[FileRecord]:
    """One FileRecord per inbox entry, in path order; see the module docstring.

    With ``unit`` (a unit key): only the records whose ``unit`` is that unit, exactly as the
    full scan gives them.

    Operations faults raise. A failure of our own code on one file rejects that file with
    ``file.internal_error`` (the others are still processed); the flow fails the step
    afterwards (``internal_errors``), so it is never a silent rejection.
    """
    if accelerators_on():
        return cached_scan(paths, programme, stable_seconds=stable_seconds, max_wait_seconds=max_wait_seconds,
                           unit=unit, process=process_entry)
    rels, skipped, listed = list_inbox(paths)
    stats, unstable = settle(paths.inbox, listed, stable_seconds, max_wait_seconds)
    records: list[FileRecord] = list(skipped)
    for rel in rels:
        if rel in stats:        # else vanished while we looked: it is not in the folder any more
            records += process_entry(paths, programme, rel, stats[rel], rel in unstable)
    return sorted((r for r in records if unit is None or r.unit == unit), key=lambda r: r.path)


def process_entry(paths, programme, rel: str, st: os.stat_result, unstable: bool) -> list[FileRecord]:
    """The records of one listed file: its own, then its members' if it is an archive; none
    if it vanished meanwhile. Our own bug rejects the file."""
    record = FileRecord(path=rel, size=st.st_size, mtime=st.st_mtime)
    members: list[FileRecord] = []
    try:
        members = process_file(paths, programme, record, unstable)
    except Vanished:
        return []
    except OperationsFault:
        raise
    except Exception:
        log.exception("unexpected error on inbox file %s", rel)
        reject_internal_error(record, programme)
    return [record, *members]


def process_file(paths, programme, record: FileRecord, unstable: bool) -> list[FileRecord]:
    """Classify, archive, read and identify one inbox file, filling in ``record``; an
    archive's members' records (``open_archive``)."""
    src = paths.inbox / record.path
    kind, reason = classify(record.path, record.size)
    record.kind = kind
    if unstable:
        record.status = "ignored"
        record.reasons = [STILL_WRITING]
        return []
    if src.is_symlink():        # replaced by a link after the listing
        record.kind, record.status, record.reasons = "other", "ignored", [LINK_TO_FILE]
        return []
    container = container_format(src, record.path) if kind == "spreadsheet" else None
    if container is not None:
        return open_archive(paths, programme, record, src, container)
    process_content(paths, programme, record, src, kind, reason, record.path)
    return []


def process_content(paths, programme, record: FileRecord, src: Path, kind: str, reason: str | None,
                    identity_path: str, *, member: bool = False) -> None:
    """Archive, read and identify a file's bytes at ``src`` (an inbox file, or an archive
    member extracted), as the file at ``identity_path`` would be identified."""
    fmt = detect(src, SPREADSHEET) if kind == "spreadsheet" else None
    scan_format = None
    if kind == "spreadsheet" and fmt is None:
        scan_format = detect(src, STAMPED_COPY)
        if is_scan(scan_format, record.path):
            kind = record.kind = "stamped_copy"
        else:
            scan_format = None
    if not _archived(paths, record, src, fmt if of_kind(fmt, SPREADSHEET) else scan_format, member=member):
        return
    target = paths.output_root / (record.archived_as or "")
    if kind == "stamped_copy":
        _identify_stamped_copy(paths, programme, record, target, identity_path)
        return
    if kind != "spreadsheet":
        record.status, record.reasons = "ignored", [reason or ""]
        return
    if fmt is None and Path(record.path).suffix.lower() not in SPREADSHEET_EXTS:
        record.kind, record.status, record.reasons = "other", "ignored", [describe_other(record.path)]
        return
    fmt, parsed, error = read_report(paths, programme, record.sha256 or "", target)
    record.format = fmt if of_kind(fmt, SPREADSHEET) else None
    identity = identify_unit(parsed, identity_path, programme)
    record.unit = identity.unit
    record.unit_source = identity.source
    other_quarter = file_name_check(record.path, parsed, paths.quarter) if error is None else None
    if error is not None:
        record.status = "rejected"
        record.reasons = [error.reason]
        record.findings = [error.as_finding()]
    elif other_quarter is not None:     # never read as this quarter's: it cannot supersede the right file
        record.status = "rejected"
        record.reasons = [other_quarter.message]
        record.findings = [other_quarter]
    elif identity.unit is None:
        record.status = "rejected"
        record.reasons = [identity.reason]
        record.findings = [finding_with_text("unit.unknown", identity.reason)]
    else:
        record.status = "pending"


def _archived(paths, record: FileRecord, src: Path, fmt: str | None, *, member: bool = False) -> bool:
    """Copy ``src`` into the archive and note where; False (still being written) if it kept changing.

    A member's bytes are our own extracted copy, and its time is its archive's (clamped already)."""
    stat = size_and_mtime(src) if member else (record.size, record.mtime)
    archived = archive_file(src, paths.archive, record.path, stat or (record.size, record.mtime), fmt)
    if archived is None:
        record.status = "ignored"
        record.reasons = [STILL_WRITING]
        return False
    sha, target = archived
    record.sha256 = sha
    record.archived_as = target.relative_to(paths.output_root).as_posix()
    if not member:
        clamp_future_mtime(record, target)
    return True


def container_format(path: Path, name: str) -> str | None:
    """The archive format of a file's bytes ("zip"); a damaged file named .zip is one too (refused)."""
    return detect(path, ARCHIVE) or ("zip" if is_damaged_zip(path, name) else None)


def open_archive(paths, programme, record: FileRecord, src: Path, fmt: str) -> list[FileRecord]:
    """Archive the container itself, then each member as a file of its own (``archive_members``)."""
    record.kind, record.format = "archive", fmt
    if not _archived(paths, record, src, fmt):
        return []
    target = paths.output_root / (record.archived_as or "")
    check_archive_copy(target)
    opened = reader(fmt, ARCHIVE)(target)
    if opened.refusal is not None:
        identity = identify_unit(None, record.path, programme)      # the folder or name tells whose, if anything
        record.unit, record.unit_source = identity.unit, identity.source
        record.status, record.reasons, record.findings = "rejected", [opened.refusal.message], [opened.refusal]
        return []
    record.status, record.reasons = "ignored", [archive_opened(record.path)]
    return archive_members(opened, record, paths.archive,
                           is_container=lambda path, name: container_format(path, name) is not None,
                                              process=lambda member, extracted, identity_path: _member_content(
                               paths, programme, member, extracted, identity_path))


def _member_content(paths, programme, member: FileRecord, extracted: Path, identity_path: str) -> None:
    """A member's bytes processed like a loose file's; our own bug rejects that member only."""
    try:
        process_content(paths, programme, member, extracted, member.kind, None, identity_path, member=True)
    except OperationsFault:
        raise
    except Exception:
        log.exception("unexpected error on archive member %s", member.path)
        reject_internal_error(member, programme)


def is_scan(sniffed: str | None, rel: str) -> bool:
    """A stamped copy (盖章件): a scan format by its bytes, or by its name (then read to say why not)."""
    return of_kind(sniffed, STAMPED_COPY) or Path(rel).suffix.lower() in SCAN_EXTS


def _identify_stamped_copy(paths, programme, record: FileRecord, archived: Path, identity_path: str) -> None:
    """Read the scan, identify its unit like a workbook's; pending when readable, else rejected."""
    copy = read_stamped(paths, record.sha256 or "", archived, record.path)
    record.format = copy.format
    record.findings = list(copy.findings)
    record.reasons = [*record.reasons, *copy.reasons]
    evidence = unit_line_evidence(copy, programme)
    if evidence.note is not None:
        record.findings.append(evidence.note)
        record.reasons.append(evidence.note.message)
    identity = identify_unit(ParsedReport(unit_line=evidence.line), identity_path, programme)
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


def internal_errors(records: list[FileRecord]) -> list[FileRecord]:
    """Files our own code failed on (rejected with ``file.internal_error``)."""
    return [r for r in records if any(f.code == "file.internal_error" for f in r.findings)]


def reject_internal_error(record: FileRecord, programme) -> None:
    """Reject a file our own code failed on, naming the programme's organiser as contact."""
    error = finding("file.internal_error", organiser=programme.report.organiser)
    record.status = "rejected"
    record.reasons = [error.message]
    record.findings = [error]
