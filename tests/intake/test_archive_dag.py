"""Zips through one `quarterly_report` run (airflow dags test), beside the whole intake corpus.

A unit whose folder holds only a Windows zip (GBK names) of its workbook and stamped scan
is 已报送, with its words in the leaders' workbook and both members in the manifest; a
zip bomb from another unit is refused with its reason; every other file of the corpus
ends as it does without the zips.
"""
from __future__ import annotations

import json

import openpyxl
import pytest
from wcreport_testing.stamped_samples import ScanSpec, form_contents, make_scan, save_pdf

from airflow_support import airflow_env, run_dags_test
from intake.corpus import Book, form_sheet, write_xlsx
from intake.test_archives import make_zip
from intake.test_corpus_dag import QUARTER, build_corpus
from wcreport.core.findings_catalogue import message
from wcreport.core.quarter import Quarter
from wcreport.intake.archives import archive_opened

pytestmark = pytest.mark.slow
ZIP = "组织人事部/一季度报送.zip"
BOMB = "工业信息化和商务局/报表.zip"


def _add_zips(programme, folder, tmp_path) -> list[str]:
    """组织人事部's workbook and scan in a Windows zip; 工业信息化和商务局's bomb. Its progress texts."""
    content = next(c for c in form_contents(programme, Quarter.parse(QUARTER)) if c.unit_key == "org_personnel")
    rows = [[int(seq), task, units, progress, deadline] for seq, task, units, progress, deadline in content.rows]
    workbook = write_xlsx(Book([form_sheet(content.unit_name, rows)]), tmp_path / "book.xlsx").read_bytes()
    scan = save_pdf(make_scan(content, ScanSpec(dpi=150)).pages, tmp_path / "scan.pdf", 150).read_bytes()
    make_zip(folder / ZIP, [("2023年第一季度报表.xlsx", workbook), ("盖章件.pdf", scan)], windows=True)
    make_zip(folder / BOMB, [("报表.xlsx", b"\0" * (25 * 1024 * 1024))])
    return [row[3] for row in rows]


def test_zips_through_one_quarterly_report_run(tmp_path, programme, migrated_airflow_home, smtp_server):
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    corpus = build_corpus(programme, inbox / QUARTER)
    texts = _add_zips(programme, inbox / QUARTER, tmp_path)
    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri())
    conf = json.dumps({"quarter": QUARTER, "inbox": str(inbox), "output": str(output)})
    result = run_dags_test(env, "quarterly_report", conf)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    manifest = json.loads((output / QUARTER / "manifest.json").read_text(encoding="utf-8"))
    files = {f["path"]: f for f in manifest["files"]}
    members = [f"{ZIP}!2023年第一季度报表.xlsx", f"{ZIP}!盖章件.pdf"]
    assert set(files) == set(corpus.expected) | {ZIP, *members, BOMB}          # each file exactly once
    for path, (status, unit, reason) in corpus.expected.items():               # the rest: as without zips
        assert (files[path]["status"], files[path]["unit"]) == (status, unit), path
        assert not reason or any(reason in r for r in files[path]["reasons"]), path

    assert (files[ZIP]["status"], files[ZIP]["kind"], files[ZIP]["reasons"]) == (
        "ignored", "archive", [archive_opened(ZIP)])
    for path, kind in zip(members, ("spreadsheet", "stamped_copy"), strict=True):
        record = files[path]
        assert (record["kind"], record["status"], record["unit"]) == (kind, "accepted", "org_personnel"), path
        assert (output / record["archived_as"]).exists()
    units = {u["unit"]: u for u in manifest["units"]}
    org = units["org_personnel"]
    assert (org["status"], org["accepted_file"]) == ("submitted", members[0])
    assert org["stamped_copy"]["path"] == members[1] and org["stamped_copy"]["readable"]
    assert set(org["files"]) == set(members)

    bomb = files[BOMB]
    reason = message("archive.too_large", cause="member", member="报表.xlsx", size_mb=25, limit_mb=20)
    assert (bomb["status"], bomb["unit"], bomb["reasons"]) == ("rejected", "industry_commerce", [reason])
    assert bomb["feedback"] and (output / bomb["feedback"]).exists()
    assert (units["industry_commerce"]["status"], units["industry_commerce"]["reasons"]) == ("rejected", [reason])
    assert not any(path.startswith(BOMB + "!") for path in files)

    report = openpyxl.load_workbook(output / manifest["report"])
    cells = [str(c.value) for ws in report.worksheets for row in ws.iter_rows() for c in row if c.value]
    for text in texts:
        assert any(text in cell for cell in cells), text
