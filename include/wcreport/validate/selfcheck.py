"""Self-check: would this one file be accepted? The same feedback a unit would get.

The findings are the ones the quarter's ingest gives the same file
(``validate.file_findings``: the same warnings, e.g. on 「约1处」, and the same errors).
It also shows what it understood: every indicator number read from the file is echoed
(「约2处」按 2 计).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from wcreport.core.model import FileRecord, Finding
from wcreport.core.quarter import Quarter
from wcreport.core.templating import render
from wcreport.intake.bounded import read_grid
from wcreport.intake.identity import identify_unit
from wcreport.intake.locate import locate_report
from wcreport.intake.reader import UnreadableFile, read_workbook
from wcreport.validate.feedback import feedback_text
from wcreport.validate.file_findings import NumbersRead, file_findings, read_numbers, rejection_reasons


@dataclass
class CheckResult:
    record: FileRecord
    unit_name: str | None = None
    numbers: NumbersRead = field(default_factory=NumbersRead)

    @property
    def accepted(self) -> bool:
        return self.record.status == "accepted"


def _quarter_for(programme) -> Quarter:
    today = Quarter.containing(dt.date.today())
    return today if today.year == programme.year else Quarter(programme.year, 4)


def check_file(path, programme, unit_key: str | None = None) -> tuple[bool, str]:
    """(would be accepted, Chinese feedback text with the numbers it read)."""
    result = check(path, programme, unit_key)
    text = feedback_text(Path(path).name, result.unit_name, result.record, programme.report.organiser)
    if result.numbers.lines:
        text += render(__package__, "selfcheck_numbers.txt.j2", lines=result.numbers.lines)
    return result.accepted, text


def check(path, programme, unit_key: str | None = None) -> CheckResult:
    """Read, identify and validate one file as the pipeline would; never raises for bad input."""
    from wcreport.validate.suites import validate_report

    path = Path(path)
    result = CheckResult(FileRecord(path=path.name, size=0, mtime=0.0))
    record = result.record
    try:
        data = path.read_bytes()
        record.size = len(data)
        record.sha256 = hashlib.sha256(data).hexdigest()
        grid = read_grid(read_workbook, path)      # a mailed file: in a child process within the budget
        record.format = grid.format
        parsed = locate_report(grid, programme)
        if unit_key is None:
            identity = identify_unit(parsed, path.name, programme)
            unit_key = identity.unit
            if unit_key is None:
                raise UnreadableFile("unit.unknown", identity.reason or "无法确定报送单位。")
        if unit_key not in programme.units_by_key:
            raise UnreadableFile("unit.unknown", f"「{unit_key}」不是通知中的责任单位。")
        result.unit_name = programme.units_by_key[unit_key].name
        outcome = validate_report(parsed, unit_key, programme, _quarter_for(programme))
        result.numbers = read_numbers(parsed, programme)
        # the findings the quarter's ingest gives the same file (one source: validate.file_findings)
        record.findings = file_findings(parsed, outcome.findings, programme)
        record.reasons = rejection_reasons(record.findings)
        record.status = "rejected" if record.reasons else "accepted"
    except UnreadableFile as exc:
        record.status = "rejected"
        record.reasons = [exc.reason]
        record.findings = [Finding(code=exc.code, severity="error", message=exc.reason)]
    except OSError:
        record.status = "rejected"
        record.reasons = ["文件无法打开，请确认文件路径正确。"]
    return result
