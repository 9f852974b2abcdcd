"""Pages of a stamped copy as images, with every size checked before anything is decoded.

PDF structure (encryption, page count, page sizes, text layer) comes from pypdf, a
pure-Python reader with no dependencies, run in a child process within the parse budget
(``intake.bounded``: a crafted PDF can keep pypdf busy for minutes); pages are rasterised by poppler's
``pdftoppm`` in a child process with a time limit, so a hostile PDF can hang or
crash only that process. JPEG and PNG files are opened with Pillow, whose ``open``
reads only the header: the pixel dimensions are checked before any pixel is
decoded, and JPEGs are decoded at a reduced scale (``draft``) when larger than
needed.
"""
from __future__ import annotations

import logging
import math
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from wcreport.intake.bounded import Budget, Done, run_bounded
from wcreport.intake.stamped.reasons import ScanRefused

log = logging.getLogger(__name__)

# A4 at 300 dpi is 8.7 MP and A3 at 300 dpi 17.4 MP; phone cameras make 12-50 MP photos.
MAX_SOURCE_PIXELS = 64_000_000
MAX_PAGE_PIXELS = 36_000_000   # one rasterised page (A3 at 400 dpi is 31 MP)
MIN_DPI = 72
MAX_DPI = 400
A4_LONG_SIDE_IN = 297 / 25.4
# A text layer counts when it has this many Chinese characters (a scanner's English-only
# OCR layer on a Chinese form does not).
MIN_TEXT_LAYER_HAN = 30


@dataclass
class PdfInfo:
    pages: int
    page_sizes: list[tuple[float, float]]          # points, for the pages to be read
    texts: list[str] = field(default_factory=list)  # text layer of those pages
    images: list[bool] = field(default_factory=list)  # whether each page draws an image

    @property
    def has_text_layer(self) -> bool:
        return sum(_han_count(t) for t in self.texts) >= MIN_TEXT_LAYER_HAN


def _han_count(text: str) -> int:
    return sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")


def clamp_dpi(dpi: int) -> int:
    return max(MIN_DPI, min(MAX_DPI, int(dpi)))


