"""Read one stamped copy into a StampedCopy; never raises.

Order of checks, cheapest first: the file's size (before opening), its format by
bytes, for a PDF its encryption and declared page count (before rasterising), each
page's pixel size at the chosen dpi (before rendering), an image's pixel dimensions
from its header (before decoding). Then, page by page within one time budget
(``REPORT_OCR_TIMEOUT_SECONDS``): rasterise, look for the seal, OCR unless the PDF
has a text layer. A budget that runs out keeps what was read so far, with a reason.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from wcreport.core.findings_catalogue import finding
from wcreport.core.model import Finding, OcrWord, StampedCopy
from wcreport.core.settings import Settings, settings
from wcreport.intake.stamped import OPS_CODES, ocr, pages
from wcreport.intake.stamped.agree import agreement
from wcreport.intake.stamped.reasons import ScanRefused
from wcreport.intake.stamped.sniff import sniff

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# Pages of a PDF with a text layer are rasterised only to look for the seal.
SEAL_ONLY_DPI = 100


def read_stamped_copy(path: str | Path, name: str | None = None, config: Settings | None = None) -> StampedCopy:
    """Everything the pipeline needs to know about one stamped copy (see StampedCopy).

    ``name`` is what the copy is called in the result (the inbox-relative path);
    ``config`` defaults to the current settings.
    """
    config = config or settings()
    reader = _Reader(StampedCopy(path=name or str(path)), time.monotonic() + max(0.1, config.ocr_timeout_seconds))
    started = time.monotonic()
    try:
        reader.read(Path(path), config)
    except ScanRefused as refused:
        reader.refuse(refused)
    except Exception:
        log.exception("unexpected error reading stamped copy %s", path)
        reader.refuse(ScanRefused("stamped.ocr.failed"))
    copy = reader.finish()
    log.info("stamped copy %s: format=%s pages=%s/%s seal=%s text=%d chars (%s) in %.1fs",
             copy.path, copy.format, copy.pages_read, copy.pages, copy.seal, len(copy.text),
             copy.text_source, time.monotonic() - started)
    return copy


class _Reader:
    """One copy being read: the result so far, the time budget, each page's seal verdict."""

    def __init__(self, copy: StampedCopy, deadline: float):
        self.copy = copy
        self.deadline = deadline
        self.seals: list[bool | None] = []

    def refuse(self, refused: ScanRefused) -> None:
        copy = self.copy
        copy.reasons.append(refused.reason)
        severity = "warning" if refused.code in OPS_CODES or copy.pages_read else "error"
        copy.findings.append(Finding(code=refused.code, severity=severity, message=refused.reason))

    def read(self, path: Path, config: Settings) -> None:
        try:
            size = path.stat().st_size
        except OSError:
            raise ScanRefused("stamped.file.missing") from None
        if size == 0:
            raise ScanRefused("stamped.file.empty")
        if size > config.max_file_bytes:
            raise ScanRefused("stamped.file.too_large", size_mb=round(size / MIB, 1),
                              limit_mb=round(config.max_file_bytes / MIB, 1))
        kind = sniff(path)
        if kind in ("pdf", "jpeg", "png", "ofd"):
            self.copy.format = kind
        if kind not in ("pdf", "jpeg", "png", "heic"):
            _refuse_format(kind)
        dpi = pages.clamp_dpi(config.ocr_dpi)
        if kind == "pdf":
            self.read_pdf(path, dpi, config.scan_max_pages)
        else:
            if kind == "heic":
                _open_heif_with_pillow()
            image, image_dpi = pages.open_image(path, dpi)
            self.copy.pages = 1
            self.look_at(image, image_dpi, with_ocr=True)

    def read_pdf(self, path: Path, dpi: int, max_pages: int) -> None:
        info = pages.inspect_pdf(path, max_pages)
        self.copy.pages = info.pages
        with_ocr = not info.has_text_layer
        if not with_ocr:
            self.copy.text_source = "text_layer"
            self.copy.text = ocr.tidy("\n".join(info.texts))
        for number, (size, has_image) in enumerate(zip(info.page_sizes, info.images), start=1):
            page_dpi = pages.page_dpi(size, dpi if with_ocr else SEAL_ONLY_DPI)
            try:
                image = pages.rasterise_pdf_page(path, number, page_dpi, self.deadline)
            except ScanRefused as refused:
                if not self.copy.pages_read or refused.code != "stamped.pdf.broken":
                    raise
                self.refuse(refused)          # a damaged later page: keep the pages read
                return
            # A page drawn from text and lines only has exact colours; a scan's may be grey.
            self.look_at(image, page_dpi, with_ocr, born_digital=not with_ocr and not has_image)

    def look_at(self, image: Image.Image, dpi: int, with_ocr: bool, born_digital: bool = False) -> None:
        """Seal and (optionally) OCR of the next page."""
        copy = self.copy
        from wcreport.intake.stamped.seal import detect_seal  # numpy + scipy: only when a page is read

        seal = detect_seal(image, dpi, born_digital)
        self.seals.append(seal)
        copy.pages_read += 1
        copy.readable = True
        copy.dpi = dpi if copy.dpi is None else min(copy.dpi, dpi)
        if seal:
            copy.seal_pages.append(copy.pages_read)
        if with_ocr:
            began = time.monotonic()
            page = ocr.ocr_page(image, dpi, self.deadline)
            copy.ocr_seconds = round((copy.ocr_seconds or 0.0) + time.monotonic() - began, 2)
            copy.text_source = "ocr"
            copy.text = f"{copy.text}\n{page.text}" if copy.text else page.text
            if copy.unit_line is None and page.unit_line:
                copy.unit_line = page.unit_line
                copy.unit_line_words = [OcrWord(text=w.text, confidence=w.confidence) for w in page.unit_line_words]

    def finish(self) -> StampedCopy:
        """Seal verdict over the pages read, the 「单位：」 line, and the reasons they call for."""
        copy = self.copy
        if any(f.code in OPS_CODES for f in copy.findings):
            return self._unconfirmed()
        if not copy.readable:
            return copy
        if any(self.seals):
            copy.seal = True
        elif any(s is None for s in self.seals):
            copy.seal = None
            self._warn(finding("stamped.seal.unknown"))
        else:
            copy.seal = False
            self._warn(finding("stamped.seal.missing"))
        copy.unit_line = copy.unit_line or ocr.unit_line(copy.text)
        if not copy.text.strip() and copy.text_source != "text_layer":
            self._warn(finding("stamped.text.none"))
        return copy

    def _unconfirmed(self) -> StampedCopy:
        """The worker lacks a tool (ours to fix, ops are alerted): the copy is a scan a person can
        open, so it counts as received and is shown 无法确认 for the clerk to check by eye. Only a
        fact the pages already showed is kept: colour pages without a seal stay 未见公章."""
        copy = self.copy
        copy.readable = True
        copy.seal = False if self.seals and not any(s is not False for s in self.seals) else None
        copy.unit_line = copy.unit_line or ocr.unit_line(copy.text)
        return copy

    def _warn(self, warning: Finding) -> None:
        self.copy.reasons.append(warning.message)
        self.copy.findings.append(warning)


