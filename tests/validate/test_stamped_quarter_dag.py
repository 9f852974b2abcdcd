"""Stamped copies (盖章件) through one `quarterly_report` run (airflow dags test).

The quarter's inbox holds every unit's data file plus scans of the printed, stamped form:
a sealed raster PDF, an unsealed colour photo (JPG), a greyscale photo (the seal cannot be
judged), a PDF printed from the workbook (text layer, no seal), a sealed PNG from a unit
that sent no data file, and a broken PDF. Two units keep their files in their own
sub-folders: 教育和体育事业中心's holds its workbook and a phone photo of its own stamped copy
(OCR garbles the 「单位：」 line), 组织人事部's its workbook and 卫生健康事业中心's scan, misfiled,
its 「单位：」 line unread. Each scan is recorded under its unit with its seal verdict and
agreement, and the 报送情况 sheet's 盖章件 column shows it; a copy counts as its unit's only on
positive evidence (intake/stamped/pairing.py), so the misfiled scan is 无法确认, never 已收到.
The run's REPORT_STAMPED_AGREEMENT_MIN sits just under that scan's agreement with 组织人事部's
texts (read once here, as the unit-level test does): shared office phrasing lifting another
unit's copy just over the threshold is the case agreement alone cannot tell.
OCR pages are kept few (each costs seconds on the shared cores: six small images in the run
and one read here; the text-layer PDF needs none).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from wcreport_testing.stamped_samples import PHONE_PHOTO, FormContent, ScanSpec, make_scan, save_pdf

from airflow_support import airflow_env, run_dags_test
from wcreport.core.labels import STAMPED_ZH, stamped_state
from wcreport.core.model import StampedCopySummary
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import FORM_SHEET
from wcreport.demo.sample import write_quarter_samples
from wcreport.intake.stamped import agreement, read_stamped_copy
from wcreport.intake.stamped.pairing import AGREEMENT_MARGIN

pytestmark = pytest.mark.slow
QUARTER = Quarter(2023, 1)
DPI = 150
PHOTO_UNIT = "edu_sports"                            # its own sub-folder: workbook + phone photo
MISFILED_INTO, MISFILED_FROM = "org_personnel", "health"   # health's scan in org_personnel's folder
UNREAD_UNIT_LINE = ScanSpec(dpi=DPI, smudge_unit_line=True, rotate_deg=-1.0)


def written_contents(programme, paths: list[Path]) -> dict[str, tuple[Path, FormContent]]:
    """unit key -> (data file, what its printed form shows), read back from the sample workbooks."""
    by_name = {u.name: u.key for u in programme.units}
    found = {}
    for path in paths:
        unit, rows = None, []
        for row in openpyxl.load_workbook(path)[FORM_SHEET].iter_rows(values_only=True):
            first = str(row[0] or "")
            if first.startswith("单位："):
                unit = first.removeprefix("单位：").removeprefix("（盖章）").strip()
            elif first.strip().isdigit():
                rows.append(tuple(str(v or "") for v in row[:5]))
        key = by_name[unit]
        title = f"{programme.report.title}（{QUARTER.label_zh}）"
        found[key] = (path, FormContent(key, unit, title, tuple(rows)))
    return found


def put_scan(folder: Path, name: str, content: FormContent, spec: ScanSpec, received: float) -> Path:
    page = make_scan(content, spec).pages[0]
    target = folder / name
    if target.suffix == ".pdf":
        save_pdf([page], target, spec.dpi)
    else:
        page.save(target, "JPEG" if target.suffix == ".jpg" else "PNG", dpi=(spec.dpi, spec.dpi))
    os.utime(target, (received, received))
    return target


def printed_pdf(workbook: Path, target: Path, received: float) -> Path:
    """The workbook printed to PDF (a text layer, no seal), as a unit might send it."""
    out = target.parent / "_print"
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(out), str(workbook)],
                   check=True, capture_output=True, timeout=300)
    shutil.move(out / f"{workbook.stem}.pdf", target)
    shutil.rmtree(out)
    os.utime(target, (received, received))
    return target


def into_own_folder(folder: Path, workbook: Path, unit_name: str) -> Path:
    """``workbook`` moved into its unit's sub-folder, its received time kept."""
    target = folder / unit_name / workbook.name
    target.parent.mkdir(exist_ok=True)
    return Path(shutil.move(workbook, target))


