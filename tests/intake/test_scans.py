"""The stamped copy (盖章件): format by bytes, seal detection, OCR, agreement, and hostile files.

Scans are generated (wcreport_testing.stamped_samples) once per session. OCR runs on
three pages in all; everything else is fast. Needs Debian's poppler-utils,
tesseract-ocr, tesseract-ocr-chi-sim and fonts-noto-cjk (tools/install_system_packages.sh),
and LibreOffice for the one printed-spreadsheet PDF.
"""
from __future__ import annotations

import dataclasses
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from wcreport_testing.stamped_samples import DISTRACTORS, ScanSpec, form_contents, make_scan, save_pdf

from wcreport.core.programme import programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.core.settings import settings
from wcreport.deliver.forms import build_unit_workbook
from wcreport.intake.identity import match_unit
from wcreport.intake.stamped import agreement, compare_with_workbook, detect_seal, read_stamped_copy, sniff
from wcreport.intake.stamped.agree import passages
from wcreport.intake.stamped.ocr import Word, parse_tsv, tidy, unit_line, unit_line_from_words
from wcreport.intake.stamped.reasons import MESSAGES

QUARTER = Quarter.parse("2023Q2")


@pytest.fixture(scope="session")
def programme():
    return programme_for_year(2023)


@pytest.fixture(scope="session")
def contents(programme):
    return {c.unit_key: c for c in form_contents(programme, QUARTER)}


@pytest.fixture(scope="session")
def scans(tmp_path_factory, contents):
    """A few files of the generated set, written once: (path, content) by name."""
    folder = tmp_path_factory.mktemp("scans")
    edu, health = contents["edu_sports"], contents["health"]
    sealed = make_scan(edu, ScanSpec(dpi=150, sealed=True, distractors=("underline", "logo"), rotate_deg=1.5,
                                     jpeg_quality=70))
    plain = make_scan(health, ScanSpec(dpi=150, sealed=False, distractors=("strokes", "red_text"), rotate_deg=-2.0))
    files = {
        "sealed.pdf": (save_pdf(sealed.pages, folder / "sealed.pdf", 150), edu),
        "unsealed.jpg": (_save(plain.pages[0], folder / "unsealed.jpg"), health),
    }
    return files


def _save(image: Image.Image, path: Path) -> Path:
    image.save(path, quality=80) if path.suffix == ".jpg" else image.save(path)
    return path


# --- seal detection on a subset of the measured set --------------------------------------

SEAL_CASES = [
    # (unit, spec, expected): colour pages must be judged, greyscale ones never called unsealed
    ("edu_sports", ScanSpec(dpi=100, sealed=True, rotate_deg=2.5, jpeg_quality=55), True),
    ("sibaoshan", ScanSpec(dpi=150, sealed=True, seal_at="bottom_right", distractors=DISTRACTORS, rotate_deg=-3.0), True),
    ("health", ScanSpec(dpi=100, sealed=True, distractors=("underline",), rotate_deg=-1.0, jpeg_quality=70), True),
    ("edu_sports", ScanSpec(dpi=100, sealed=False, distractors=("underline", "logo"), rotate_deg=1.0), False),
    ("sibaoshan", ScanSpec(dpi=150, sealed=False, distractors=("strokes", "loop"), rotate_deg=-2.0), False),
    ("health", ScanSpec(dpi=100, sealed=False, distractors=DISTRACTORS, rotate_deg=3.0, jpeg_quality=55), False),
    ("edu_sports", ScanSpec(dpi=100, sealed=True, grey=True, rotate_deg=-2.5), True),
    ("sibaoshan", ScanSpec(dpi=100, sealed=False, grey=True, distractors=DISTRACTORS, rotate_deg=2.0), None),
]


@pytest.mark.parametrize(("unit", "spec", "expected"), SEAL_CASES,
                         ids=[f"{u}-{s.dpi}dpi-{'grey' if s.grey else 'colour'}-{'sealed' if s.sealed else 'unsealed'}"
                              for u, s, _e in SEAL_CASES])
def test_seal_detector_on_generated_scans(contents, unit, spec, expected):
    page = make_scan(contents[unit], spec).pages[0]
    assert detect_seal(page, spec.dpi) is expected


