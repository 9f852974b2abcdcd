"""What a would-be stamped copy is, from its first bytes (never its name)."""
from __future__ import annotations

import zipfile
from pathlib import Path

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# The PDF header may follow some junk; readers accept it within the first 1 KiB.
PDF_HEADER_WINDOW = 1024
# HEIF/HEIC (phone photos): an ISO-BMFF "ftyp" box whose major brand is one of HEVC-coded HEIF's
HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<script", b"<table")


def sniff(path: Path) -> str | None:
    """pdf, jpeg, png, heic, ofd, html, zip (some other zip), or None (unknown / unreadable)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(PDF_HEADER_WINDOW)
    except OSError:
        return None
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    if head.startswith(PNG_MAGIC):
        return "png"
    if head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return "heic"
    if head[:4] in ZIP_MAGIC:
        return "ofd" if _is_ofd(path) else "zip"
    if b"%PDF-" in head:
        return "pdf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(_HTML_STARTS) or b"<html" in text:
        return "html"
    return None


def _is_ofd(path: Path) -> bool:
    """OFD (GB/T 33190) is a zip whose entry document is OFD.xml at the root."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.lower() == "ofd.xml" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
