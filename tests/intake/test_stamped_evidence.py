"""A stamped copy (盖章件) speaks for a unit only on positive evidence.

Generated scans (wcreport_testing.stamped_samples) in a unit's folder, loose or in a zip:
an OCR'd 「单位：」 line counts only when read with confidence and close to a unit's name,
so a garbled phone photo stays its folder's; a copy is shown 已收到 only when its unit line
names the unit or its text agrees with the accepted workbook clearly above the threshold,
otherwise 无法确认. OCR runs on four small pages in all.
"""
from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from wcreport_testing.stamped_samples import PHONE_PHOTO, FormContent, ScanSpec, form_contents, make_scan, save_pdf

from intake.corpus import touch_mtime
from wcreport.core.labels import STAMPED_ZH, stamped_state
from wcreport.core.model import FileRecord, OcrWord, ProgressRow, StampedCopy, UnitResult
from wcreport.core.quarter import Quarter
from wcreport.flow.ingest_unit import _decide_stamped_copies
from wcreport.intake.identity import match_unit
from wcreport.intake.scan import scan_and_identify
from wcreport.intake.scan_unit_line import UNIT_LINE_CONFIDENCE_MIN, unit_line_evidence
from wcreport.intake.stamped import agreement
from wcreport.intake.stamped.pairing import AGREEMENT_MARGIN, confirm_unit

QUARTER = Quarter.parse("2023Q1")
OLD = time.time() - 3600
EDU = "教育和体育事业中心"
DPI = 150


@pytest.fixture(scope="module")
def contents(programme) -> dict[str, FormContent]:
    return {c.unit_key: c for c in form_contents(programme, QUARTER)}


@pytest.fixture(scope="module")
def programme():
    from wcreport.core.programme import programme_for_year

    return programme_for_year(2023)


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory, contents) -> dict[str, bytes]:
    """The scans' bytes by name: this unit's clear scan, its phone photo, another unit's smudged scan."""
    folder = tmp_path_factory.mktemp("evidence")
    specs = {
        "clear": (contents["edu_sports"], ScanSpec(dpi=DPI, rotate_deg=1.0)),
        "photo": (contents["edu_sports"], PHONE_PHOTO),
        "other": (contents["health"], ScanSpec(dpi=DPI, smudge_unit_line=True, rotate_deg=-1.0)),
    }
    out = {}
    for name, (content, spec) in specs.items():
        sample = make_scan(content, spec)
        out[name] = save_pdf(sample.pages[:1], folder / f"{name}.pdf", spec.dpi).read_bytes()
    return out


def put(inbox: Path, rel: str, data: bytes) -> None:
    path = inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    touch_mtime(path, OLD)


def put_zip(inbox: Path, rel: str, members: dict[str, bytes]) -> None:
    path = inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    touch_mtime(path, OLD)


def edu_result(content: FormContent) -> UnitResult:
    """教育和体育事业中心's quarter with its workbook accepted (the rows the scans print)."""
    rows = [ProgressRow(seq=int(r[0]) if r[0].isdigit() else None, task_name=r[1], units=r[2], progress=r[3],
                        deadline=r[4], sheet="Sheet1", row=i + 4) for i, r in enumerate(content.rows)]
    return UnitResult(quarter=str(QUARTER), unit="edu_sports", unit_name=EDU, status="submitted", rows=rows)


def paired(paths, programme, content: FormContent, records: list[FileRecord], path: str) -> StampedCopy:
    """The unit's stamped copy as ingest decides it from the one copy at ``path``."""
    result = edu_result(content)
    _decide_stamped_copies(paths, programme, [r for r in records if r.path == path], result)
    assert result.stamped_copy is not None
    return result.stamped_copy


@pytest.mark.slow
def test_a_garbled_unit_line_on_a_phone_photo_does_not_outrank_the_units_folder(paths, programme, contents,
                                                                               pdfs, monkeypatch):
    monkeypatch.setenv("REPORT_STAMPED_AGREEMENT_MIN", "0.75")
    put(paths.inbox, f"{EDU}/手机拍照.pdf", pdfs["photo"])
    [record] = scan_and_identify(paths, programme, max_wait_seconds=0)
    assert (record.status, record.unit) == ("pending", "edu_sports"), record.reasons
    assert record.unit_source in ("folder", "folder+unit_line")     # the line read as the name, or dropped
    assert not any(f.code == "unit.conflict" for f in record.findings)
    copy = paired(paths, programme, contents["edu_sports"], [record], record.path)
    named = record.unit_source == "folder+unit_line"
    expected = "received" if named or (copy.agreement or 0) >= 0.75 + AGREEMENT_MARGIN else "unknown"
    assert stamped_state(copy, 0.75) == expected, copy.agreement


