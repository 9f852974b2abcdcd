"""Whether a stamped copy's 「单位：」 line is evidence of its unit at all.

A phone photo's OCR'd line can come out garbled; garbled text names no unit, and taken as
explicit evidence it reads as an outside organisation that outranks the unit's own folder
(``identity``). So an OCR'd line counts only when it holds some programme unit's name, alias
or everyday name closely (rapidfuzz) and Tesseract was sure of the words spelling that name;
it then counts as that name (the garbled rest, often the 「（盖章）」 under the seal or the
next cell, is left out). Otherwise it is dropped with a warning quoting what was read.
A text layer's line is exact and is used as it is.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from wcreport.core.findings_catalogue import finding
from wcreport.core.model import Finding, OcrWord, StampedCopy
from wcreport.intake.identity import clean_name, known_names

# Median Tesseract confidence (0-100) of the words spelling the name. chi_sim gives a correctly
# read character 0-40 now and then (事业 0, 心 32 on a clean 150 dpi scan), so neither the mean
# nor the weakest word: the median says most of the name was read surely. Names on the
# generated scans read at a median of 60-90; below 50 most of the name was guessed.
UNIT_LINE_CONFIDENCE_MIN = 50.0
# rapidfuzz partial_ratio (0-100) of the best unit name inside the line: a long name with one
# character misread (教育和你育事业中心) still passes, a line of look-alike characters does not.
UNIT_LINE_NAME_SCORE_MIN = 85.0


@dataclass(frozen=True)
class UnitLineEvidence:
    """What to identify the copy by (None: no evidence) and the warning when the line was dropped."""

    line: str | None
    note: Finding | None = None


@dataclass(frozen=True)
class NameInLine:
    """The unit name (cleaned) a line holds most closely, and how closely (0-100)."""

    name: str
    score: float


def unit_line_evidence(copy: StampedCopy, programme) -> UnitLineEvidence:
    """The copy's 「单位：」 evidence; see the module docstring."""
    line = copy.unit_line
    if not line or copy.text_source != "ocr":       # a text layer is exact; nothing OCR'd, nothing guessed
        return UnitLineEvidence(line)
    found = name_in_line(line, programme)
    if (found is not None and found.score >= UNIT_LINE_NAME_SCORE_MIN
            and name_confidence(copy.unit_line_words, found.name) >= UNIT_LINE_CONFIDENCE_MIN):
        return UnitLineEvidence(found.name)
    return UnitLineEvidence(None, finding("stamped.unit_line.unread", text=line))


def name_in_line(line: str, programme) -> NameInLine | None:
    """The unit name, alias or everyday name the line holds most closely (longest on a tie)."""
    from rapidfuzz import fuzz  # only when a scan is identified (intake stays light to import)

    cleaned = clean_name(line)
    scored = [NameInLine(name, fuzz.partial_ratio(name, cleaned)) for name in known_names(programme)
              if len(name) >= 2 and cleaned]
    return max(scored, key=lambda n: (n.score, len(n.name)), default=None)


def name_confidence(words: list[OcrWord], name: str) -> float:
    """Median confidence of the words holding characters of ``name``; -1 without such words."""
    spelling = [w.confidence for w in words if set(clean_name(w.text)) & set(name)]
    return statistics.median(spelling) if spelling else -1.0
