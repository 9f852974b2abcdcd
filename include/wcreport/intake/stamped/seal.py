"""Is a red official seal visible on a page? True, False, or None when it cannot be judged.

A Chinese official seal (公章) is a red ring about 40 mm across with a star in the
middle and the unit's name along the ring. The page is reduced to ANALYSIS_DPI and:

1. Colour pages: the red ink mask (Pillow's HSV: red hue, enough saturation and
   brightness, red clearly above green and blue) is searched for seal-sized circles by
   a circle Hough vote (numpy ``bincount``: every red pixel votes for the centres at
   each candidate radius). A candidate is a seal when the ring is mostly present, the
   inside holds some red (star and name: a pen loop has none, a filled logo too
   much) and just outside the ring is mostly free of red (not a block of red text).
   An underline, pen strokes, a small logo or red table text do not pass.
2. Greyscale pages (or RGB pages whose channels are equal): colour cannot show a seal.
   The same vote runs on the mid-grey "ink" pixels with stricter thresholds: a clear
   seal-sized ring gives True; otherwise the answer is None (cannot tell), never False.

Sizes are in millimetres through the page's dpi, so a 100 dpi and a 300 dpi scan of
the same page give the same answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

ANALYSIS_DPI = 50
SEAL_DIAMETER_MM = (30.0, 56.0)     # official seals are 38-45 mm; leave room for scaling
ANGLES = 64
MAX_VOTERS = 25_000                # ink pixels that vote; more are sampled evenly
# Colour pages.
RING_COVERAGE_MIN = 0.55           # share of the ring's directions with red ink
RING_SOLID_MIN = 0.6               # share of directions where the ring band is mostly red (a drawn line)
INSIDE_RED_RANGE = (0.035, 0.55)   # red share of the inner disc (star + name, not a filled logo)
OUTSIDE_RED_MAX = 0.12             # red share of the band just outside the ring
# Greyscale pages: a ring must stand out from text and table rules.
GREY_RING_COVERAGE_MIN = 0.85
GREY_RING_SOLID_MIN = 0.8
GREY_OUTSIDE_INK_MAX = 0.2
GREY_CHROMA_MAX = 4                # |R-G|, |B-G| at the 99.9th percentile for a "grey" RGB scan


@dataclass(frozen=True)
class SealCandidate:
    x: float
    y: float
    radius_px: float
    coverage: float                # share of directions whose ring band holds ink
    solid: float                   # share of directions whose ring band is mostly ink
    inside: float
    outside: float


def detect_seal(image: Image.Image, dpi: float, born_digital: bool = False) -> bool | None:
    """True: a red seal is visible; False: a colour page without one; None: cannot be judged.

    ``born_digital``: the page was rendered from a PDF with a text layer, so its colours
    are exact; a page without any colour then shows no seal (False), it is not a
    greyscale scan (None).
    """
    small = _reduce(image, dpi)
    if born_digital:
        return red_seal(small.convert("RGB")) is not None
    if small.mode == "L" or _is_grey(small):
        grey = small if small.mode == "L" else small.convert("L")
        return True if grey_ring(grey) else None
    return red_seal(small) is not None


def _reduce(image: Image.Image, dpi: float) -> Image.Image:
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    scale = ANALYSIS_DPI / max(dpi, 1)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.BOX)


def _is_grey(image: Image.Image) -> bool:
    pixels = np.asarray(image, dtype=np.int16)
    chroma = np.maximum(np.abs(pixels[..., 0] - pixels[..., 1]), np.abs(pixels[..., 2] - pixels[..., 1]))
    return float(np.percentile(chroma, 99.9)) <= GREY_CHROMA_MAX


def red_mask(image: Image.Image) -> np.ndarray:
    """Pixels of red ink (seal red, from deep to pale and pinkish) on an RGB image."""
    hsv = np.asarray(image.convert("HSV"), dtype=np.int16)
    rgb = np.asarray(image, dtype=np.int16)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    reddish = (hue <= 16) | (hue >= 232)
    above = rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2])
    return reddish & (sat >= 55) & (val >= 90) & (above >= 35)


def red_seal(image: Image.Image) -> SealCandidate | None:
    """The best seal-like red circle on a reduced RGB page, or None."""
    mask = red_mask(image)
    if mask.sum() < 40:
        return None
    for candidate in _circles(mask, RING_COVERAGE_MIN):
        inside_min, inside_max = INSIDE_RED_RANGE
        if (candidate.solid >= RING_SOLID_MIN and inside_min <= candidate.inside <= inside_max
                and candidate.outside <= OUTSIDE_RED_MAX):
            return candidate
    return None


def grey_ring(image: Image.Image) -> SealCandidate | None:
    """A clear seal-sized ring of ink on a reduced greyscale page, or None."""
    pixels = np.asarray(image, dtype=np.int16)
    paper = float(np.percentile(pixels, 90))
    ink = pixels < paper - 45
    if ink.sum() < 40:
        return None
    for candidate in _circles(ink, GREY_RING_COVERAGE_MIN):
        if (candidate.solid >= GREY_RING_SOLID_MIN and candidate.outside <= GREY_OUTSIDE_INK_MAX
                and candidate.inside >= INSIDE_RED_RANGE[0]):
            return candidate
    return None


def _radii() -> np.ndarray:
    low, high = (d / 2 / 25.4 * ANALYSIS_DPI for d in SEAL_DIAMETER_MM)
    return np.arange(np.floor(low), np.ceil(high) + 1)


def _circles(mask: np.ndarray, coverage_min: float, peaks: int = 8) -> list[SealCandidate]:
    """Seal-sized circles in ``mask`` by Hough voting: the strongest few, each measured."""
    height, width = mask.shape
    # A ring 1-1.5 mm wide is 2-3 px here; thicken by one pixel so that each direction
    # of a slightly non-round or rotated ring still hits it.
    ys, xs = np.nonzero(ndimage.binary_dilation(mask))
    step = len(xs) // MAX_VOTERS + 1          # a page full of ink: sample, deterministically
    ys, xs = ys[::step], xs[::step]
    theta = np.linspace(0, 2 * np.pi, ANGLES, endpoint=False)
    best_votes = np.zeros((height, width), dtype=np.float32)
    best_radius = np.zeros((height, width), dtype=np.float32)
    for radius in _radii():
        cx = np.rint(xs[:, None] - radius * np.cos(theta)[None, :]).astype(np.int64)
        cy = np.rint(ys[:, None] - radius * np.sin(theta)[None, :]).astype(np.int64)
        keep = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
        votes = np.bincount(cy[keep] * width + cx[keep], minlength=height * width).reshape(height, width)
        # A ring votes a few pixels wide: smooth before comparing centres.
        votes = ndimage.uniform_filter(votes.astype(np.float32), size=3)
        better = votes > best_votes
        best_votes[better] = votes[better]
        best_radius[better] = radius
    spacing = int(_radii()[0])
    local_max = (best_votes == ndimage.maximum_filter(best_votes, size=spacing)) & (best_votes > 0)
    ys, xs = np.nonzero(local_max)
    order = np.argsort(-best_votes[ys, xs], kind="stable")[:peaks]
    candidates = [_measure(mask, float(xs[i]), float(ys[i]), float(best_radius[ys[i], xs[i]])) for i in order]
    return sorted((c for c in candidates if c.coverage >= coverage_min), key=lambda c: (-c.solid, -c.coverage))


def _measure(mask: np.ndarray, x: float, y: float, radius: float) -> SealCandidate:
    """Ring coverage, inner and outer ink share of a circle, refined to its best radius."""
    height, width = mask.shape
    reach = int(np.ceil(radius * 1.4)) + 2
    x0, x1 = max(0, int(x) - reach), min(width, int(x) + reach + 1)
    y0, y1 = max(0, int(y) - reach), min(height, int(y) + reach + 1)
    window = mask[y0:y1, x0:x1]
    gy, gx = np.mgrid[y0:y1, x0:x1]
    distance = np.hypot(gx - x, gy - y)
    angle = ((np.arctan2(gy - y, gx - x) + np.pi) / (2 * np.pi) * ANGLES).astype(int) % ANGLES
    best = (0.0, 0.0, radius)
    for r in (radius - 2, radius - 1, radius, radius + 1, radius + 2):
        in_band = np.abs(distance - r) <= 1.6
        hits = np.bincount(angle[in_band], weights=window[in_band], minlength=ANGLES)
        sizes = np.bincount(angle[in_band], minlength=ANGLES)
        coverage = float((hits > 0).mean())
        solid = float((hits >= 0.5 * np.maximum(sizes, 1)).mean())
        best = max(best, (coverage, solid, r))
    coverage, solid, r = best
    inner = distance <= 0.8 * r
    outer = (distance >= 1.12 * r) & (distance <= 1.35 * r)
    inside = float(window[inner].mean()) if inner.any() else 0.0
    outside = float(window[outer].mean()) if outer.any() else 0.0
    return SealCandidate(float(x), float(y), float(r), coverage, solid, inside, outside)
