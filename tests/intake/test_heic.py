"""A phone's photo of the stamped copy saved as HEIC (pillow-heif writes it, as an iPhone
does) is read like a JPEG: known by its bytes, its pixel size checked from the header
before decoding, a damaged one refused with the image reason."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from pillow_heif import as_plugin, from_pillow
from wcreport_testing.stamped_samples import ScanSpec, form_contents, make_scan

from wcreport.core.quarter import Quarter
from wcreport.intake.formats import SCAN_EXTS, STAMPED_COPY, detect
from wcreport.intake.stamped import pages, read_stamped_copy, sniff


def heic_bytes(image: Image.Image, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    from_pillow(image.convert("RGB")).save(buffer, quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sealed_photo(tmp_path_factory, programme) -> bytes:
    content = next(c for c in form_contents(programme, Quarter.parse("2023Q1")) if c.unit_key == "edu_sports")
    page = make_scan(content, ScanSpec(dpi=150, sealed=True, rotate_deg=1.0)).pages[0]
    return heic_bytes(page)


def test_heic_is_known_by_its_bytes_under_any_name(tmp_path, sealed_photo):
    assert {".heic", ".heif"} <= SCAN_EXTS
    for name in ("盖章件.heic", "IMG_0001.HEIC", "盖章件.jpg"):
        path = tmp_path / name
        path.write_bytes(sealed_photo)
        assert sniff(path) == "heic" and detect(path, STAMPED_COPY) == "heic", name


def test_a_heic_photo_of_the_stamped_copy_is_read(tmp_path, sealed_photo):
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(sealed_photo)
    copy = read_stamped_copy(path, name="IMG_0001.HEIC")
    assert (copy.readable, copy.pages, copy.pages_read, copy.text_source) == (True, 1, 1, "ocr")
    assert copy.seal is True and copy.findings == []
    assert "单位" in copy.text


def test_an_oversized_heic_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "大.heic"
    path.write_bytes(heic_bytes(Image.new("RGB", (400, 300), "white")))
    monkeypatch.setattr(pages, "MAX_SOURCE_PIXELS", 100 * 100)
    monkeypatch.setattr(as_plugin.HeifImageFile, "load", lambda *_: pytest.fail("decoded an oversized image"))
    copy = read_stamped_copy(path)
    assert [f.code for f in copy.findings] == ["stamped.image.too_large"]
    assert "400×300" in copy.reasons[0]


def test_a_truncated_heic_is_broken(tmp_path, sealed_photo):
    path = tmp_path / "半.heic"
    path.write_bytes(sealed_photo[: len(sealed_photo) // 2])
    copy = read_stamped_copy(path)
    assert [f.code for f in copy.findings] == ["stamped.image.broken"]
    assert copy.readable is False