def threshold_just_under(scan: Path, progress_texts: list[str]) -> float:
    """An agreement threshold a little under ``scan``'s agreement with ``progress_texts``."""
    return round(agreement(read_stamped_copy(scan).text, progress_texts) - 0.02, 3)


def put_folder_scans(folder: Path, contents: dict[str, tuple[Path, FormContent]], received: float) -> float:
    """The phone photo and the misfiled scan in units' sub-folders; the run's agreement threshold."""
    for key in (PHOTO_UNIT, MISFILED_INTO):
        into_own_folder(folder, contents[key][0], contents[key][1].unit_name)
    put_scan(folder, f"{contents[PHOTO_UNIT][1].unit_name}/手机拍照.pdf", contents[PHOTO_UNIT][1], PHONE_PHOTO,
             received)
    misfiled = put_scan(folder, f"{contents[MISFILED_INTO][1].unit_name}/盖章件.pdf", contents[MISFILED_FROM][1],
                        UNREAD_UNIT_LINE, received)
    return threshold_just_under(misfiled, contents[MISFILED_INTO][1].progress_texts)


def photo_state(manifest: dict, unit_name: str, threshold: float) -> str:
    """The phone photo is its unit's copy (the garbled 「单位：」 line outranks nothing); its state
    by the pairing rule: 已收到 on a confidently read unit line or a clear agreement, else 无法确认."""
    photo = next(f for f in manifest["files"] if f["path"] == f"{unit_name}/手机拍照.pdf")
    assert (photo["kind"], photo["unit"], photo["status"]) == ("stamped_copy", PHOTO_UNIT, "accepted"), photo
    assert photo["unit_source"] in ("folder", "folder+unit_line"), photo      # the line read as the name, or dropped
    assert not any(f["code"].startswith("unit.") for f in photo["findings"]), photo
    copy = next(u for u in manifest["units"] if u["unit"] == PHOTO_UNIT)["stamped_copy"]
    assert copy["path"] == photo["path"] and copy["seal"] is True, copy
    named = photo["unit_source"] == "folder+unit_line"
    state = "received" if named or (copy["agreement"] or 0) >= threshold + AGREEMENT_MARGIN else "unknown"
    assert stamped_state(StampedCopySummary.model_validate(copy), threshold) == state, copy
    return STAMPED_ZH[state]


def check_misfiled(manifest: dict, unit_name: str, threshold: float) -> None:
    """Another unit's scan, unit line unread, in ``unit_name``'s folder: filed there, never confirmed."""
    units = {u["unit"]: u for u in manifest["units"]}
    misfiled = next(f for f in manifest["files"] if f["path"] == f"{unit_name}/盖章件.pdf")
    assert (misfiled["kind"], misfiled["unit"], misfiled["unit_source"]) == ("stamped_copy", MISFILED_INTO,
                                                                             "folder"), misfiled
    copy = units[MISFILED_INTO]["stamped_copy"]
    assert copy["path"] == misfiled["path"] and copy["unit_confirmed"] is False, copy
    assert threshold <= copy["agreement"] < threshold + AGREEMENT_MARGIN, (threshold, copy)
    assert any("无法确认是本单位的" in r for r in copy["reasons"]), copy
    assert units[MISFILED_FROM]["stamped_copy"] is None       # nor does it count for the unit it shows


def check_words(manifest: dict, details, content: FormContent) -> None:
    """The unit's data file from its sub-folder is accepted and its words are in the 明细 sheet."""
    unit = next(u for u in manifest["units"] if u["unit"] == content.unit_key)
    assert unit["status"] == "submitted" and unit["accepted_file"].startswith(f"{content.unit_name}/"), unit
    rows = [row for row in details.iter_rows(min_row=2, values_only=True) if row[3] == content.unit_name]
    assert {str(row[4]).strip() for row in rows} == {t.strip() for t in content.progress_texts}, content.unit_key
    assert {row[6] for row in rows} == {unit["accepted_file"]}, content.unit_key


