"""Text of a scanned page by Tesseract (Debian ``tesseract-ocr`` + ``tesseract-ocr-chi-sim``).

Tesseract runs as a child process (the ``tesseract`` command, page image on stdin,
text on stdout) with the time left of the file's budget: on timeout the process is
killed and the file gets a reason, the worker is never stuck. It runs with one
OpenMP thread: on a few shared cores its default threading makes each page slower.

Red seal ink is removed before recognition by reading the red channel (black toner
stays dark, red ink turns light), so text under a seal is still read.
"""
from __future__ import annotations

import io
import logging
import re
import subprocess
import time
from dataclasses import dataclass, field

from PIL import Image

from wcreport.core.settings import child_process_environment
from wcreport.intake.stamped.reasons import ScanRefused

log = logging.getLogger(__name__)

LANGUAGE = "chi_sim"
# 3: automatic page segmentation. Each table cell becomes its own block, so a cell's
# lines stay together (6, "one block", reads across the cells of a row and interleaves
# them); it costs a little more time.
PAGE_SEGMENTATION = "3"
_HAN = r"\u4e00-\u9fff"
_GAP_RE = re.compile(rf"(?<=[{_HAN}\uff08-\uff1f\u3000-\u303f])[ \t]+(?=[{_HAN}\uff08-\uff1f\u3000-\u303f])")
_UNIT_LINE_RE = re.compile(r"(?<!责任)单\s*位\s*[:：;；]\s*(?P<rest>[^\n]*)")
_UNIT_LINE_END_RE = re.compile(r"\s{3,}|[|]")
_LEADING_COLON_RE = re.compile(r"^[\s:：;；.,，。]+")
# Tesseract reads a table's vertical rules as these glyphs; they are lines on the paper, not
# text, and must never be quoted back to a person (「(盖章)|某某街道」).
_RULES = "|｜¦丨│┃"
_RULE_RE = re.compile(rf"[ \t]*[{_RULES}]+[ \t]*")


@dataclass(frozen=True)
class Word:
    text: str
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]     # block, paragraph, line
    confidence: float = -1.0       # Tesseract's word confidence 0-100; -1 when it gives none

    @property
    def middle(self) -> float:
        return self.top + self.height / 2


@dataclass
class PageText:
    text: str                      # lines in reading order, spaces between Chinese removed
    unit_line: str | None          # words to the right of 「单位：」 on the same visual line
    unit_line_words: list[Word] = field(default_factory=list)   # the words that line was read from


@dataclass(frozen=True)
class UnitLineRead:
    """The 「单位：」 line of a page and the words it was read from (with their confidences)."""

    text: str
    words: list[Word]


def ocr_page(image: Image.Image, dpi: int, deadline: float) -> PageText:
    """Recognised text of one page; ScanRefused on timeout or when Tesseract is missing/fails."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ScanRefused("stamped.ocr.timeout")
    grey = image.getchannel("R") if image.mode == "RGB" else image.convert("L")
    buffer = io.BytesIO()
    grey.save(buffer, "PPM")       # uncompressed PGM: no encoding cost
    command = ["tesseract", "stdin", "stdout", "-l", LANGUAGE, "--psm", PAGE_SEGMENTATION, "--dpi", str(dpi), "tsv"]
    try:
        done = subprocess.run(command, input=buffer.getvalue(), capture_output=True, timeout=remaining,
                              check=False, env=child_process_environment(OMP_THREAD_LIMIT="1"))
    except subprocess.TimeoutExpired:
        raise ScanRefused("stamped.ocr.timeout") from None
    except FileNotFoundError:
        raise ScanRefused("stamped.tool.missing", tool="tesseract-ocr") from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")[-500:]
        log.warning("tesseract failed (%s): %s", done.returncode, stderr)
        if "Failed loading language" in stderr:
            raise ScanRefused("stamped.tool.missing", tool="tesseract-ocr-chi-sim")
        raise ScanRefused("stamped.ocr.failed")
    words = parse_tsv(done.stdout.decode("utf-8", "replace"))
    read = read_unit_line(words)
    return PageText(words_text(words), read.text if read else None, read.words if read else [])


def parse_tsv(tsv: str) -> list[Word]:
    """Tesseract's TSV output: the recognised words (level 5) with their boxes."""
    words = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        try:
            block, par, line, left, top, width, height = (int(cells[i]) for i in (2, 3, 4, 6, 7, 8, 9))
        except ValueError:
            continue
        try:
            confidence = float(cells[10])
        except ValueError:
            confidence = -1.0
        words.append(Word(cells[11].strip(), left, top, width, height, (block, par, line), confidence))
    return words


def words_text(words: list[Word]) -> str:
    lines: dict[tuple[int, int, int], list[str]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word.text)
    return tidy("\n".join(" ".join(parts) for parts in lines.values()))


def unit_line_from_words(words: list[Word]) -> str | None:
    """The words right of 「单位」 on its visual line (blocks may split the line), left to right."""
    read = read_unit_line(words)
    return read.text if read else None


def read_unit_line(words: list[Word]) -> UnitLineRead | None:
    """The 「单位：」 line's text (``unit_line_from_words``) with its words, whose confidences
    tell whether the line may be taken as the unit's own words (``intake.scan_unit_line``)."""
    for index, word in enumerate(words):
        if "单位" not in word.text or "责任" in word.text:
            continue
        if index and words[index - 1].line == word.line and words[index - 1].text.endswith("责任"):
            continue
        after = word.text.split("单位", 1)[1]
        band = max(word.height, 10) * 0.75
        right = [w for w in words if w is not word and w.left > word.left and abs(w.middle - word.middle) <= band]
        right.sort(key=lambda w: w.left)
        text = _LEADING_COLON_RE.sub("", without_rules("".join([after, *(w.text for w in right)])))
        if text:
            read = [w for w in ([word] if after.strip(" :：;；") else []) + right if without_rules(w.text)]
            return UnitLineRead(text[:60], read)
    return None


def without_rules(text: str) -> str:
    """``text`` with the table rules Tesseract read as glyphs removed: the cells either side
    separated by one space, as people would write them."""
    return _RULE_RE.sub(" ", _GAP_RE.sub("", text)).strip()


def tidy(text: str) -> str:
    """Drop the spaces Tesseract puts between Chinese characters and the table rules it reads
    as glyphs; keep line breaks."""
    lines = []
    for line in text.replace("\r", "").split("\n"):
        line = without_rules(line)
        if line:
            lines.append(line)
    return "\n".join(lines)


def unit_line(text: str) -> str | None:
    """What follows 「单位：」 on the form (not the 责任单位 column), as written; None if absent."""
    for match in _UNIT_LINE_RE.finditer(text):
        rest = _UNIT_LINE_END_RE.split(match.group("rest").strip(), maxsplit=1)[0].strip()
        if rest:
            return rest[:60]
    return None
