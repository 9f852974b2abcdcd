"""Self-check: would this one file be accepted? The same feedback a unit would get.

It also shows what it understood: every indicator number read from the file is echoed
(「约2处」按 2 计), with a warning when the text held more than the number (words,
approximations, a second number) and an error when a comma makes the number ambiguous
("1,5"): the pipeline refuses such a value as no number, the self-check says why.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from wcreport.core.findings_catalogue import finding, part
from wcreport.core.model import FileRecord, Finding, IndicatorValue, ParsedReport
from wcreport.core.quarter import Quarter
from wcreport.core.templating import render
from wcreport.intake.bounded import read_grid
from wcreport.intake.cells import NumberReading, read_number, squeeze
from wcreport.intake.identity import identify_unit
from wcreport.intake.locate import locate_report
from wcreport.intake.reader import UnreadableFile, read_workbook
from wcreport.validate.feedback import feedback_text
from wcreport.validate.findings import fmt_number

NOT_NUMERIC = "indicator.not_numeric"     # the suite's finding the comma error replaces


@dataclass
class NumbersRead:
    """The indicator numbers as understood: one Chinese line each, and what they call for."""

    lines: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


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
        record.findings = merge_number_findings([*parsed.findings, *outcome.findings], result.numbers.findings)
        errors = [f for f in record.findings if f.severity == "error"]
        record.status = "rejected" if errors else "accepted"
        record.reasons = [f.as_text() for f in errors]
    except UnreadableFile as exc:
        record.status = "rejected"
        record.reasons = [exc.reason]
        record.findings = [Finding(code=exc.code, severity="error", message=exc.reason)]
    except OSError:
        record.status = "rejected"
        record.reasons = ["文件无法打开，请确认文件路径正确。"]
    return result


# --- numbers ---------------------------------------------------------------------------
def read_numbers(parsed: ParsedReport, programme) -> NumbersRead:
    """Echo every indicator value read from the file; warn on words, refuse ambiguous commas."""
    indicators = {i.key: i for t in programme.tasks for i in t.indicators}
    numbers = NumbersRead()
    for value in parsed.indicators:
        indicator = indicators.get(value.key) if value.key else None
        name = indicator.name if indicator else value.name
        reading = read_number(value.raw)
        where = f"工作表「{value.sheet}」{value.cell} 指标「{name}」："
        if reading.value is None:
            numbers.lines.append(part("indicator.loose_number", "unread", where=where, raw=value.raw))
            if reading.comma:
                numbers.findings.append(_comma_finding(value, name))
            continue
        shown = fmt_number(reading.value)
        numbers.lines.append(part("indicator.loose_number", "read", where=where, raw=value.raw, value=shown))
        extra = reading.words(indicator.measure if indicator else "")
        if extra:
            numbers.findings.append(finding("indicator.loose_number", cause=_loose_cause(reading),
                                            sheet=value.sheet, cell=value.cell, name=name, raw=value.raw,
                                            extra=extra, value=shown))
    return numbers


def _loose_cause(reading: NumberReading) -> str | None:
    if reading.several_numbers:
        return "several"
    return "approximate" if reading.approximate else None


def _comma_finding(value: IndicatorValue, name: str) -> Finding:
    groups = re.findall(r"\d+", squeeze(value.raw))
    if len(groups) == 2:
        meaning = part("indicator.ambiguous_comma", "decimal_or_whole",
                       decimal=f"{groups[0]}.{groups[1]}", whole="".join(groups))
    else:
        meaning = part("indicator.ambiguous_comma", "one_or_several")
    return finding("indicator.ambiguous_comma", sheet=value.sheet, cell=value.cell, name=name, raw=value.raw,
                   meaning=meaning)


def merge_number_findings(findings: list[Finding], number_findings: list[Finding]) -> list[Finding]:
    """``findings`` plus the number findings; a comma error replaces the suite's 'not a number'
    for the same cell (it says why)."""
    comma_cells = {(f.sheet, f.cell) for f in number_findings if f.code == "indicator.ambiguous_comma"}
    kept = [f for f in findings if not (f.code == NOT_NUMERIC and (f.sheet, f.cell) in comma_cells)]
    return [*kept, *number_findings]