def test_a_red_seal_alone_on_white_paper_is_found_at_every_resolution(contents):
    for dpi in (100, 200, 300):
        page = make_scan(contents["construction"], ScanSpec(dpi=dpi, sealed=True, seal_at="bottom_right",
                                                             jpeg_quality=None)).pages[0]
        assert detect_seal(page, dpi) is True, dpi


def test_a_page_without_colour_from_a_text_pdf_has_no_seal():
    page = Image.new("RGB", (1169, 827), "white")
    assert detect_seal(page, 100) is None              # a scan: could be greyscale
    assert detect_seal(page, 100, born_digital=True) is False


# --- reading whole files (OCR: three pages in all) ----------------------------------------

def test_raster_pdf_is_read_by_ocr_with_seal_unit_line_and_agreement(scans, contents, programme):
    path, content = scans["sealed.pdf"]
    copy = read_stamped_copy(path, name="盖章件.pdf")
    assert (copy.path, copy.format, copy.pages, copy.pages_read, copy.text_source) == ("盖章件.pdf", "pdf", 1, 1, "ocr")
    assert copy.seal is True and copy.seal_pages == [1]
    assert copy.reasons == [] and copy.findings == []
    assert match_unit(copy.unit_line or "", programme).unit == "edu_sports", copy.unit_line
    assert copy.ocr_seconds and copy.ocr_seconds > 0
    own = compare_with_workbook(copy, content.progress_texts)
    other = compare_with_workbook(copy, contents["sibaoshan"].progress_texts)
    limit = settings().stamped_agreement_min
    assert own.agreement > limit > other.agreement
    assert own.findings == [] and [f.code for f in other.findings] == ["stamped.content.mismatch"]
    assert "盖章件内容与电子版不一致，请核对" in other.reasons[0]
    assert copy.agreement is None                       # the original is left as it was


@pytest.mark.slow
def test_colour_photo_without_seal_is_flagged(scans):
    path, _content = scans["unsealed.jpg"]
    copy = read_stamped_copy(path)
    assert (copy.format, copy.pages, copy.text_source, copy.seal) == ("jpeg", 1, "ocr", False)
    assert [f.code for f in copy.findings] == ["stamped.seal.missing"]
    assert copy.findings[0].severity == "warning"
    assert "未见红色公章" in copy.reasons[0]


@pytest.mark.slow
def test_spreadsheet_printed_to_pdf_is_a_copy_read_from_its_text_layer(tmp_path, programme, contents):
    """Accepted as a copy (its text is exact), but no seal is visible on it."""
    content = contents["health"]
    workbook = build_unit_workbook(programme, "health", QUARTER,
                                   progress={int(r[0]): r[3] for r in content.rows})
    sheet = workbook.active
    for row in sheet.iter_rows(min_row=4, min_col=4, max_col=4):
        # Excel and WPS size rows to their wrapped text when printing; LibreOffice needs heights.
        lines = sum(len(part) // 30 + 1 for part in str(row[0].value or "").split("\n"))
        sheet.row_dimensions[row[0].row].height = 16 * lines + 6
    workbook.save(tmp_path / "health.xlsx")
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                    str(tmp_path / "health.xlsx")], check=True, capture_output=True, timeout=180)
    copy = read_stamped_copy(tmp_path / "health.pdf")
    assert (copy.format, copy.text_source, copy.seal, copy.ocr_seconds) == ("pdf", "text_layer", False, None)
    assert copy.pages_read == copy.pages >= 1
    assert match_unit(copy.unit_line or "", programme).unit == "health", copy.unit_line
    assert compare_with_workbook(copy, content.progress_texts).agreement > 0.95
    assert [f.code for f in copy.findings] == ["stamped.seal.missing"]


# --- hostile and odd files: a specific reason each, never an exception ------------------

