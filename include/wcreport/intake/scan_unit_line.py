"""Whether a stamped copy's 「单位：」 line is evidence of its unit at all.

A phone photo's OCR'd line can come out garbled; garbled text names no unit, and taken as
explicit evidence it reads as an outside organisation that outranks the unit's own folder
(``identity``). So an OCR'd line counts only when Tesseract was sure of its words and the
text is close to some programme unit's name, alias or everyday name; otherwise it is dropped
with a warning quoting what was read. A text layer's line is exact and always counts.
"""
from __future__ import annotations

from dataclasses import dataclass

from wcreport.core.findings_catalogue import finding
from wcreport.core.model import Finding, StampedCopy
from wcreport.intake.identity import clean_name, known_names

# Tesseract's mean word confidence (0-100) on the line. Clean scans of the generated forms
# read at 85-95; a shadowed or blurred photo's line, mostly guessed, below 60.
UNIT_LINE_CONFIDENCE_MIN = 70.0
# rapidfuzz partial_ratio (0-100) of the best unit name inside the line: a name with one
# character misread still passes, a line of look-alike characters does not.
UNIT_LINE_NAME_SCORE_MIN = 85.0


@dataclass(frozen=True)
class UnitLineEvidence:
    """The line to identify the copy by (None: no evidence) and the warning when it was dropped."""

    line: str | None
    note: Finding | None = None


def unit_line_evidence(copy: StampedCopy, programme) -> UnitLineEvidence:
    """The copy's 「单位：」 line if it may be used as evidence of its unit; see the module docstring."""
    line = copy.unit_line
    if not line or copy.text_source == "text_layer":
        return UnitLineEvidence(line)
    confident = copy.unit_line_confidence is not None and copy.unit_line_confidence >= UNIT_LINE_CONFIDENCE_MIN
    if confident and name_score(line, programme) >= UNIT_LINE_NAME_SCORE_MIN:
        return UnitLineEvidence(line)
    return UnitLineEvidence(None, finding("stamped.unit_line.unread", text=line))


def name_score(line: str, programme) -> float:
    """How closely (0-100) the line holds some unit's name, alias or everyday name."""
    from rapidfuzz import fuzz     # only when a scan is identified (intake stays light to import)

    cleaned = clean_name(line)
    if not cleaned:
        return 0.0
    return max((fuzz.partial_ratio(name, cleaned) for name in known_names(programme) if len(name) >= 2),
               default=0.0)
