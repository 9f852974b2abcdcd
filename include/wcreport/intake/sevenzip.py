""".7z archives opened with py7zr under the .zip's limits, and .rar refused with a reason.

A .7z is judged from its header before anything is decompressed, like a .zip
(``archives``): password, member count, names that would leave a folder, each member's
declared size and the total, and the ratio of the total to the archive's own size (7-Zip
compresses members together in solid blocks, so a per-member ratio does not exist). A
member is decompressed into our file only up to its declared size: py7zr checks each
member's CRC, and our writer stops a member that grows past what the header declared.

RAR has no maintained pure-Python decompressor (``rarfile`` drives an external unrar or
bsdtar), so a .rar is refused with a reason asking for a .zip instead.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from wcreport.core.faults import OperationsFault, output_unwritable
from wcreport.core.findings_catalogue import finding
from wcreport.core.model import Finding
from wcreport.core.settings import settings
from wcreport.intake.archives import ARCHIVE_MAX_MEMBERS, Member, unsafe_name
from wcreport.intake.reader import MAX_MEMBER_RATIO, MIB

log = logging.getLogger(__name__)

SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
RAR_MAGIC = b"Rar!\x1a\x07"     # RAR 4 and RAR 5 (which adds \x01\x00)


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(magic)) == magic
    except OSError:
        return False


def sniff_7z(path: Path) -> str | None:
    """"7z" for a file that starts like a 7-Zip archive (a damaged one is refused when opened)."""
    return "7z" if _starts_with(Path(path), SEVENZIP_MAGIC) else None


def sniff_rar(path: Path) -> str | None:
    """"rar" for a file that starts like a RAR archive."""
    return "rar" if _starts_with(Path(path), RAR_MAGIC) else None


@dataclass
class SevenZipArchive:
    """An opened .7z: its members if every limit holds, else the refusal."""

    path: Path
    members: list[Member] = field(default_factory=list)
    refusal: Finding | None = None

    def extract(self, member: Member, out: BinaryIO) -> Finding | None:
        import py7zr

        writer = _Factory(str(member.key), out, member.size)
        try:
            with py7zr.SevenZipFile(self.path, max_extract_size=settings().max_uncompressed_bytes) as archive:
                archive.extract(targets=[str(member.key)], factory=writer)
        except OperationsFault:
            raise
        except py7zr.exceptions.CrcError as exc:
            if exc.args[2:3] != (member.key,):      # another member of the solid block, checked after ours
                log.info("7z %s: member %s fails its CRC", self.path, exc.args[2:3])
                return None if writer.written == member.size else _damaged(member)
            return _damaged(member)
        except Exception as exc:    # py7zr raises LZMA, EOF and its own errors on damaged bytes
            log.info("7z member %s of %s not extracted: %s", member.name, self.path, exc)
            return _damaged(member)
        return None if writer.written == member.size else _damaged(member)


def _damaged(member: Member) -> Finding:
    return finding("archive.corrupt", cause="member", member=member.name)


def open_7z(path: Path) -> SevenZipArchive:
    """The .7z's members after every limit is checked; nothing is decompressed here."""
    import py7zr

    archive = SevenZipArchive(Path(path))
    try:
        with py7zr.SevenZipFile(path) as opened:
            if opened.needs_password():
                archive.refusal = finding("archive.encrypted")
                return archive
            infos = opened.list()
    except py7zr.PasswordRequired:      # the header itself is encrypted
        archive.refusal = finding("archive.encrypted")
        return archive
    except Exception as exc:            # a damaged header: py7zr raises Bad7zFile and assorted errors
        log.info("7z %s not opened: %s", path, exc)
        archive.refusal = finding("archive.corrupt")
        return archive
    members = [Member(info.filename.replace("\\", "/"), int(info.uncompressed or 0), bool(info.is_directory),
                      info.filename) for info in infos]
    archive.refusal = listing_refusal(members, Path(path).stat().st_size)
    if archive.refusal is None:
        archive.members = members
    return archive


def listing_refusal(members: list[Member], archive_size: int) -> Finding | None:
    """Why a .7z is not opened at all, from its header alone; None when it may be."""
    if len(members) > ARCHIVE_MAX_MEMBERS:
        return finding("archive.too_many_members", count=len(members), limit=ARCHIVE_MAX_MEMBERS)
    unsafe = next((m.name for m in members if unsafe_name(m.name)), None)
    if unsafe is not None:
        return finding("archive.unsafe_name", member=unsafe)
    limits = settings()
    for member in members:
        if member.size > limits.max_file_bytes:
            return finding("archive.too_large", cause="member", member=member.name,
                           size_mb=member.size // MIB, limit_mb=limits.max_file_bytes // MIB)
    total = sum(m.size for m in members)
    if total > limits.max_uncompressed_bytes:
        return finding("archive.too_large", size_mb=total // MIB, limit_mb=limits.max_uncompressed_bytes // MIB)
    if total > MIB and total > MAX_MEMBER_RATIO * max(archive_size, 1):
        largest = max(members, key=lambda m: m.size)
        return finding("archive.too_large", cause="ratio", member=largest.name, ratio=total // max(archive_size, 1))
    return None


@dataclass
class RarArchive:
    """A .rar: never opened, only refused."""

    path: Path
    members: list[Member] = field(default_factory=list)
    refusal: Finding | None = None

    def extract(self, member: Member, out: BinaryIO) -> Finding | None:
        return self.refusal


def open_rar(path: Path) -> RarArchive:
    return RarArchive(Path(path), refusal=finding("archive.unsupported", cause="rar"))


class _TooLong(Exception):
    """A member decompressing past the size its header declared."""


class _Factory:
    """py7zr's writer factory: the one wanted member goes to ``out``, at most ``limit`` bytes;
    anything else py7zr decompresses on the way (a solid block's earlier members) is dropped."""

    def __init__(self, wanted: str, out: BinaryIO, limit: int):
        self.wanted, self.out, self.limit, self.written = wanted, out, limit, 0

    def create(self, filename: str) -> _Writer:
        return _Writer(self if filename == self.wanted else None)


class _Writer:
    def __init__(self, factory: _Factory | None):
        self.factory = factory

    def write(self, data: bytes | bytearray) -> int:
        factory = self.factory
        if factory is not None:
            if factory.written + len(data) > factory.limit:
                raise _TooLong(factory.wanted)
            try:
                factory.out.write(data)
            except OSError as exc:
                raise output_unwritable(Path(str(getattr(factory.out, "name", "."))).parent, exc) from exc
            factory.written += len(data)
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return self.factory.written if self.factory is not None else 0

    def close(self) -> None:
        return None