@pytest.mark.slow
@pytest.mark.parametrize("where", ["loose", "zip"])
def test_another_units_scan_with_its_unit_line_unread_is_not_this_units_stamped_copy(
        paths, programme, contents, pdfs, monkeypatch, where):
    if where == "loose":
        put(paths.inbox, f"{EDU}/盖章件.pdf", pdfs["other"])
    else:
        put_zip(paths.inbox, f"{EDU}/报送材料.zip", {"盖章件.pdf": pdfs["other"]})
    records = scan_and_identify(paths, programme, max_wait_seconds=0)
    record = next(r for r in records if r.kind == "stamped_copy")
    assert record.path == (f"{EDU}/盖章件.pdf" if where == "loose" else f"{EDU}/报送材料.zip!盖章件.pdf")
    assert (record.status, record.unit, record.unit_source) == ("pending", "edu_sports", "folder"), record.reasons
    # its agreement with this unit's workbook just above the threshold: shared phrasing, not evidence
    texts = contents["edu_sports"].progress_texts
    from wcreport.intake.reading import read_stamped

    read = read_stamped(paths, record.sha256 or "", paths.output_root / (record.archived_as or ""), record.path)
    threshold = round(agreement(read.text, texts) - 0.01, 3)
    monkeypatch.setenv("REPORT_STAMPED_AGREEMENT_MIN", str(threshold))
    copy = paired(paths, programme, contents["edu_sports"], records, record.path)
    assert copy.agreement is not None and threshold <= copy.agreement < threshold + AGREEMENT_MARGIN
    assert STAMPED_ZH[stamped_state(copy, threshold)] == "无法确认"
    assert copy.unit_confirmed is False
    assert any("无法确认是本单位的" in r for r in copy.reasons)


@pytest.mark.parametrize("where", ["loose", "zip"])
def test_a_clear_scan_of_this_unit_is_still_received(paths, programme, contents, pdfs, monkeypatch, where):
    monkeypatch.setenv("REPORT_STAMPED_AGREEMENT_MIN", "0.75")
    if where == "loose":
        put(paths.inbox, f"{EDU}/盖章件.pdf", pdfs["clear"])
    else:
        put_zip(paths.inbox, f"{EDU}/报送材料.zip", {"盖章件.pdf": pdfs["clear"]})
    records = scan_and_identify(paths, programme, max_wait_seconds=0)
    record = next(r for r in records if r.kind == "stamped_copy")
    assert (record.status, record.unit) == ("pending", "edu_sports"), record.reasons
    assert "unit_line" in (record.unit_source or ""), record.unit_source
    copy = paired(paths, programme, contents["edu_sports"], records, record.path)
    assert copy.unit_confirmed is True
    assert STAMPED_ZH[stamped_state(copy, 0.75)] == "已收到"


def test_a_confident_unit_line_naming_another_unit_makes_the_copy_that_units_not_the_folders(programme):
    line = "淄博高新技术产业开发区卫生健康事业中心"
    assert match_unit(line, programme).unit == "health"
    words = [OcrWord(text=w, confidence=UNIT_LINE_CONFIDENCE_MIN + 30) for w in ("淄博", "高新技术", "卫生健康", "事业中心")]
    copy = StampedCopy(path=f"{EDU}/x.pdf", readable=True, text_source="ocr", unit_line=line, unit_line_words=words)
    named = unit_line_evidence(copy, programme).line                 # explicit: conflicts with the folder
    assert named is not None and match_unit(named, programme).unit == "health"


def test_an_unsure_or_unnamed_ocr_line_is_dropped_with_a_note_and_a_text_layer_line_kept(programme):
    guessed = [OcrWord(text=w, confidence=UNIT_LINE_CONFIDENCE_MIN - 20) for w in ("教育", "和", "体育", "事业中心")]
    unsure = StampedCopy(path="x.pdf", readable=True, text_source="ocr", unit_line="教育和体育事业中心",
                         unit_line_words=guessed)
    sure = [OcrWord(text=w, confidence=95.0) for w in ("救肓", "和", "休肓", "事韭屮心")]
    garbled = unsure.model_copy(update={"unit_line": "救肓和休肓事韭屮心", "unit_line_words": sure})
    for copy in (unsure, garbled):
        evidence = unit_line_evidence(copy, programme)
        assert evidence.line is None and evidence.note is not None
        assert evidence.note.code == "stamped.unit_line.unread" and copy.unit_line in evidence.note.message
    layer = StampedCopy(path="x.pdf", readable=True, text_source="text_layer", unit_line="某某有限公司")
    assert unit_line_evidence(layer, programme).line == "某某有限公司"


def test_pairing_needs_the_unit_line_or_a_clear_agreement_margin():
    copy = StampedCopy(path="x.pdf", readable=True, seal=True, agreement=0.76)
    assert stamped_state(confirm_unit(copy, "folder", 0.75), 0.75) == "unknown"
    assert stamped_state(confirm_unit(copy, "folder+unit_line", 0.75), 0.75) == "received"
    near = copy.model_copy(update={"agreement": 0.75 + AGREEMENT_MARGIN})
    assert stamped_state(confirm_unit(near, "sender", 0.75), 0.75) == "received"
    low = confirm_unit(copy.model_copy(update={"agreement": 0.5}), "folder", 0.75)
    assert stamped_state(low, 0.75) == "mismatch" and low.findings == []   # 内容不一致 is said elsewhere
    assert stamped_state(confirm_unit(copy.model_copy(update={"agreement": None}), "folder", 0.75), 0.75) == "unknown"
