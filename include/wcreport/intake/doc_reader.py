"""A legacy Word document (.doc, WPS .wps) -> .docx by LibreOffice Writer -> the .docx reader.

Offices still fill the notice's 附件 in Word 97-2003 or WPS and save it as .doc/.wps: an
OLE2 compound file with a ``WordDocument`` stream (WPS writes the same structure). No
maintained pure-Python library reads those tables, so LibreOffice Writer converts the
file headless into a private temporary folder, with a profile of its own and within a
time budget, and ``docx_reader`` reads the result with all its guards.

What reaches LibreOffice is bounded first: the size limit, and the bytes must be an OLE2
file that olefile opens with a Word stream (or RTF, which Word also saves under .doc).
Anything else named .doc/.wps is refused as a damaged Word file, never handed to a
converter that would import any bytes as plain text. A missing LibreOffice is our fault
(an ``OperationsFault``), not the unit's.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from wcreport.core.faults import OperationsFault
from wcreport.core.settings import child_process_environment
from wcreport.intake.docx_reader import read_docx
from wcreport.intake.reader import OLE_MAGIC, WORD_EXTENSIONS, UnreadableFile, WorkbookGrid, check_size

log = logging.getLogger(__name__)

EXTENSIONS = WORD_EXTENSIONS
CONVERT_SECONDS = 60            # a form converts in about a second; a slow start of LibreOffice fits too
RTF_MAGIC = b"{\\rtf"
WORD_STREAM = "WordDocument"


class WriterMissing(OperationsFault):
    """LibreOffice Writer is not installed where intake runs."""

    fix = "install it (tools/install_system_packages.sh installs libreoffice-writer-nogui)"


def sniff_doc(path: Path) -> str | None:
    """"doc" for a Word 97-2003/WPS file (OLE2 with a Word stream) whatever its name, or any
    file named .doc/.wps (an RTF saved as .doc is read; anything else gets the Word-specific
    reason); None otherwise (a loose .rtf stays a document for the staff)."""
    if _word_kind(Path(path)) == "ole":
        return "doc"
    return "doc" if Path(path).suffix.lower() in EXTENSIONS else None


def _word_kind(path: Path) -> str | None:
    """"ole" for an OLE2 compound file with a root Word stream, "rtf" for RTF, else None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None
    if head.startswith(RTF_MAGIC):
        return "rtf"
    if not head.startswith(OLE_MAGIC):
        return None
    return "ole" if _opens_as_word(path) else None


def _opens_as_word(path: Path) -> bool:
    """olefile opens the file and its root holds a Word document stream."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            return bool(ole.exists(WORD_STREAM))
    except Exception:           # olefile raises OSError and assorted errors on damaged files
        return False


def read_doc(path: str | Path) -> WorkbookGrid:
    """The document's tables as sheets (see ``docx_reader``); raise UnreadableFile with a Chinese reason."""
    path = Path(path)
    check_size(path)
    if _word_kind(path) is None:
        raise UnreadableFile.of("file.doc_corrupt")
    with tempfile.TemporaryDirectory(prefix="wcreport-doc-") as folder:
        converted = convert_to_docx(path, Path(folder))
        try:
            grid = read_docx(converted)
        except UnreadableFile as exc:
            if exc.code == "file.docx_corrupt":
                raise UnreadableFile.of("file.doc_corrupt") from None
            raise
    grid.format = "doc"
    return grid


def convert_to_docx(path: Path, folder: Path) -> Path:
    """``path`` converted by LibreOffice Writer into ``folder``; UnreadableFile if it cannot be."""
    soffice = shutil.which("soffice")
    if soffice is None:
        raise WriterMissing("LibreOffice (soffice) is not installed: legacy Word files (.doc/.wps) cannot be read")
    source = folder / f"source{path.suffix.lower() if path.suffix.lower() in EXTENSIONS else '.doc'}"
    shutil.copyfile(path, source)       # a name of our own: the unit's name never reaches a command line
    out = folder / "out"
    command = [soffice, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless", "--norestore",
               "--nolockcheck", "--convert-to", "docx:MS Word 2007 XML", "--outdir", str(out), str(source)]
    done = _run(command, env=child_process_environment(HOME=str(folder)))
    converted = out / "source.docx"
    if not converted.exists():
        output = (done.stdout + done.stderr).decode("utf-8", "replace")
        if "no export filter" in output.lower():
            raise WriterMissing("LibreOffice has no Writer export filter: legacy Word files (.doc/.wps) "
                                "cannot be read")
        log.info("LibreOffice did not convert %s (exit %s): %s", path, done.returncode, output[-500:])
        raise UnreadableFile.of("file.doc_corrupt")
    return converted


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run LibreOffice in a session of its own, so a timeout ends soffice.bin too, not only its launcher."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=CONVERT_SECONDS)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise UnreadableFile.of("file.doc_corrupt", cause="timeout", seconds=CONVERT_SECONDS) from None
        return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()
