"""A .zip a unit sent, opened safely: its members listed, judged and extracted one by one.

Everything is judged from the central directory before a byte is decompressed: member
count, each member's declared size (``REPORT_MAX_FILE_BYTES``), the total
(``REPORT_MAX_UNCOMPRESSED_BYTES``), compression ratios (as ``reader.check_zip``),
encryption and names that would leave a folder (``../``, absolute paths). A refusal is a
catalogued finding (``archive.*``) naming the reason. Member names are never used to
write anything: a member is streamed into a temporary file and archived by its sha256,
and the stream stops at the declared size.

A zip that is a document (xlsx, ods, docx: an OOXML or ODF package) is not an archive.
Adding a container (.7z) is a sniffer, an opener returning an ``OpenedArchive``, and one
entry in ``formats.FORMATS``.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from wcreport.core.faults import output_unwritable
from wcreport.core.findings_catalogue import finding
from wcreport.core.model import FileRecord, Finding
from wcreport.core.settings import settings
from wcreport.intake.classify import classify
from wcreport.intake.reader import MAX_MEMBER_RATIO, MIB, ZIP_MAGIC

ARCHIVE_MAX_MEMBERS = 200       # as the mailbox's zip attachments: a unit sends a handful
UTF8_FLAG = 0x800               # general purpose bit 11: the name is UTF-8
ENCRYPTED_FLAG = 0x1
# Members of a package, not of a folder someone zipped: the zip is a document, not an archive.
_PACKAGE_MEMBERS = ("[Content_Types].xml", "mimetype", "META-INF/manifest.xml", "word/document.xml",
                    "xl/workbook.xml", "xl/workbook.bin", "ppt/presentation.xml")
_DRIVE = re.compile(r"^[A-Za-z]:")
FOLDER_MEMBER = "压缩包中的文件夹，不是报表，已忽略（其中的文件逐个列出）。"
SEPARATOR = "!"                 # <archive path>!<member name>: a member's path in records and the manifest

# (member's record, its extracted bytes, the path it is identified as) -> fills in the record
ProcessMember = Callable[[FileRecord, Path, str], None]
IsContainer = Callable[[Path, str], bool]


@dataclass(frozen=True)
class Member:
    """One entry of an archive, as its directory declares it."""

    name: str                   # decoded, "/"-separated, as the manifest shows it
    size: int                   # declared uncompressed size
    is_dir: bool
    key: object = field(default=None, compare=False, repr=False)    # the opener's handle (a ZipInfo)


class OpenedArchive(Protocol):
    """What the scan needs of a container: its members or why it is refused, and each member's bytes."""

    members: list[Member]
    refusal: Finding | None

    def extract(self, member: Member, out: BinaryIO) -> Finding | None:
        """Write the member's bytes to ``out``; a finding if they cannot be decompressed."""
        ...


def sniff_zip(path: Path) -> str | None:
    """"zip" for a zip that is a plain container (not an OOXML/ODF package); None otherwise,
    a damaged zip included (see ``is_damaged_zip``)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) not in ZIP_MAGIC:
                return None
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return None if any(name in names for name in _PACKAGE_MEMBERS) else "zip"


def is_damaged_zip(path: Path, name: str) -> bool:
    """A file named .zip that starts like one but does not open: refused as a damaged archive."""
    if PurePosixPath(name).suffix.lower() != ".zip":
        return False
    try:
        with open(path, "rb") as fh:
            if fh.read(4) not in ZIP_MAGIC:
                return False
        zipfile.ZipFile(path).close()
    except (zipfile.BadZipFile, ValueError):
        return True
    except OSError:
        return False
    return False


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name: UTF-8 when flagged; else the raw bytes as UTF-8 (macOS writes it
    without the flag), else cp936/GBK (Windows), else CP437 (what the zip format says).

    GBK names are valid UTF-8 only by rare accident, so UTF-8 is tried first."""
    if info.flag_bits & UTF8_FLAG:
        return info.filename
    try:
        raw = info.filename.encode("cp437")      # zipfile decoded the unflagged bytes as CP437
    except UnicodeEncodeError:
        return info.filename
    for codec in ("utf-8", "cp936"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return info.filename


def unsafe_name(name: str) -> bool:
    """A name that would leave the folder it is extracted into: absolute, a drive, or ``..``."""
    posix = name.replace("\\", "/")
    return posix.startswith("/") or bool(_DRIVE.match(posix)) or ".." in posix.split("/")


@dataclass
class ZipArchive:
    """An opened zip: its members if every limit holds, else the refusal."""

    path: Path
    members: list[Member] = field(default_factory=list)
    refusal: Finding | None = None

    def extract(self, member: Member, out: BinaryIO) -> Finding | None:
        try:
            with zipfile.ZipFile(self.path) as zf, zf.open(member.key) as stream:    # type: ignore[arg-type]
                # the stream ends at the declared size and checks the CRC
                shutil.copyfileobj(stream, out, 1024 * 1024)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError):
            return finding("archive.corrupt", cause="member", member=member.name)
        return None