def test_every_scan_is_recorded_under_its_unit_with_seal_and_agreement(tmp_path, programme,
                                                                        migrated_airflow_home, smtp_server):
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    contents = written_contents(programme, write_quarter_samples(programme, QUARTER, inbox))
    folder = inbox / str(QUARTER)
    received = contents["construction"][0].stat().st_mtime + 60
    names = {key: content.unit_name for key, (_path, content) in contents.items()}
    put_scan(folder, f"{names['construction']}盖章件.pdf", contents["construction"][1],
             ScanSpec(dpi=DPI, sealed=True, distractors=("underline",), rotate_deg=1.0), received)
    put_scan(folder, f"{names['hr_social']}报表照片.jpg", contents["hr_social"][1],
             ScanSpec(dpi=DPI, sealed=False, distractors=("strokes",), rotate_deg=-1.5), received)
    put_scan(folder, f"{names['industry_commerce']}扫描件.jpg", contents["industry_commerce"][1],
             ScanSpec(dpi=DPI, sealed=False, grey=True), received)
    printed_pdf(contents["publicity"][0], folder / f"{names['publicity']}（打印）.pdf", received)
    # science_tech sent only its stamped copy, no data file
    contents["science_tech"][0].unlink()
    put_scan(folder, f"{names['science_tech']}盖章件.png", contents["science_tech"][1],
             ScanSpec(dpi=DPI, sealed=True, jpeg_quality=None), received)
    broken = folder / f"{names['housing_fund']}盖章件.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n")   # cut off
    threshold = put_folder_scans(folder, contents, received)

    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri(),
                      REPORT_STAMPED_AGREEMENT_MIN=str(threshold))
    conf = json.dumps({"quarter": str(QUARTER), "inbox": str(inbox), "output": str(output)})
    result = run_dags_test(env, "quarterly_report", conf)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    manifest = json.loads((output / str(QUARTER) / "manifest.json").read_text(encoding="utf-8"))
    units = {u["unit"]: u for u in manifest["units"]}
    scans = {f["path"]: f for f in manifest["files"] if f["kind"] == "stamped_copy"}
    assert {f["unit"] for f in scans.values()} == {"construction", "hr_social", "industry_commerce", "publicity",
                                                   "science_tech", "housing_fund", PHOTO_UNIT, MISFILED_INTO}
    copies = {key: u["stamped_copy"] for key, u in units.items() if u["stamped_copy"]}
    assert set(copies) == {f["unit"] for f in scans.values()}
    assert all(u["stamped_copy"] is None for key, u in units.items() if key not in copies)
    assert all("text" not in copy for copy in copies.values())

    sealed = copies["construction"]
    assert (sealed["format"], sealed["text_source"], sealed["seal"]) == ("pdf", "ocr", True)
    assert sealed["agreement"] >= 0.75, sealed
    photo = copies["hr_social"]
    assert (photo["format"], photo["seal"]) == ("jpeg", False) and photo["agreement"] >= 0.75, photo
    assert any("未见红色公章" in r for r in photo["reasons"])
    assert copies["industry_commerce"]["seal"] is None
    printed = copies["publicity"]
    assert (printed["text_source"], printed["seal"]) == ("text_layer", False) and printed["agreement"] > 0.9
    alone = copies["science_tech"]
    assert units["science_tech"]["status"] == "missing"
    assert (alone["seal"], alone["agreement"]) == (True, None)
    damaged = copies["housing_fund"]
    assert (damaged["readable"], damaged["seal"], damaged["agreement"]) == (False, None, None)
    assert scans[broken.name]["status"] == "rejected" and "盖章件 PDF 已损坏" in damaged["reasons"][0]
    assert units["housing_fund"]["status"] == "submitted"       # its data file still counts

    report = openpyxl.load_workbook(output / manifest["report"])
    check_misfiled(manifest, names[MISFILED_INTO], threshold)
    for key in (PHOTO_UNIT, MISFILED_INTO):
        check_words(manifest, report["明细"], contents[key][1])
    in_folders = {PHOTO_UNIT: photo_state(manifest, names[PHOTO_UNIT], threshold), MISFILED_INTO: "无法确认"}
    sheet = report["报送情况"]
    header = [c.value for c in sheet[3]]
    column, status = header.index("盖章件"), header.index("报送状态")
    shown = {row[1]: row[column] for row in sheet.iter_rows(min_row=4, values_only=True) if row[1]}
    expected = {"construction": "已收到", "hr_social": "未见公章", "industry_commerce": "无法确认",
                "publicity": "未见公章", "science_tech": "已收到", "housing_fund": "无法读取", **in_folders}
    for unit in programme.units:
        assert shown[unit.name] == expected.get(unit.key, "未收到"), unit.key
    states = {row[1]: row[status] for row in sheet.iter_rows(min_row=4, values_only=True) if row[1]}
    assert all(states[names[key]] == "已报送" for key in (PHOTO_UNIT, MISFILED_INTO, MISFILED_FROM))
