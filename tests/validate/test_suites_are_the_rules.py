"""The JSON suites in expectations/ are the single source of the rules: editing a copy
changes what validate_report does (REPORT_EXPECTATIONS points at the copy)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from wcreport.core.quarter import Quarter
from wcreport.core.settings import PROJECT_ROOT
from wcreport.validate.suites import validate_report

from .helpers import UNIT, good_report, with_indicator, with_row

Q2 = Quarter(2023, 2)


def _copy_project(tmp_path: Path) -> Path:
    root = tmp_path / "expectations"
    shutil.copytree(PROJECT_ROOT / "expectations", root,
                    ignore=shutil.ignore_patterns("uncommitted", "__pycache__"))
    return root


def _edit(root: Path, suite: str, code: str, change) -> None:
    path = root / "gx" / "expectations" / f"{suite}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    hits = [e for e in data["expectations"] if e.get("meta", {}).get("code") == code]
    assert len(hits) == 1
    change(hits[0])
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def _codes(outcome):
    return {(f.code, f.severity) for f in outcome.findings}


def test_editing_the_far_above_target_factor_changes_the_warning(programme, tmp_path, monkeypatch):
    report = with_indicator(good_report(programme), 0, raw="10", value=10.0)   # target 3: 3.3x
    monkeypatch.delenv("REPORT_EXPECTATIONS", raising=False)
    assert ("indicator.far_above_target", "warning") in _codes(validate_report(report, UNIT, programme, Q2))

    root = _copy_project(tmp_path)
    _edit(root, "indicators", "indicator.far_above_target",
          lambda e: e["kwargs"].update(max_value=5))
    monkeypatch.setenv("REPORT_EXPECTATIONS", str(root))
    assert ("indicator.far_above_target", "warning") not in _codes(validate_report(report, UNIT, programme, Q2))
    tighter = with_indicator(good_report(programme), 0, raw="16", value=16.0)   # 5.3x
    finding = next(f for f in validate_report(tighter, UNIT, programme, Q2).findings
                   if f.code == "indicator.far_above_target")
    assert "超过全年目标3个的5倍" in finding.message


def test_editing_a_severity_turns_a_rejection_into_a_warning(programme, tmp_path, monkeypatch):
    report = with_row(good_report(programme), 0, progress="同上")
    root = _copy_project(tmp_path)
    _edit(root, "progress_rows", "progress.placeholder", lambda e: e.update(severity="warning"))
    monkeypatch.setenv("REPORT_EXPECTATIONS", str(root))
    assert _codes(validate_report(report, UNIT, programme, Q2)) == {("progress.placeholder", "warning")}


def test_editing_the_placeholder_list_and_message(programme, tmp_path, monkeypatch):
    report = with_row(good_report(programme), 0, progress="请见邮件正文")
    assert not validate_report(report, UNIT, programme, Q2).findings
    root = _copy_project(tmp_path)

    def add(e):
        e["kwargs"]["value_set"].append("请见邮件正文")
        e["meta"]["message_zh"] = "请勿只写「{progress}」"
    _edit(root, "progress_rows", "progress.placeholder", add)
    monkeypatch.setenv("REPORT_EXPECTATIONS", str(root))
    finding = validate_report(report, UNIT, programme, Q2).findings[0]
    assert (finding.code, finding.cell, finding.message) == ("progress.placeholder", "D4", "请勿只写「请见邮件正文」。")