def _blank_pdf(path: Path, pages: int = 1, size: tuple[float, float] = (842, 595), **encrypt) -> Path:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(*size)
    if encrypt:
        writer.encrypt(**encrypt)
    writer.write(path)
    return path


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width`` x ``height`` pixels, with (almost) no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def _ofd(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("OFD.xml", '<?xml version="1.0"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>')
        archive.writestr("Doc_0/Document.xml", "<ofd:Document/>")
    return path


BAD_FILES = {
    "encrypted.pdf": (lambda p: _blank_pdf(p, user_password="secret", owner_password="owner", algorithm="AES-256"),
                      "stamped.pdf.encrypted", "设置了打开密码"),
    "thousands.pdf": (lambda p: _blank_pdf(p, pages=3000), "stamped.pdf.too_many_pages", "共 3000 页"),
    "garbage.pdf": (lambda p: p.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40) and p,
                    "stamped.pdf.broken", "已损坏或不完整"),
    "poster.pdf": (lambda p: _blank_pdf(p, size=(14400, 14400)), "stamped.page.too_large", "5080×5080"),
    "page.html.pdf": (lambda p: p.write_text("<!DOCTYPE html><html><body>登录超时</body></html>", encoding="utf-8")
                      and p, "stamped.format.html", "网页文件（HTML）"),
    "bomb.png": (lambda p: _png_header(p, 40_000, 40_000), "stamped.image.bomb", "像素尺寸异常巨大"),
    "huge.png": (lambda p: _png_header(p, 9_000, 9_000), "stamped.image.too_large", "9000×9000"),
    "scan.ofd": (_ofd, "stamped.format.ofd", "请另存为 PDF 后报送"),
    "scan.zip": (lambda p: zipfile.ZipFile(p, "w").close() or p, "stamped.format.zip", "压缩包"),
    "notes.txt": (lambda p: p.write_text("盖章件见附件", encoding="utf-8") and p, "stamped.format.unknown",
                  "不是 PDF 或 JPG/PNG 图片"),
    "empty.pdf": (lambda p: p.write_bytes(b"") or p, "stamped.file.empty", "文件为空"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_gets_its_own_reason(tmp_path, name):
    make, code, phrase = BAD_FILES[name]
    path = make(tmp_path / name)
    copy = read_stamped_copy(path)
    assert [f.code for f in copy.findings] == [code]
    assert copy.findings[0].severity == "error"
    assert phrase in copy.reasons[0], copy.reasons
    assert (copy.readable, copy.seal, copy.pages_read, copy.text) == (False, None, 0, "")


def test_truncated_pdf_and_image_are_broken(tmp_path, scans):
    pdf, _ = scans["sealed.pdf"]
    jpeg, _ = scans["unsealed.jpg"]
    (tmp_path / "half.pdf").write_bytes(pdf.read_bytes()[: pdf.stat().st_size // 2])
    (tmp_path / "half.jpg").write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    assert [f.code for f in read_stamped_copy(tmp_path / "half.pdf").findings] == ["stamped.pdf.broken"]
    assert [f.code for f in read_stamped_copy(tmp_path / "half.jpg").findings] == ["stamped.image.broken"]


def test_file_size_is_checked_before_opening(tmp_path, scans):
    pdf, _ = scans["sealed.pdf"]
    config = dataclasses.replace(settings(), max_file_bytes=1000)
    copy = read_stamped_copy(pdf, config=config)
    assert [f.code for f in copy.findings] == ["stamped.file.too_large"] and copy.format is None
    missing = read_stamped_copy(tmp_path / "gone.pdf")
    assert [f.code for f in missing.findings] == ["stamped.file.missing"]


def test_owner_password_only_pdf_opens_like_in_any_viewer(tmp_path):
    path = _blank_pdf(tmp_path / "owner.pdf", user_password="", owner_password="owner", algorithm="AES-128")
    copy = read_stamped_copy(path)
    assert copy.readable and copy.pages_read == 1
    assert {f.code for f in copy.findings} == {"stamped.seal.unknown", "stamped.text.none"}


def test_ocr_time_limit_keeps_what_was_seen(scans):
    path, _ = scans["sealed.pdf"]
    copy = read_stamped_copy(path, config=dataclasses.replace(settings(), ocr_timeout_seconds=0.1))
    assert "stamped.ocr.timeout" in [f.code for f in copy.findings]
    assert "识别超时" in copy.reasons[0]


def test_missing_tesseract_is_an_ops_problem_not_the_units(monkeypatch, scans):
    from wcreport.core.labels import STAMPED_ZH, stamped_missing, stamped_state

    path, _ = scans["unsealed.jpg"]
    monkeypatch.setenv("PATH", "/nonexistent")
    copy = read_stamped_copy(path)
    assert copy.seal is False                            # the seal check needs no external tool
    assert STAMPED_ZH[stamped_state(copy, 0.75)] == "未见公章"   # a fact the colour page showed stays
    # Only the server's reason: no "no text, scan again" for a text nobody could read.
    assert [f.code for f in copy.findings] == ["stamped.tool.missing"]
    assert copy.findings[0].severity == "warning" and "tesseract-ocr" in copy.findings[0].message
    assert "无需重新报送" in copy.reasons[0] and not stamped_missing(copy)   # no reminder to send it again


def test_a_pdf_unread_for_want_of_pdftoppm_is_shown_unconfirmed_for_the_clerk(monkeypatch, scans):
    from wcreport.core.labels import STAMPED_ZH, stamped_missing, stamped_state

    path, _ = scans["sealed.pdf"]
    monkeypatch.setenv("PATH", "/nonexistent")
    copy = read_stamped_copy(path)
    assert copy.format == "pdf" and copy.pages_read == 0 and copy.seal is None
    assert [(f.code, f.severity) for f in copy.findings] == [("stamped.tool.missing", "warning")]
    assert "pdftoppm" in copy.reasons[0] and "无需重新报送" in copy.reasons[0]
    assert STAMPED_ZH[stamped_state(copy, 0.75)] == "无法确认" and not stamped_missing(copy)


def test_format_is_recognised_by_bytes_not_name(tmp_path, scans):
    pdf, _ = scans["sealed.pdf"]
    jpeg, _ = scans["unsealed.jpg"]
    (tmp_path / "scan.jpg").write_bytes(pdf.read_bytes())
    (tmp_path / "scan.pdf").write_bytes(jpeg.read_bytes())
    Image.new("RGB", (10, 10)).save(tmp_path / "scan.bin", "PNG")
    assert (sniff(tmp_path / "scan.jpg"), sniff(tmp_path / "scan.pdf"), sniff(tmp_path / "scan.bin")) == ("pdf", "jpeg", "png")
    assert sniff(_ofd(tmp_path / "x.zip")) == "ofd"


# --- text: 「单位：」 line and agreement -----------------------------------------------------

def test_unit_line_is_the_line_after_danwei_not_the_units_column():
    text = "报表标题\n序号 实事名称 责任单位 本季度具体措施\n单位：（盖章）四宝山街道       2023年\n"
    assert unit_line(text) == "（盖章）四宝山街道"
    assert unit_line("责任单位：教育和体育事业中心") is None


def test_unit_line_from_words_joins_blocks_on_the_same_visual_line():
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "5\t1\t1\t1\t1\t1\t103\t235\t76\t38\t93\t单位\n"
           "5\t1\t1\t1\t1\t2\t171\t231\t12\t48\t92\t:\n"
           "5\t1\t2\t1\t1\t1\t465\t150\t100\t38\t92\t2023年报表\n"
           "5\t1\t3\t1\t1\t1\t237\t231\t75\t31\t48\t(盖章)\n"
           "5\t1\t3\t1\t1\t2\t344\t227\t64\t32\t96\t四宝山\n"
           "5\t1\t3\t1\t1\t3\t449\t225\t48\t32\t96\t街道\n"
           "5\t1\t4\t1\t1\t1\t771\t282\t43\t28\t95\t责任单位\n")
    words = parse_tsv(tsv)
    assert [w.text for w in words][:2] == ["单位", ":"]
    assert unit_line_from_words(words) == "(盖章)四宝山街道"
    assert unit_line_from_words([Word("责任单位", 0, 0, 40, 20, (1, 1, 1))]) is None


def _words(*texts: str) -> list[Word]:
    """One visual line of words, left to right, as Tesseract boxes them."""
    return [Word(text, 100 + 80 * i, 230, 70, 36, (1 + i, 1, 1)) for i, text in enumerate(texts)]


@pytest.mark.parametrize("rule", ["|", "｜", "丨", "│"])
def test_table_rules_read_as_glyphs_are_never_quoted_to_people(programme, rule):
    """Tesseract reads a table's vertical rule as 「|」: the unit is asked about 「(盖章) 火星街道」,
    never 「(盖章)|火星街道」."""
    from wcreport.core.model import ParsedReport
    from wcreport.intake.identity import identify_unit

    line = unit_line_from_words(_words("单位：", "(盖章)", rule, "火星", "街道", rule))
    assert line == "(盖章) 火星街道"
    assert unit_line_from_words(_words("单位：", f"{rule}四宝山", "街道")) == "四宝山街道"
    identity = identify_unit(ParsedReport(unit_line=line), "盖章件.pdf", programme)
    assert identity.unit is None and "「(盖章) 火星街道」" in identity.reason
    assert not any(glyph in identity.reason for glyph in "|｜丨│")


def test_the_copys_text_keeps_cells_apart_without_rule_glyphs():
    tsv_line = "单位：(盖章) | 四 宝 山 街 道 | 2023年\n| 序号 | 实事名称 |"
    assert tidy(tsv_line) == "单位：(盖章) 四宝山街道 2023年\n序号 实事名称"
    assert unit_line(tidy(tsv_line)) == "(盖章) 四宝山街道 2023年"


def test_agreement_is_robust_to_ocr_noise_and_layout():
    texts = ["本季度，组织开展家庭教育“百场巡讲”活动12场，覆盖家长3000余人。\n下一步，将继续扩大覆盖面。",
             "新建幼儿园1所，拓展学位1200个。"]
    assert agreement("\n".join(texts), texts) == pytest.approx(1.0)
    noisy = ("本 季 度 ，组织开展家庭教育 “百场巡进” 活动 12 场，\n覆盖家长 3000 余人。下二步，将继续扩大覆盖面。"
             "| 2023年12月底\n新建幼儿园1所,拓展学位1200个")
    assert agreement(noisy, texts) > 0.85
    assert agreement("实施巾帼创业创新行动。举办女性就业招聘会，开展家政职业技能培训120人次。", texts) < 0.5
    assert agreement("", texts) == 0.0 and agreement(noisy, []) == 0.0


def test_passages_cut_at_sentence_ends_and_keep_short_tails():
    text = "第一句有二十个字的内容，写在这里的一句话。" * 4 + "短尾。"
    pieces = passages(text, size=30)
    assert all(len(p) >= 30 for p in pieces) and "".join(pieces).endswith("短尾")


def test_nothing_to_compare_leaves_agreement_unset():
    from wcreport.core.model import StampedCopy
    copy = StampedCopy(path="x.pdf", text="")
    assert compare_with_workbook(copy, ["有内容"]).agreement is None
    assert compare_with_workbook(StampedCopy(path="x.pdf", text="有内容"), ["", "  "]).agreement is None


def test_every_reason_is_a_chinese_sentence():
    for code, text in MESSAGES.items():
        assert text.endswith("。") and any("\u4e00" <= ch <= "\u9fff" for ch in text), code


def test_stamped_settings_are_read(monkeypatch):
    monkeypatch.setenv("REPORT_OCR_TIMEOUT_SECONDS", "12.5")
    monkeypatch.setenv("REPORT_STAMPED_AGREEMENT_MIN", "0.4")
    current = settings()
    assert (current.ocr_timeout_seconds, current.stamped_agreement_min) == (12.5, 0.4)
    assert (current.ocr_dpi, current.scan_max_pages) == (200, 20)


@pytest.mark.parametrize(("size", "expected"), [
    ((827, 1169), (1654, 2338)),      # a ~100 dpi phone photo: enlarged to the OCR dpi (2x at the most)
    ((400, 566), (800, 1132)),        # smaller still: 2x, no more
    ((1654, 2339), (1654, 2339)),     # already at 200 dpi: as it is
    ((4960, 7016), (1653, 2339)),     # a 600 dpi scan: reduced to the OCR dpi
])
def test_a_photo_is_read_at_the_ocr_dpi_small_ones_enlarged_at_most_twice(tmp_path, size, expected):
    from wcreport.intake.stamped.pages import open_image

    path = tmp_path / "photo.png"
    Image.new("RGB", size, "white").save(path)
    image, dpi = open_image(path, 200)
    assert image.size == expected
    assert dpi == round(max(expected) / (297 / 25.4))
