"""Untrusted text into spreadsheet cells: never a formula, never an illegal XML char, never cut off.

Unit text comes from files we do not control. Three things can go wrong when it is
written into a workbook:

* **Formula injection** (CWE-1236, OWASP ASVS 1.2.10): openpyxl turns any string that
  starts with ``=`` into a formula, and spreadsheet programs treat text starting with
  ``= + - @``, tab or CR as a formula when it is edited or exported to CSV. We keep the
  text unchanged but store it as a string cell (``data_type = "s"``) with the cell's
  *quote prefix* flag set, which is what Excel/WPS/LibreOffice themselves do for text
  typed with a leading apostrophe: the value stays text even when the cell is edited.
* **Illegal control characters**: openpyxl raises ``IllegalCharacterError`` for C0
  control characters other than tab, LF and CR. We drop them (vertical tab and form
  feed, which some exporters use for in-cell line breaks, become LF) and keep the rest.
* **The 32,767-character cell limit** (Excel counts UTF-16 code units): longer text is
  split into chunks that each fit, so nothing is lost; callers write the chunks into
  continuation rows and say so in the cell.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# Excel's documented limit: "Total number of characters that a cell can contain: 32,767".
CELL_LIMIT = 32_767
# Characters that make a spreadsheet program treat text as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TRUNCATION_NOTE = "……（内容超过单元格32767字上限，以下已截断）"
_LINE_BREAK_CONTROLS = re.compile(r"[\x0b\x0c]")
_CRLF = re.compile(r"\r\n?")


@dataclass(frozen=True)
class CleanText:
    text: str
    removed: int          # number of illegal control characters dropped


def clean_text(value: object) -> CleanText:
    """Text safe to put into an XML cell: illegal control chars removed, CR/CRLF -> LF."""
    text = "" if value is None else str(value)
    text = _LINE_BREAK_CONTROLS.sub("\n", text)
    text = _CRLF.sub("\n", text)
    cleaned, removed = ILLEGAL_CHARACTERS_RE.subn("", text)
    return CleanText(cleaned, removed)


def looks_like_formula(text: str) -> bool:
    return bool(text) and text.startswith(FORMULA_TRIGGERS)


def utf16_len(text: str) -> int:
    """Length as Excel counts it (UTF-16 code units; a lone surrogate counts as one)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def split_for_cells(text: str, limit: int = CELL_LIMIT) -> list[str]:
    """Split text into chunks of at most ``limit`` UTF-16 units; prefer line breaks.

    ``"".join(split_for_cells(t)) == t`` always holds.
    """
    if utf16_len(text) <= limit:
        return [text]
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end, units = start, 0
        while end < len(text):
            step = 2 if ord(text[end]) > 0xFFFF else 1
            if units + step > limit:
                break
            units += step
            end += 1
        if end < len(text):
            # cut after the last line break in the second half of the chunk, if any
            cut = text.rfind("\n", start + (end - start) // 2, end)
            if cut != -1:
                end = cut + 1
        chunks.append(text[start:end])
        start = end
    return chunks


def truncate_for_cell(text: str, note: str, limit: int = CELL_LIMIT) -> tuple[str, bool]:
    """Text that fits one cell; if cut, ``note`` is appended so a reader sees it."""
    if utf16_len(text) <= limit:
        return text, False
    room = limit - utf16_len(note)
    head = split_for_cells(text, room)[0]
    return head + note, True


def set_text(cell, value: object) -> None:
    """Put untrusted text into an openpyxl cell (normal or write-only) as a string.

    The value is cleaned (illegal characters) but never re-interpreted: the cell's
    type is forced to string (so "=..." is no formula and "#N/A" no error value), and
    text a spreadsheet could read as a formula gets the quote-prefix flag. Text over
    the cell limit is cut with a visible note (split it first to keep all of it).
    """
    text = clean_text(value).text
    if utf16_len(text) > CELL_LIMIT:
        # callers that must keep everything split first (split_for_cells); here we at
        # least say so instead of openpyxl's silent cut
        text, _ = truncate_for_cell(text, TRUNCATION_NOTE)
    # bypass openpyxl's value binding, which would turn "=..." into a formula; the text
    # is already free of illegal characters
    cell._value = text
    cell.data_type = "s"
    if looks_like_formula(text):
        cell.quotePrefix = True
