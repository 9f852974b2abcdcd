"""The plain path is the contract: a quarter run with every speed-up switched off
(``REPORT_ACCELERATORS=off``: no caches, no quarter-wide batch validation) decides exactly what
the accelerated run decides — the same manifest, unit results, findings, feedback and workbook.

Both runs read one inbox (the demo's sample files plus its faulty ones: rejected, ignored and
duplicate files) into two output roots, each through a real ``airflow dags test``.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import openpyxl
import pytest

from airflow_support import airflow_env, run_dags_test
from wcreport.core.quarter import Quarter
from wcreport.demo.sample import SampleOptions, write_quarter_samples
from wcreport.report.workbook import report_filename

pytestmark = pytest.mark.slow
QUARTER = Quarter(2023, 1)
# Moments of the run itself (when it was validated, built or mailed), not decisions.
_MOMENT_KEYS = {"generated_at", "validated_at", "built_at", "sent_at", "created_at", "run_at"}
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")


def _without_moments(value):
    if isinstance(value, dict):
        return {k: _without_moments(v) for k, v in value.items() if k not in _MOMENT_KEYS}
    if isinstance(value, list):
        return [_without_moments(v) for v in value]
    return value


def _json(path: Path):
    return _without_moments(json.loads(path.read_text(encoding="utf-8")))


def _cells(workbook: Path) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(workbook)
    return {sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


def _feedback_pages(quarter_dir: Path) -> dict[str, str]:
    return {p.relative_to(quarter_dir).as_posix(): _ISO_MOMENT.sub("<moment>", p.read_text(encoding="utf-8"))
            for p in sorted((quarter_dir / "feedback").rglob("*.html"))}


def _run(tmp_path: Path, home: Path, smtp_server, inbox: Path, name: str, accelerators: str) -> Path:
    output = tmp_path / name
    env = airflow_env(home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri(),
                      REPORT_ACCELERATORS=accelerators)
    conf = json.dumps({"quarter": str(QUARTER), "inbox": str(inbox), "output": str(output)})
    result = run_dags_test(env, "quarterly_report", conf)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return output / str(QUARTER)


def test_a_quarter_without_accelerators_decides_exactly_as_with_them(tmp_path, programme, migrated_airflow_home,
                                                                     smtp_server):
    inbox = tmp_path / "inbox"
    written = write_quarter_samples(programme, QUARTER, inbox, SampleOptions(faulty=True))
    shutil.copy2(written[0], written[0].with_name("副本-" + written[0].name))     # a byte-identical duplicate

    plain = _run(tmp_path, migrated_airflow_home, smtp_server, inbox, "plain", "off")
    fast = _run(tmp_path, migrated_airflow_home, smtp_server, inbox, "fast", "on")

    assert not (plain / "cache").exists(), "the plain path wrote a cache"
    manifest = _json(plain / "manifest.json")
    assert {f["status"] for f in manifest["files"]} >= {"accepted", "rejected", "ignored", "superseded"}, \
        "the corpus lost its faults"
    assert manifest == _json(fast / "manifest.json")
    assert _json(plain / "consolidated.json") == _json(fast / "consolidated.json")
    for unit in programme.units:
        assert _json(plain / "units" / f"{unit.key}.json") == _json(fast / "units" / f"{unit.key}.json"), unit.key
    assert _feedback_pages(plain) == _feedback_pages(fast)
    workbook = report_filename(programme, QUARTER)
    assert _cells(plain / workbook) == _cells(fast / workbook)
