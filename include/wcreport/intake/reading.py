"""An archive copy read: a workbook into the report it holds, a scan into a StampedCopy.

gather, each unit's ingest, merge and the quarter's batch validation all read the same
copies; with accelerators on, each content is read once (``accelerators.read_cache``).
"""
from __future__ import annotations

import logging
from pathlib import Path

from wcreport.core.faults import OperationsFault
from wcreport.core.findings_catalogue import finding
from wcreport.core.model import ParsedReport, StampedCopy
from wcreport.core.quarter import Quarter
from wcreport.core.settings import accelerators_on, settings
from wcreport.intake.accelerators.read_cache import cached_report, cached_stamped_copy
from wcreport.intake.archive import check_archive_copy
from wcreport.intake.bounded import read_grid
from wcreport.intake.formats import SPREADSHEET, STAMPED_COPY, detect, reader
from wcreport.intake.locate import locate_report
from wcreport.intake.reader import MAX_ROWS, UnreadableFile

log = logging.getLogger(__name__)

Reading = tuple[str | None, ParsedReport | None, UnreadableFile | None]


def read_report(paths, programme, sha: str, archived: Path) -> Reading:
    """(format, parsed report, error) for an archived file, read for ``paths.quarter``."""
    if accelerators_on():
        return cached_report(paths, programme, sha, archived, parse_report)
    return parse_report(archived, programme, paths.quarter)


def parse_report(archived: Path, programme, quarter: Quarter | None = None) -> Reading:
    """``read_report`` done now: the file's reader (in a child process within the parse budget,
    ``intake.bounded``), then the report located in its grid (another quarter's file refused
    when ``quarter`` is given)."""
    check_archive_copy(archived)
    fmt = detect(archived, SPREADSHEET)
    try:
        grid = read_grid(reader(fmt, SPREADSHEET), archived)
    except UnreadableFile as exc:
        return fmt, None, exc
    except OperationsFault:
        raise
    except Exception:           # the parser choked on the unit's bytes: the file's problem
        log.exception("unexpected error reading %s", archived)
        return fmt, None, UnreadableFile.of("file.corrupt", cause="unexpected")
    parsed = locate_report(grid, programme, quarter)    # a failure here is ours: it propagates
    parsed.findings += rows_not_read(grid, parsed)
    return fmt, parsed, None


def rows_not_read(grid, parsed: ParsedReport) -> list:
    """A finding for each sheet the report reads whose content goes on beyond the reader's row limit."""
    used = {parsed.sheet, *(i.sheet for i in parsed.indicators)}
    return [finding("table.too_many_rows", sheet=sheet.name, limit=MAX_ROWS, last=sheet.last_row)
            for sheet in grid.sheets if sheet.name in used and (sheet.last_row or 0) > MAX_ROWS]


def read_stamped(paths, sha: str, archived: Path, name: str) -> StampedCopy:
    """The stamped copy read from its archive copy; ``name`` (the inbox path) names the result.

    OCR costs seconds per page: with accelerators on, each content is read once per
    reading settings."""
    config = settings()
    if accelerators_on():
        return cached_stamped_copy(paths, sha, archived, name, config, parse_stamped)
    return parse_stamped(archived, name, config)


def parse_stamped(archived: Path, name: str, config) -> StampedCopy:
    """``read_stamped`` done now."""
    check_archive_copy(archived)
    read = reader(detect(archived, STAMPED_COPY), STAMPED_COPY)
    return read(archived, name=name, config=config)
