"""Character classes dropped when texts are compared (names, placeholders)."""
from __future__ import annotations

import unicodedata


class _UnreadableCharacters(dict):
    """A ``str.translate`` table deleting punctuation, separators, control characters and
    symbols (Unicode categories P, Z, C, S). Filled as characters are met: a lookup per
    character stays in C, and a table of every code point would cost a second at import."""

    def __missing__(self, codepoint: int) -> int | None:
        kept = None if unicodedata.category(chr(codepoint))[0] in "PZCS" else codepoint
        self[codepoint] = kept
        return kept


_UNREADABLE = _UnreadableCharacters()


def without_punctuation(text: str) -> str:
    """``text`` without punctuation, whitespace and other separators, control characters or symbols."""
    return text.translate(_UNREADABLE)
