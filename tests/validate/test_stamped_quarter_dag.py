"""Stamped copies (盖章件) through one `quarterly_report` run (airflow dags test).

The quarter's inbox holds every unit's data file plus scans of the printed, stamped form:
a sealed raster PDF, an unsealed colour photo (JPG), a greyscale photo (the seal cannot be
judged), a PDF printed from the workbook (text layer, no seal), a sealed PNG from a unit
that sent no data file, and a broken PDF. Each scan is recorded under its unit with its
seal verdict and agreement, and the 报送情况 sheet's 盖章件 column shows it.
OCR pages are kept few (four small images; the text-layer PDF needs none).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from wcreport_testing.stamped_samples import FormContent, ScanSpec, make_scan, save_pdf

from airflow_support import airflow_env, run_dags_test
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import FORM_SHEET
from wcreport.demo.sample import write_quarter_samples

pytestmark = pytest.mark.slow
QUARTER = Quarter(2023, 1)
DPI = 150


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
        save_pdf([page], target, DPI)
    else:
        page.save(target, "JPEG" if target.suffix == ".jpg" else "PNG", dpi=(DPI, DPI))
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

    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri())
    conf = json.dumps({"quarter": str(QUARTER), "inbox": str(inbox), "output": str(output)})
    result = run_dags_test(env, "quarterly_report", conf)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    manifest = json.loads((output / str(QUARTER) / "manifest.json").read_text(encoding="utf-8"))
    units = {u["unit"]: u for u in manifest["units"]}
    scans = {f["path"]: f for f in manifest["files"] if f["kind"] == "stamped_copy"}
    assert {f["unit"] for f in scans.values()} == {"construction", "hr_social", "industry_commerce", "publicity",
                                                   "science_tech", "housing_fund"}
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

    sheet = openpyxl.load_workbook(output / manifest["report"])["报送情况"]
    header = [c.value for c in sheet[3]]
    column = header.index("盖章件")
    shown = {row[1]: row[column] for row in sheet.iter_rows(min_row=4, values_only=True) if row[1]}
    expected = {"construction": "已收到", "hr_social": "未见公章", "industry_commerce": "无法确认",
                "publicity": "未见公章", "science_tech": "已收到", "housing_fund": "无法读取"}
    for unit in programme.units:
        assert shown[unit.name] == expected.get(unit.key, "未收到"), unit.key
