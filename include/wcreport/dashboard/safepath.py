"""Resolve a download request to a file that is certainly inside the output folder."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote


class UnsafePath(ValueError):
    """The requested path is not a plain relative path to a file under the output root."""


def resolve_download(root: Path, requested: str) -> Path:
    """Return the real file for ``requested`` (relative to ``root``) or raise UnsafePath.

    Refuses, before touching the disk: empty paths, NUL bytes, backslashes, absolute
    paths and drive letters, ``..`` segments, and any ``%`` that would decode to one of
    those (a path is decoded once by the web server; a second encoding is refused here
    rather than guessed). Then resolves symlinks and refuses anything whose real path is
    not below the real root, and anything that is not a regular file.
    """
    text = requested or ""
    if unquote(text) != text:
        # Still percent-encoded after the server decoded it once: double encoding.
        decoded = unquote(text)
        if any(bad in decoded for bad in ("..", "\\", "\x00")) or decoded.startswith("/"):
            raise UnsafePath("encoded traversal")
    if not text or "\x00" in text or "\\" in text:
        raise UnsafePath("empty path, NUL byte or backslash")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UnsafePath("absolute path")
    parts = text.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePath("dot segment or empty segment")

    real_root = Path(os.path.realpath(root))
    candidate = Path(os.path.realpath(real_root.joinpath(*parts)))
    if candidate != real_root and real_root not in candidate.parents:
        raise UnsafePath("leaves the output folder")
    if not candidate.is_file():
        raise FileNotFoundError(text)
    return candidate
