"""Synthetic scans of the printed, stamped form, deterministic for a given seed.

A page is drawn like the notice's attachment printed from a unit's workbook (A4
landscape: title, 「单位：（盖章）」 line, the five columns, wrapped progress text),
then optionally stamped with a red official seal (about 40 mm, ring, star, the unit's
name along the ring, uneven ink), given red distractors (underline, pen strokes and
loops, a small logo, red table text), and "scanned": slight rotation, paper tint,
noise, blur, greyscale, JPEG compression. The seal and distractors are drawn in
millimetres, so every dpi shows the same page.

Used by the stamped-copy tests and by bench/bench_stamped.py. Fonts: Noto CJK
(Debian ``fonts-noto-cjk``).
"""
from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from wcreport.core.model import FORM_HEADERS_ZH
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.demo.sample import indicator_value, progress_text

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
SERIF = FONT_DIR / "NotoSerifCJK-Regular.ttc"
SERIF_BOLD = FONT_DIR / "NotoSerifCJK-Bold.ttc"
SANS_BOLD = FONT_DIR / "NotoSansCJK-Bold.ttc"
_SC = 2  # index of the Simplified Chinese face in the Noto CJK collections

PAGE_MM = (297.0, 210.0)       # A4 landscape, as the form prints
MARGIN_MM = 15.0
COLUMN_WEIGHTS = (6, 26, 22, 70, 14)   # the form's column widths (deliver.forms.COLUMN_WIDTHS)
BODY_PT, TITLE_PT, UNIT_PT = 10.0, 16.0, 12.0
LINE_FACTOR = 1.45
MM_PER_PT = 25.4 / 72
DISTRACTORS = ("underline", "strokes", "loop", "logo", "red_text")


@dataclass(frozen=True)
class FormContent:
    """What one unit printed: its name and its rows (seq, task, units, progress, deadline)."""

    unit_key: str
    unit_name: str
    title: str
    rows: tuple[tuple[str, str, str, str, str], ...]

    @property
    def progress_texts(self) -> list[str]:
        return [row[3] for row in self.rows]


@dataclass(frozen=True)
class ScanSpec:
    """One synthetic scan: what is on the page and how it was scanned."""

    dpi: int = 150
    sealed: bool = True
    seal_at: str = "unit_line"           # unit_line | bottom_right
    distractors: tuple[str, ...] = ()    # any of DISTRACTORS
    grey: bool = False
    rotate_deg: float = 0.0
    jpeg_quality: int | None = 80
    seed: int = 0
    # a dark smear over the 「单位：」 line (OCR cannot read it); out of the repr, which seeds the
    # noise, so that every other scan stays as it was
    smudge_unit_line: bool = field(default=False, repr=False)


# A phone photo of the printed form (as sent over WeChat): low resolution, tilted, heavily
# compressed; OCR garbles its 「单位：」 line.
PHONE_PHOTO = ScanSpec(dpi=100, rotate_deg=3.0, jpeg_quality=30, seed=3)


@dataclass
class ScanSample:
    content: FormContent
    spec: ScanSpec
    pages: list[Image.Image] = field(default_factory=list)


def form_contents(programme: Programme, quarter: Quarter, seed: int = 2023) -> list[FormContent]:
    """Every unit's filled form, with the project's sample progress texts."""
    rng = random.Random(f"stamped-{seed}-{quarter}")
    contents = []
    for unit in programme.units:
        values = {i.key: indicator_value(rng, t, i, quarter) for t, i in programme.indicators_of(unit.key)}
        rows = []
        for task in programme.tasks_of(unit.key):
            text = progress_text(rng, task, unit.name, values)
            rows.append((str(task.seq), task.name, unit.name, text, f"{quarter.year}年12月底"))
        title = f"{programme.report.title}（{quarter.label_zh}）"
        contents.append(FormContent(unit.key, unit.name, title, tuple(rows)))
    return contents


