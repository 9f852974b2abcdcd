"""STUB (owned by the validation developer): Great Expectations validation of a parsed report.

The only module that imports great_expectations (inside functions, never at import time).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wcreport.model import Finding, ParsedReport, UnitResult
from wcreport.programme import Programme
from wcreport.quarter import Quarter


@dataclass
class ValidationOutcome:
    findings: list[Finding] = field(default_factory=list)
    data_docs: str | None = None     # path of the Data Docs index page, if built


def validate_report(parsed: ParsedReport, unit_key: str, programme: Programme, quarter: Quarter,
                    previous: UnitResult | None = None,
                    data_docs_dir: Path | None = None) -> ValidationOutcome:
    """Validate one unit's parsed report; errors reject the file, warnings do not."""
    return ValidationOutcome()
