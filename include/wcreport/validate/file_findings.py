"""One file's findings as the unit is told them: by the quarter's ingest and by `wcreport check` alike.

The reader's findings (the form's structure), the suites' (each rule, cell by cell) and
what reading the indicator numbers found: a warning when the text held more than the
number (words, approximations such as 「约1处」, a second number), an error when a comma
makes the number ambiguous ("1,5"), replacing the suite's 'not a number' for that cell
(it says why). Capped as every file's findings are (``limits.cap_findings``).

``flow.ingest_unit`` and ``validate.selfcheck`` both call ``file_findings``, so the
feedback a unit gets from the office and the self-check give the same warnings and errors.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from wcreport.core.findings_catalogue import finding, part
from wcreport.core.model import Finding, IndicatorValue, ParsedReport
from wcreport.intake.cells import NumberReading, read_number, squeeze
from wcreport.validate.findings import fmt_number
from wcreport.validate.limits import cap_findings

NOT_NUMERIC = "indicator.not_numeric"     # the suite's finding the comma error replaces
TRUNCATED = "findings.truncated"


def file_findings(parsed: ParsedReport, suite_findings: list[Finding], programme) -> list[Finding]:
    """Every finding of one parsed file, given the suites' findings on it; capped."""
    numbers = read_numbers(parsed, programme)
    return cap_findings(merge_number_findings([*parsed.findings, *suite_findings], numbers.findings))


def rejection_reasons(findings: list[Finding]) -> list[str]:
    """The reasons a file with ``findings`` is rejected (none: it is accepted)."""
    errors = [f.as_text() for f in findings if f.severity == "error"]
    return errors + [f.message for f in findings if f.code == TRUNCATED] if errors else []


@dataclass
class NumbersRead:
    """The indicator numbers as understood: one Chinese line each, and what they call for."""

    lines: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


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
