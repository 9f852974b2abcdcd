"""Self-check: would this one file be accepted? The same feedback a unit would get."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from wcreport.core.model import FileRecord, Finding
from wcreport.core.quarter import Quarter
from wcreport.intake.identity import identify_unit
from wcreport.intake.locate import locate_report
from wcreport.intake.reader import UnreadableFile, read_workbook
from wcreport.validate.feedback import feedback_text


def _quarter_for(programme) -> Quarter:
    today = Quarter.containing(dt.date.today())
    return today if today.year == programme.year else Quarter(programme.year, 4)


def check_file(path, programme, unit_key: str | None = None) -> tuple[bool, str]:
    """(would be accepted, Chinese feedback text)."""
    from wcreport.validate.suites import validate_report

    path = Path(path)
    record = FileRecord(path=path.name, size=0, mtime=0.0)
    unit_name = None
    try:
        data = path.read_bytes()
        record.size = len(data)
        record.sha256 = hashlib.sha256(data).hexdigest()
        grid = read_workbook(path)
        record.format = grid.format
        parsed = locate_report(grid, programme)
        if unit_key is None:
            identity = identify_unit(parsed, path.name, programme)
            unit_key = identity.unit
            if unit_key is None:
                raise UnreadableFile("unit.unknown", identity.reason or "无法确定报送单位。")
        if unit_key not in programme.units_by_key:
            raise UnreadableFile("unit.unknown", f"「{unit_key}」不是通知中的责任单位。")
        unit_name = programme.units_by_key[unit_key].name
        outcome = validate_report(parsed, unit_key, programme, _quarter_for(programme))
        findings = [*parsed.findings, *outcome.findings]
        record.findings = findings
        errors = [f for f in findings if f.severity == "error"]
        record.status = "rejected" if errors else "accepted"
        record.reasons = [f.as_text() for f in errors]
    except UnreadableFile as exc:
        record.status = "rejected"
        record.reasons = [exc.reason]
        record.findings = [Finding(code=exc.code, severity="error", message=exc.reason)]
    except OSError:
        record.status = "rejected"
        record.reasons = ["文件无法打开，请确认文件路径正确。"]
    text = feedback_text(path.name, unit_name, record, programme.report.organiser)
    return record.status == "accepted", text