def _open_heif_with_pillow() -> None:
    """Let Pillow open HEIC photos (pillow-heif), so ``pages.open_image`` reads their pixel
    size from the header and refuses an oversized one before decoding, as for a JPEG."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def _refuse_format(kind: str | None) -> None:
    """Refuse a file that is not a PDF, JPEG or PNG, saying what it is when we know."""
    if kind == "ofd":
        raise ScanRefused("stamped.format.ofd")
    if kind == "html":
        raise ScanRefused("stamped.format.html")
    if kind == "zip":
        raise ScanRefused("stamped.format.zip")
    raise ScanRefused("stamped.format.unknown")


def compare_with_workbook(copy: StampedCopy, progress_texts: Iterable[str], threshold: float | None = None) -> StampedCopy:
    """``copy`` with its agreement to the unit's accepted progress texts, warned below ``threshold``.

    ``threshold`` defaults to REPORT_STAMPED_AGREEMENT_MIN. Nothing to compare (no text
    on the copy, or empty progress texts) leaves agreement None.
    """
    texts = [t for t in progress_texts if t and t.strip()]
    if not copy.text.strip() or not texts:
        return copy
    limit = settings().stamped_agreement_min if threshold is None else threshold
    score = round(agreement(copy.text, texts), 3)
    updated = copy.model_copy(deep=True, update={"agreement": score})
    if score < limit:
        mismatch = finding("stamped.content.mismatch", percent=round(score * 100))
        updated.reasons.append(mismatch.message)
        updated.findings.append(mismatch)
    return updated