class _Canvas:
    """Millimetre drawing on a page image at a given dpi."""

    def __init__(self, dpi: int):
        self.dpi = dpi
        self.size = (self.px(PAGE_MM[0]), self.px(PAGE_MM[1]))
        self.image = Image.new("RGB", self.size, "white")
        self.draw = ImageDraw.Draw(self.image)
        self._fonts: dict[tuple[Path, float], ImageFont.FreeTypeFont] = {}

    def px(self, mm: float) -> int:
        return round(mm / 25.4 * self.dpi)

    def font(self, path: Path, pt: float) -> ImageFont.FreeTypeFont:
        key = (path, pt)
        if key not in self._fonts:
            self._fonts[key] = ImageFont.truetype(str(path), max(6, self.px(pt * MM_PER_PT)), index=_SC)
        return self._fonts[key]


def _wrap(text: str, font: ImageFont.FreeTypeFont, width_px: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for char in paragraph:
            if line and font.getlength(line + char) > width_px:
                lines.append(line)
                line = char
            else:
                line += char
        lines.append(line)
    return lines


@dataclass
class _Layout:
    """Where things landed on page 1, in pixels, for seals and distractors."""

    unit_line: tuple[int, int, int, int] = (0, 0, 0, 0)       # x0, y0, x1, y1
    progress_cells: list[tuple[int, int, int, int]] = field(default_factory=list)
    table_bottom: int = 0


def render_form(content: FormContent, dpi: int, red_row: int | None = None) -> tuple[list[Image.Image], _Layout]:
    """The printed form as page images (rows flow onto further pages) and page 1's layout."""
    pages: list[Image.Image] = []
    layout = _Layout()
    canvas = _Canvas(dpi)
    body = canvas.font(SERIF, BODY_PT)
    bold = canvas.font(SERIF_BOLD, BODY_PT)
    line_h = canvas.px(BODY_PT * MM_PER_PT * LINE_FACTOR)
    left, right = canvas.px(MARGIN_MM), canvas.size[0] - canvas.px(MARGIN_MM)
    bottom_limit = canvas.size[1] - canvas.px(MARGIN_MM)
    total = sum(COLUMN_WEIGHTS)
    xs = [left]
    for weight in COLUMN_WEIGHTS:
        xs.append(xs[-1] + round((right - left) * weight / total))
    xs[-1] = right
    pad = canvas.px(1.2)

    def header(canvas: _Canvas, y: int) -> int:
        if not pages:
            title_font = canvas.font(SERIF_BOLD, TITLE_PT)
            width = title_font.getlength(content.title)
            canvas.draw.text(((canvas.size[0] - width) / 2, y), content.title, font=title_font, fill="black")
            y += canvas.px(TITLE_PT * MM_PER_PT * 1.8)
            unit_font = canvas.font(SERIF, UNIT_PT)
            text = f"单位：（盖章）{content.unit_name}"
            canvas.draw.text((left, y), text, font=unit_font, fill="black")
            layout.unit_line = (left, y, left + round(unit_font.getlength(text)), y + canvas.px(UNIT_PT * MM_PER_PT))
            y += canvas.px(UNIT_PT * MM_PER_PT * 1.7)
        heads = [FORM_HEADERS_ZH[f] for f in ("seq", "task_name", "units", "progress", "deadline")]
        row_h = line_h + 2 * pad
        for i, head in enumerate(heads):
            width = bold.getlength(head)
            canvas.draw.text(((xs[i] + xs[i + 1] - width) / 2, y + pad), head, font=bold, fill="black")
        _grid(canvas.draw, xs, y, y + row_h, canvas.px(0.25))
        return y + row_h

    y = header(canvas, canvas.px(MARGIN_MM))
    for index, row in enumerate(content.rows):
        cells = [_wrap(value, body, xs[i + 1] - xs[i] - 2 * pad) for i, value in enumerate(row)]
        row_h = max(len(c) for c in cells) * line_h + 2 * pad
        if y + row_h > bottom_limit:
            pages.append(canvas.image)
            canvas = _Canvas(dpi)
            y = header(canvas, canvas.px(MARGIN_MM))
        for i, lines in enumerate(cells):
            colour = (200, 20, 25) if (index == red_row and i == 3) else "black"
            top = y + pad + (row_h - 2 * pad - len(lines) * line_h) // 2
            for n, line in enumerate(lines):
                x = xs[i] + pad
                if i in (0, 4):
                    x = (xs[i] + xs[i + 1] - body.getlength(line)) / 2
                canvas.draw.text((x, top + n * line_h), line, font=body, fill=colour)
        if not pages:
            layout.progress_cells.append((xs[3], y, xs[4], y + row_h))
        _grid(canvas.draw, xs, y, y + row_h, canvas.px(0.25))
        y += row_h
        if not pages:
            layout.table_bottom = y
    pages.append(canvas.image)
    return pages, layout


def _grid(draw: ImageDraw.ImageDraw, xs: list[int], top: int, bottom: int, width_px: int) -> None:
    width = max(1, width_px)
    draw.rectangle((xs[0], top, xs[-1], bottom), outline="black", width=width)
    for x in xs[1:-1]:
        draw.line((x, top, x, bottom), fill="black", width=width)


def seal_layer(name: str, dpi: int, rng: random.Random, diameter_mm: float | None = None) -> Image.Image:
    """An RGBA image of a red official seal: ring, star, the name along the upper arc."""
    canvas = _Canvas(dpi)
    diameter_mm = diameter_mm or rng.uniform(38.0, 42.0)
    size = canvas.px(diameter_mm + 4)
    centre = size / 2
    radius = canvas.px(diameter_mm) / 2
    ring = max(2, canvas.px(rng.uniform(1.0, 1.4)))
    layer = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(layer)
    draw.ellipse((centre - radius, centre - radius, centre + radius, centre + radius), outline=255, width=ring)
    star_r = canvas.px(diameter_mm * 0.17)
    points = []
    for k in range(10):
        r = star_r if k % 2 == 0 else star_r * 0.38
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((centre + r * math.cos(angle), centre + r * math.sin(angle)))
    draw.polygon(points, fill=255)
    span = math.radians(min(260.0, 26.0 * len(name)))
    char_px = min(canvas.px(diameter_mm * 0.15), 0.95 * (radius - ring) * span / max(1, len(name)))
    font = ImageFont.truetype(str(SANS_BOLD), max(6, round(char_px)), index=_SC)
    _arc_text(layer, name, centre, radius - ring - char_px * 0.62 - canvas.px(0.6), font, span)
    ink = _ink_texture(size, rng)
    alpha = (np.asarray(layer, dtype=np.float32) * ink).clip(0, 255).astype(np.uint8)
    red = (rng.randint(190, 225), rng.randint(20, 55), rng.randint(30, 60))
    seal = Image.new("RGBA", (size, size), red + (0,))
    seal.putalpha(Image.fromarray(alpha))
    return seal.rotate(rng.uniform(-25, 25), resample=Image.BICUBIC)


def _arc_text(layer: Image.Image, text: str, centre: float, radius: float, font: ImageFont.FreeTypeFont,
              span: float) -> None:
    for i, char in enumerate(text):
        angle = -math.pi / 2 - span / 2 + span * (i + 0.5) / len(text)
        glyph = Image.new("L", (font.size * 2, font.size * 2), 0)
        ImageDraw.Draw(glyph).text((font.size / 2, font.size / 2), char, font=font, fill=255)
        glyph = glyph.rotate(-math.degrees(angle) - 90, resample=Image.BICUBIC)
        x = centre + radius * math.cos(angle) - glyph.width / 2
        y = centre + radius * math.sin(angle) - glyph.height / 2
        layer.paste(255, (round(x), round(y)), glyph)


def _ink_texture(size: int, rng: random.Random) -> np.ndarray:
    """Uneven stamp ink: smooth low-frequency variation with a few pale patches."""
    gen = np.random.default_rng(rng.randrange(2**32))
    coarse = gen.uniform(0.55, 1.0, size=(6, 6)).astype(np.float32)
    smooth = Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    texture = np.asarray(smooth, dtype=np.float32) / 255
    speckle = gen.uniform(0.75, 1.0, size=(size, size)).astype(np.float32)
    return (texture * speckle).clip(0.35, 1.0)


def _stamp(page: Image.Image, layer: Image.Image, centre: tuple[int, int], strength: float = 0.92) -> None:
    """Multiply the seal's ink into the page, as ink over toner looks."""
    x0 = min(max(0, centre[0] - layer.width // 2), page.width - layer.width)
    y0 = min(max(0, centre[1] - layer.height // 2), page.height - layer.height)
    box = (x0, y0, x0 + layer.width, y0 + layer.height)
    region = np.asarray(page.crop(box), dtype=np.float32)
    rgba = np.asarray(layer, dtype=np.float32)
    alpha = rgba[..., 3:4] / 255 * strength
    colour = rgba[..., :3] / 255
    mixed = region * (1 - alpha) + region * colour * alpha
    page.paste(Image.fromarray(mixed.clip(0, 255).astype(np.uint8)), box[:2])


def _pen_path(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], width: int) -> None:
    draw.line(points, fill=(205, 25, 35), width=width, joint="curve")


def _draw_distractor(kind: str, page: Image.Image, layout: _Layout, dpi: int, rng: random.Random) -> None:
    canvas = _Canvas(dpi)
    draw = ImageDraw.Draw(page)
    mm = canvas.px
    w, h = page.size
    if kind == "underline":
        x0, _y0, x1, y1 = layout.unit_line
        y = y1 + mm(1.5)
        length = mm(rng.uniform(80, 150))
        draw.line((x0, y, x0 + length, y + mm(rng.uniform(-1, 1))), fill=(210, 30, 30), width=max(1, mm(0.6)))
        if layout.progress_cells:
            cx0, cy0, cx1, cy1 = rng.choice(layout.progress_cells)
            yy = (cy0 + cy1) // 2
            draw.line((cx0 + mm(3), yy, cx1 - mm(10), yy), fill=(210, 30, 30), width=max(1, mm(0.5)))
    elif kind == "strokes":
        # A signature-like scribble and two check marks in red pen.
        x, y = w - mm(rng.uniform(70, 90)), h - mm(rng.uniform(25, 35))
        points = [(x + mm(i * 1.6), y + mm(6 * math.sin(i * rng.uniform(0.7, 1.1)) + rng.uniform(-1.5, 1.5)))
                  for i in range(30)]
        _pen_path(draw, points, max(1, mm(0.6)))
        for _ in range(2):
            cx0, cy0, cx1, cy1 = rng.choice(layout.progress_cells or [(mm(50), mm(50), mm(90), mm(70))])
            px, py = cx1 - mm(12), (cy0 + cy1) / 2
            _pen_path(draw, [(px, py), (px + mm(3), py + mm(4)), (px + mm(10), py - mm(6))], max(1, mm(0.6)))
    elif kind == "loop":
        # A hand-drawn loop around a number or phrase: elongated, open, no inner marks.
        cx0, cy0, cx1, cy1 = rng.choice(layout.progress_cells or [(mm(120), mm(60), mm(250), mm(90))])
        cx, cy = rng.uniform(cx0 + mm(25), max(cx0 + mm(26), cx1 - mm(25))), (cy0 + cy1) / 2
        rx, ry = mm(rng.uniform(14, 22)), mm(rng.uniform(7, 14))
        start = rng.uniform(0, 2 * math.pi)
        points = [(cx + rx * (1 + 0.05 * math.sin(5 * t)) * math.cos(start + t), cy + ry * math.sin(start + t))
                  for t in np.linspace(0, 2 * math.pi * 1.08, 80)]
        _pen_path(draw, points, max(1, mm(0.6)))
    elif kind == "logo":
        size = mm(rng.uniform(10, 15))
        x, y = mm(MARGIN_MM), mm(MARGIN_MM) - size // 4
        draw.ellipse((x, y, x + size, y + size), fill=(200, 25, 30))
        inner = size * 0.28
        draw.rectangle((x + size / 2 - inner / 2, y + size * 0.22, x + size / 2 + inner / 2, y + size * 0.78), fill="white")
    elif kind == "red_text":
        pass  # drawn by render_form (one progress cell in red)
    else:
        raise ValueError(f"unknown distractor {kind!r}")


def _scan(page: Image.Image, spec: ScanSpec, rng: random.Random) -> Image.Image:
    """What a flatbed scanner makes of the printed page."""
    gen = np.random.default_rng(rng.randrange(2**32))
    if spec.rotate_deg:
        page = page.rotate(spec.rotate_deg, resample=Image.BICUBIC, fillcolor=(255, 255, 255))
    page = page.filter(ImageFilter.GaussianBlur(radius=max(0.3, 0.4 * spec.dpi / 150)))
    pixels = np.asarray(page, dtype=np.float32)
    tint = np.array([rng.uniform(244, 252), rng.uniform(242, 250), rng.uniform(236, 246)], dtype=np.float32)
    pixels = pixels / 255 * tint + gen.normal(0, 3.0, size=pixels.shape).astype(np.float32)
    page = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    if spec.grey:
        page = page.convert("L")
    if spec.jpeg_quality:
        buffer = io.BytesIO()
        page.save(buffer, "JPEG", quality=spec.jpeg_quality)
        buffer.seek(0)
        page = Image.open(buffer)
        page.load()
    return page


def make_scan(content: FormContent, spec: ScanSpec) -> ScanSample:
    """The scanned pages of ``content`` as ``spec`` says (page 1 carries seal and distractors)."""
    rng = random.Random(f"{content.unit_key}-{spec}")
    red_row = rng.randrange(len(content.rows)) if "red_text" in spec.distractors and content.rows else None
    pages, layout = render_form(content, spec.dpi, red_row=red_row)
    first = pages[0]
    if spec.smudge_unit_line:
        _smudge(first, layout.unit_line, rng)
    for kind in spec.distractors:
        _draw_distractor(kind, first, layout, spec.dpi, rng)
    if spec.sealed:
        layer = seal_layer(_seal_name(content.unit_name), spec.dpi, rng)
        _stamp(first, layer, _seal_centre(spec, layout, first.size, rng))
    scanned = [_scan(page, replace(spec, rotate_deg=spec.rotate_deg if i == 0 else 0.0), rng)
               for i, page in enumerate(pages)]
    return ScanSample(content, spec, scanned)


def _smudge(page: Image.Image, box: tuple[int, int, int, int], rng: random.Random) -> None:
    """Grey blotches over ``box`` (a thumb, a fold's shadow), blurred: the words under it are lost."""
    x0, y0, x1, y1 = box
    pad = max(4, (y1 - y0) // 2)
    region = (max(0, x0 - pad), max(0, y0 - pad), x1 + pad * 6, y1 + pad)
    patch = page.crop(region)
    draw = ImageDraw.Draw(patch)
    for _ in range(60):
        x, y = rng.randrange(patch.width), rng.randrange(patch.height)
        r = rng.randrange(pad, pad * 3)
        shade = rng.randrange(60, 140)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(shade, shade, shade))
    page.paste(patch.filter(ImageFilter.GaussianBlur(pad / 2)), region[:2])


def _seal_name(unit_name: str) -> str:
    return unit_name if unit_name.startswith("淄博") else f"淄博高新技术产业开发区{unit_name}"


def _seal_centre(spec: ScanSpec, layout: _Layout, size: tuple[int, int], rng: random.Random) -> tuple[int, int]:
    mm = _Canvas(spec.dpi).px
    if spec.seal_at == "unit_line":
        x0, y0, x1, y1 = layout.unit_line
        return (x0 + mm(rng.uniform(30, 50)), (y0 + y1) // 2 + mm(rng.uniform(-4, 6)))
    return (size[0] - mm(rng.uniform(45, 60)), size[1] - mm(rng.uniform(35, 45)))


def save_pdf(pages: list[Image.Image], path: Path, dpi: int) -> Path:
    """A scanner's PDF: one JPEG image per page, no text layer."""
    rgb = [p if p.mode in ("RGB", "L") else p.convert("RGB") for p in pages]
    rgb[0].save(path, "PDF", resolution=float(dpi), save_all=True, append_images=rgb[1:], quality=85)
    return path


def measurement_specs(dpis: tuple[int, ...] = (100, 150, 200, 300), units: int = 4) -> list[tuple[int, ScanSpec]]:
    """The bench's set: (unit index, spec) for sealed/unsealed × colour/grey × dpi × distractor mixes."""
    mixes: tuple[tuple[str, ...], ...] = ((), ("underline",), ("strokes", "loop"), ("logo", "red_text"), DISTRACTORS)
    specs = []
    rng = random.Random("measurement")
    for unit in range(units):
        for dpi in dpis:
            for sealed in (True, False):
                for grey in (False, True):
                    for mix in mixes:
                        specs.append((unit, ScanSpec(
                            dpi=dpi, sealed=sealed, grey=grey, distractors=mix,
                            seal_at=rng.choice(("unit_line", "unit_line", "bottom_right")),
                            rotate_deg=round(rng.uniform(-3, 3), 2),
                            jpeg_quality=rng.choice((55, 70, 85, 95)),
                            seed=len(specs))))
    return specs
