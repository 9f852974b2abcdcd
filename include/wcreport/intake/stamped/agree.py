"""How far the stamped copy says what the workbook says: passages found in the copy's text.

The unit's accepted progress texts are the reference. Each is cut at sentence ends
into passages of at least PASSAGE_CHARS characters; each passage is looked up in the
copy's text with rapidfuzz's ``partial_ratio`` (the best-aligned stretch of the copy,
scored by edit distance, so OCR misreadings cost a little each); the score is the
passages' mean, weighted by length. Both sides are reduced to Chinese characters,
letters and digits first: OCR spacing, punctuation, line and cell breaks do not count.

Why passages and not single characters or sentences: units' progress texts share a
lot of office phrasing ("下一步，将……", "召开专题推进会议"), so a bag of character
n-grams or single sentences of another unit's report are mostly found in any long
copy too. A passage of several sentences carries the unit's own combination (its
name, its numbers, its wording) and is still short enough to survive OCR splitting a
table cell into pieces. Measured separation: docs/stamped-copies.md.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz import fuzz

PASSAGE_CHARS = 60
_KEEP_RE = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")
_SENTENCE_END_RE = re.compile(r"(?<=[。；;！？!?\n])")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, only Chinese characters, letters and digits."""
    return _KEEP_RE.sub("", unicodedata.normalize("NFKC", text).lower())


def passages(text: str, size: int = PASSAGE_CHARS) -> list[str]:
    """``text`` cut at sentence ends into normalised pieces of at least ``size`` characters.

    A short tail joins the piece before it.
    """
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END_RE.split(text):
        current += normalise(sentence)
        if len(current) >= size:
            pieces.append(current)
            current = ""
    if current:
        if pieces and len(current) < size // 2:
            pieces[-1] += current
        else:
            pieces.append(current)
    return pieces


def agreement(scan_text: str, progress_texts: Iterable[str]) -> float:
    """Agreement (0-1) of the copy's text with the unit's progress texts; 0.0 if either is empty."""
    scan = normalise(scan_text)
    pieces = [p for text in progress_texts for p in passages(text)]
    total = sum(len(p) for p in pieces)
    if not scan or total == 0:
        return 0.0
    found = sum(fuzz.partial_ratio(piece, scan) / 100 * len(piece) for piece in pieces)
    return found / total
