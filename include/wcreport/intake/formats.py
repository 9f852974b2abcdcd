"""The file formats intake knows, each registered once.

Adding a format (a table in a .docx, a CSV) is one reader and one entry in ``FORMATS``:
the scan, the archive and the mailbox take what they need from here, so their lists
of extensions cannot drift apart.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from wcreport.intake.archives import open_zip, sniff_zip
from wcreport.intake.csv_reader import read_csv, sniff_csv
from wcreport.intake.doc_reader import read_doc, sniff_doc
from wcreport.intake.docx_reader import read_docx, sniff_docx
from wcreport.intake.reader import WORD_EXTENSIONS, detect_format, read_workbook
from wcreport.intake.sevenzip import open_7z, open_rar, sniff_7z, sniff_rar
from wcreport.intake.stamped.sniff import sniff

SPREADSHEET = "spreadsheet"       # a table the report is read from (FileRecord.kind)
STAMPED_COPY = "stamped_copy"     # the scan of the printed, stamped form
DOCUMENT = "document"             # kept from a mail for the staff, never read
ARCHIVE = "archive"               # a container whose members are files of their own (read: its opener)


def _read_stamped(path: Path, *, name: str, config):
    """The stamped-copy reader, imported on first use: Pillow and rapidfuzz are loaded only
    by a process that reads a copy."""
    from wcreport.intake.stamped import read_stamped_copy

    return read_stamped_copy(path, name=name, config=config)


@dataclass(frozen=True)
class Format:
    """One format: what it is called, how its bytes and names show it, and who reads it."""

    name: str                                       # as records name it, and the archive copy's extension
    kind: str                                       # SPREADSHEET, STAMPED_COPY, DOCUMENT or ARCHIVE
    extensions: tuple[str, ...]                     # file names that claim it (lower case, with the dot)
    sniff: Callable[[Path], str | None] | None      # names the format from the bytes (None: by name only)
    read: Callable | None                           # reads an archive copy (None: kept, not read)

    @property
    def readable(self) -> bool:
        return self.read is not None


FORMATS: tuple[Format, ...] = (
    Format("xlsx", SPREADSHEET, (".xlsx", ".xltx"), detect_format, read_workbook),
    Format("xlsm", SPREADSHEET, (".xlsm", ".xltm"), detect_format, read_workbook),
    Format("xlsb", SPREADSHEET, (".xlsb",), detect_format, read_workbook),
    # WPS saves old .xls content as .et: an OLE2 file is "xls" whatever its name
    Format("xls", SPREADSHEET, (".xls", ".xlt", ".et", ".ett"), detect_format, read_workbook),
    Format("ods", SPREADSHEET, (".ods", ".ots"), detect_format, read_workbook),
    # the form as a Word table; after the workbooks, whose sniffer also answers for zips
    Format("docx", SPREADSHEET, (".docx",), sniff_docx, read_docx),
    # Word 97-2003/WPS (OLE2 with a Word stream, or RTF), converted to .docx by LibreOffice Writer
    Format("doc", SPREADSHEET, WORD_EXTENSIONS, sniff_doc, read_doc),
    # no magic: by name (.csv; a .txt only with the form's header, see csv_reader)
    Format("csv", SPREADSHEET, (".csv",), sniff_csv, read_csv),
    Format("pdf", STAMPED_COPY, (".pdf",), sniff, _read_stamped),
    Format("jpeg", STAMPED_COPY, (".jpg", ".jpeg"), sniff, _read_stamped),
    Format("png", STAMPED_COPY, (".png",), sniff, _read_stamped),
    # a phone's photo of the stamped copy (iPhone: HEIC), decoded by pillow-heif
    Format("heic", STAMPED_COPY, (".heic", ".heif"), sniff, _read_stamped),
    # read only to tell the unit why not (no maintained OFD renderer)
    Format("ofd", STAMPED_COPY, (".ofd",), sniff, _read_stamped),
    # scans a mail may carry: kept in the inbox for the staff, ignored by the scan
    Format("tiff", STAMPED_COPY, (".tif", ".tiff"), None, None),
    Format("bmp", STAMPED_COPY, (".bmp",), None, None),
    Format("gif", STAMPED_COPY, (".gif",), None, None),
    Format("webp", STAMPED_COPY, (".webp",), None, None),
    Format("rtf", DOCUMENT, (".rtf",), None, None),
    # a plain zip (an xlsx, ods or docx is a package, not an archive): its members are opened
    Format("zip", ARCHIVE, (".zip",), sniff_zip, open_zip),
    Format("7z", ARCHIVE, (".7z",), sniff_7z, open_7z),
    # no maintained pure-Python RAR decompressor: opened only to be refused with 「请改用 .zip」
    Format("rar", ARCHIVE, (".rar",), sniff_rar, open_rar),
)
_BY_NAME = {f.name: f for f in FORMATS if f.sniff is not None}
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")


def extensions(kind: str, *, readable_only: bool = False) -> frozenset[str]:
    """The file-name extensions of ``kind``'s formats (only those a reader reads, if asked)."""
    return frozenset(ext for f in FORMATS if f.kind == kind and (f.readable or not readable_only)
                     for ext in f.extensions)


SPREADSHEET_EXTS = extensions(SPREADSHEET)
SCAN_EXTS = extensions(STAMPED_COPY, readable_only=True)     # the scan reads these as stamped copies
MAIL_SCAN_EXTS = extensions(STAMPED_COPY)                    # the mailbox keeps these as scans
DOCUMENT_EXTS = extensions(DOCUMENT)


def by_name(name: str | None) -> Format | None:
    """The registered format a sniffer named; None for anything else ("zip", "html", None)."""
    return _BY_NAME.get(name) if name else None


def detect(path: Path, kind: str) -> str | None:
    """What ``kind``'s sniffers say the file is: a registered format's name, else the first
    other answer (e.g. "zip": a damaged zip, which the reader then refuses), else None."""
    answers = []
    for sniffer in dict.fromkeys(f.sniff for f in FORMATS if f.kind == kind and f.sniff is not None):
        answer = sniffer(path)
        found = by_name(answer)
        if found is not None and found.kind == kind:
            return answer
        answers.append(answer)
    return next((a for a in answers if a is not None), None)


def of_kind(name: str | None, kind: str) -> bool:
    """``name`` is a registered, readable format of ``kind``."""
    found = by_name(name)
    return found is not None and found.kind == kind and found.readable


def reader(fmt: str | None, kind: str) -> Callable:
    """The reader of ``fmt``; for bytes that are no readable format of ``kind``, the kind's
    first reader, which refuses them with the reason the unit is given."""
    found = by_name(fmt)
    if found is not None and found.kind == kind and found.readable:
        return found.read
    return next(f.read for f in FORMATS if f.kind == kind and f.read is not None)


def archive_ext(rel: str, fmt: str | None) -> str:
    """The archive copy's extension: the detected format's, else the file's own (if sane), else bin."""
    if by_name(fmt) is not None:
        return fmt
    suffix = PurePosixPath(rel).suffix.lower().lstrip(".")
    return suffix if _EXT_RE.match(suffix) else "bin"