def inspect_pdf(path: Path, max_pages: int, budget: Budget | None = None) -> PdfInfo:
    """Page count, sizes and text layer of a PDF, read in a child process within ``budget``
    (default: the settings'); ScanRefused with the reason if it cannot be read in it."""
    budget = budget or Budget.from_settings()
    outcome = run_bounded(read_pdf_structure, path, max_pages, budget=budget)
    if isinstance(outcome, Done):
        return outcome.value
    if outcome.kind == "timeout":
        raise ScanRefused("stamped.pdf.parse_timeout", seconds=budget.seconds)
    if outcome.kind == "memory":
        raise ScanRefused("stamped.pdf.too_complex", limit_mb=budget.memory_bytes // (1024 * 1024))
    raise ScanRefused("stamped.pdf.broken")


def read_pdf_structure(path: Path, max_pages: int) -> PdfInfo:
    """``inspect_pdf``'s work, in this process (the child's)."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            _decrypt_without_password(reader)
        count = _declared_page_count(reader)
        if count > max_pages:
            raise ScanRefused("stamped.pdf.too_many_pages", pages=count, limit=max_pages)
        pages = list(reader.pages)
    except ScanRefused:
        raise
    except FileNotDecryptedError:
        raise ScanRefused("stamped.pdf.encrypted") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        log.info("PDF %s cannot be parsed: %s", path, exc)
        raise ScanRefused("stamped.pdf.broken") from None
    if not pages:
        raise ScanRefused("stamped.pdf.broken")
    if len(pages) > max_pages:
        raise ScanRefused("stamped.pdf.too_many_pages", pages=len(pages), limit=max_pages)
    sizes = [_page_size(page) for page in pages]
    return PdfInfo(len(pages), sizes, [_page_text(page) for page in pages], [_draws_image(page) for page in pages])


def _decrypt_without_password(reader) -> None:
    """Owner-password-only PDFs open with the empty user password, as every viewer does."""
    from pypdf import PasswordType

    try:
        result = reader.decrypt("")
    except Exception as exc:   # unsupported algorithm, missing crypto provider, damaged dictionary
        log.info("PDF decryption failed: %s", exc)
        raise ScanRefused("stamped.pdf.encrypted") from None
    if result == PasswordType.NOT_DECRYPTED:
        raise ScanRefused("stamped.pdf.encrypted")


def _declared_page_count(reader) -> int:
    """/Count of the page tree, read without walking it (a lying /Count is caught later)."""
    try:
        return int(reader.trailer["/Root"]["/Pages"]["/Count"])
    except (KeyError, TypeError, ValueError):
        return len(reader.pages)


def _page_size(page) -> tuple[float, float]:
    box = page.mediabox
    unit = float(page.get("/UserUnit", 1) or 1)
    width, height = abs(float(box.width)) * unit, abs(float(box.height)) * unit
    if int(page.get("/Rotate", 0) or 0) % 180:
        width, height = height, width
    return width, height


def _draws_image(page) -> bool:
    """Whether the page's resources hold an image (a scan, a photo, an electronic seal)."""
    try:
        objects = page.get("/Resources", {}).get("/XObject", {}) or {}
        return any(objects[name].get_object().get("/Subtype") == "/Image" for name in objects)
    except Exception:   # damaged resources: treat as a scan, the cautious answer
        return True


def _page_text(page) -> str:
    try:
        return page.extract_text() or ""
    except Exception as exc:   # pypdf raises many kinds on damaged content streams
        log.info("no text layer from a PDF page: %s", exc)
        return ""


def page_dpi(size_pt: tuple[float, float], dpi: int) -> int:
    """``dpi``, lowered so that the page fits MAX_PAGE_PIXELS; ScanRefused if even MIN_DPI does not."""
    width_in, height_in = size_pt[0] / 72, size_pt[1] / 72
    if width_in <= 0 or height_in <= 0:
        raise ScanRefused("stamped.pdf.broken")
    fitting = math.floor(math.sqrt(MAX_PAGE_PIXELS / (width_in * height_in)))
    if fitting < MIN_DPI:
        raise ScanRefused("stamped.page.too_large", width_mm=round(width_in * 25.4), height_mm=round(height_in * 25.4))
    return min(dpi, fitting)


def rasterise_pdf_page(path: Path, number: int, dpi: int, deadline: float) -> Image.Image:
    """Page ``number`` (1-based) at ``dpi`` by pdftoppm; ScanRefused on timeout or failure."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ScanRefused("stamped.ocr.timeout")
    with tempfile.TemporaryDirectory(prefix="wcreport-page-") as folder:
        root = Path(folder) / "page"
        command = ["pdftoppm", "-r", str(dpi), "-f", str(number), "-l", str(number), "-singlefile", str(path), str(root)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=remaining, check=False)
        except subprocess.TimeoutExpired:
            raise ScanRefused("stamped.ocr.timeout") from None
        except FileNotFoundError:
            raise ScanRefused("stamped.tool.missing", tool="pdftoppm") from None
        output = root.with_suffix(".ppm")
        if done.returncode != 0 or not output.exists():
            log.info("pdftoppm failed on %s page %d: %s", path, number, done.stderr[-500:])
            raise ScanRefused("stamped.pdf.broken")
        with Image.open(output) as image:
            image.load()
            return image.copy()


ENLARGE_AT_MOST = 2.0      # a small photo is enlarged to the OCR dpi, by this factor at the most


def open_image(path: Path, dpi: int) -> tuple[Image.Image, int]:
    """A JPEG/PNG scan, decoded no larger than a page at ``dpi``; (image, its dpi) or ScanRefused."""
    try:
        with warnings.catch_warnings(), Image.open(path) as source:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            width, height = source.size
            if width * height > MAX_SOURCE_PIXELS or width < 1 or height < 1:
                raise ScanRefused("stamped.image.too_large", width=width, height=height)
            target = _page_pixels(width, height, dpi)
            if source.format == "JPEG" and target[0] < width:
                source.draft("RGB", target)
            source.load()
            image = ImageOps.exif_transpose(source)
    except ScanRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ScanRefused("stamped.image.bomb") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        log.info("image %s cannot be decoded: %s", path, exc)
        raise ScanRefused("stamped.image.broken") from None
    image = _to_rgb_or_grey(image)
    target = _page_pixels(*image.size, dpi, most=ENLARGE_AT_MOST)
    if target != image.size:
        image = image.resize(target, Image.LANCZOS)
    return image, _estimated_dpi(image.size)


def _page_pixels(width: int, height: int, dpi: int, most: float = 1.0) -> tuple[int, int]:
    """Size of the image if its long side were an A4 page's long side at ``dpi``, enlarged
    ``most`` times at the most (a phone photo of ~100 dpi reads far better at the OCR dpi)."""
    scale = min(most, dpi * A4_LONG_SIDE_IN / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _estimated_dpi(size: tuple[int, int]) -> int:
    """A scan or photo of the form fills the frame: its long side is an A4 page's."""
    return max(1, round(max(size) / A4_LONG_SIDE_IN))


def _to_rgb_or_grey(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("1", "I", "I;16", "F", "LA", "La"):
        return image.convert("L")
    if image.mode in ("RGBA", "P", "PA"):
        image = image.convert("RGBA")
        backdrop = Image.new("RGB", image.size, "white")
        backdrop.paste(image, mask=image.getchannel("A"))
        return backdrop
    return image.convert("RGB")    # CMYK, YCbCr, LAB, HSV