def open_zip(path: Path) -> ZipArchive:
    """The zip's members after every limit is checked; nothing is decompressed here."""
    archive = ZipArchive(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        archive.refusal = finding("archive.corrupt")
        return archive
    members = [Member(member_name(i).replace("\\", "/"), i.file_size, i.is_dir(), i) for i in infos]
    archive.refusal = refusal(infos, members)
    if archive.refusal is None:
        archive.members = members
    return archive


def refusal(infos: list[zipfile.ZipInfo], members: list[Member]) -> Finding | None:
    """Why the archive is not opened at all, from its directory alone; None when it may be."""
    if any(i.flag_bits & ENCRYPTED_FLAG for i in infos):
        return finding("archive.encrypted")
    if len(infos) > ARCHIVE_MAX_MEMBERS:
        return finding("archive.too_many_members", count=len(infos), limit=ARCHIVE_MAX_MEMBERS)
    unsafe = next((m.name for m in members if unsafe_name(m.name)), None)
    if unsafe is not None:
        return finding("archive.unsafe_name", member=unsafe)
    return size_refusal(infos, members)


def size_refusal(infos: list[zipfile.ZipInfo], members: list[Member]) -> Finding | None:
    """Declared sizes and ratios against the limits (a zip bomb declares what it expands to,
    or lies and is cut off at its declared size when extracted)."""
    limits = settings()
    for info, member in zip(infos, members):
        if info.file_size > limits.max_file_bytes:
            return finding("archive.too_large", cause="member", member=member.name,
                           size_mb=info.file_size // MIB, limit_mb=limits.max_file_bytes // MIB)
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        return finding("archive.too_large", size_mb=total // MIB, limit_mb=limits.max_uncompressed_bytes // MIB)
    for info, member in zip(infos, members):
        if info.file_size > MIB and info.file_size > MAX_MEMBER_RATIO * max(info.compress_size, 1):
            return finding("archive.too_large", cause="ratio", member=member.name,
                           ratio=info.file_size // max(info.compress_size, 1))
    return None


def archive_opened(rel: str) -> str:
    """The reason an opened archive's own record gives."""
    return f"压缩包，其中的文件已逐个处理（见「{rel}{SEPARATOR}…」）。"


def member_path(archive_rel: str, name: str) -> str:
    return f"{archive_rel}{SEPARATOR}{name}"


def identity_path(archive_rel: str, name: str) -> str:
    """A member is identified like a loose file in its archive's folder: folders inside the
    archive are not evidence (a unit's scan lists folders, never an archive's insides)."""
    folder = archive_rel.rpartition("/")[0]
    base = name.rstrip("/").rpartition("/")[2]
    return f"{folder}/{base}" if folder else base


def archive_members(opened: OpenedArchive, container: FileRecord, scratch: Path, *, is_container: IsContainer,
                    process: ProcessMember) -> list[FileRecord]:
    """One record per member, in the archive's order: folders, hidden and system files ignored
    like loose ones, nested archives ignored (one level only), the rest extracted into
    ``scratch`` under a name of our own and handed to ``process``."""
    records: list[FileRecord] = []
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        workdir = tempfile.TemporaryDirectory(dir=scratch, prefix=".members-")
    except OSError as exc:
        raise output_unwritable(scratch, exc) from exc
    with workdir as folder:
        for number, member in enumerate(opened.members):
            record = FileRecord(path=member_path(container.path, member.name), size=member.size,
                                mtime=container.mtime, unit=None)
            records.append(record)
            kind, reason = ("other", FOLDER_MEMBER) if member.is_dir else classify(member.name, member.size)
            record.kind = kind      # type: ignore[assignment]
            if kind != "spreadsheet":
                record.status, record.reasons = "ignored", [reason or ""]
                continue
            extracted = Path(folder) / f"member-{number}"
            if not _extract(opened, member, extracted, record):
                continue
            if is_container(extracted, member.name):
                nested = finding("archive.nested", member=member.name)
                record.kind, record.status, record.reasons, record.findings = (
                    "archive", "ignored", [nested.message], [nested])
                continue
            process(record, extracted, identity_path(container.path, member.name))
            extracted.unlink(missing_ok=True)
    return records


def _extract(opened: OpenedArchive, member: Member, target: Path, record: FileRecord) -> bool:
    """The member's bytes written to ``target``; False with the record rejected if they cannot be."""
    try:
        with open(target, "wb") as out:
            failed = opened.extract(member, out)
    except OSError as exc:
        raise output_unwritable(target.parent, exc) from exc
    if failed is not None:
        record.status, record.reasons, record.findings = "rejected", [failed.message], [failed]
        return False
    return True
