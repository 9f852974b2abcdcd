"""The accelerators change nothing but speed: with ``REPORT_ACCELERATORS`` on and off the
findings, the Data Docs pages and each unit's ingest result are the same, and with it
off no speed-up runs at all.

The failing corpus is test_batch's: every rule's bad report and corrected twin, and every
unit's correct report, with and without a previous quarter."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from wcreport.core.settings import expectations_root, quarter_paths
from wcreport.flow.gather import scan_inbox
from wcreport.flow.ingest_unit import decide_unit
from wcreport.validate import offline_docs, outcome
from wcreport.validate.accelerators import batch, context_cache, jinja_cache, prevalidated
from wcreport.validate.gx_project import open_project
from wcreport.validate.limits import cap_findings
from wcreport.validate.suites import findings_of, prepare, run_suites, validate_report

from .helpers import UNIT, good_report, with_row
from .test_batch import _corpus
from .test_prevalidated import Q1, quarter  # noqa: F401  (fixture)
from .test_rules import Q2

VALIDATED_AT = dt.datetime(2023, 6, 30, 9, tzinfo=dt.UTC)


def _page(folder, programme, unit_key, results, findings) -> str:
    page = offline_docs.write_unit_page(
        folder, quarter=Q2, unit_key=unit_key, unit_name=programme.unit(unit_key).name, results=results,
        findings=cap_findings(findings), gx_pages=[], validated_at=VALIDATED_AT)
    return page.read_text(encoding="utf-8")


@pytest.mark.slow
def test_findings_and_pages_equal_on_the_failing_corpus(programme, tmp_path):
    """Plain: each file on its own, its page from GX's own ``to_json_dict``. Accelerated: the
    batch, its page from the JSON text the outcome store keeps (what ``validate_file`` reads back)."""
    items = _corpus(programme)
    accelerated = batch.validate_many(items, programme, Q2)
    project = open_project(expectations_root(), None)
    differing = []
    for n, (item, fast) in enumerate(zip(items, accelerated, strict=True)):
        prepared = prepare(item.parsed, item.unit_key, programme, Q2, item.previous)
        run = run_suites(project, prepared, f"{Q2}-{item.unit_key}")
        findings = findings_of(prepared, run.results)
        plain_page = _page(tmp_path / f"plain-{n}", programme, item.unit_key,
                           {name: r.to_json_dict() for name, r in run.results.items()}, findings)
        fast_page = _page(tmp_path / f"fast-{n}", programme, item.unit_key,
                          json.loads(fast.results_json), fast.findings)
        if findings != fast.findings or plain_page != fast_page:
            differing.append(n)
    assert differing == []
    assert sum(bool(o.findings) for o in accelerated) >= len(items) // 3     # the corpus does fail


def _without_time_and_gx_links(page: str) -> str:
    """A page's content but its validation time and its links to GX's own (CDN) pages,
    which only a file validated on its own has."""
    page = re.sub(r"<tr><th>校验时间</th><td>[^<]*</td></tr>", "", page)
    return re.sub(r'<p class="muted">Great Expectations 原版页面.*?</p>\n', "", page, flags=re.S)


def _validated_on_and_off(programme, tmp_path, monkeypatch, **options) -> dict:
    """``validate_file`` on a failing file, plain path ("off"), then the batch's outcome looked up ("on")."""
    report = with_row(good_report(programme), 0, progress="无")
    validations = {}
    for switch in ("off", "on"):
        monkeypatch.setenv("REPORT_ACCELERATORS", switch)
        paths = quarter_paths(str(Q2), tmp_path / switch / "inbox", tmp_path / switch / "output")
        if switch == "on":
            key = prevalidated.cache_key(programme, UNIT, "a" * 64, None, prevalidated.rules_digest())
            (fast,) = batch.validate_many([batch.Item(report, UNIT)], programme, Q2)
            prevalidated._write_store(prevalidated._folder(paths),
                                      [prevalidated.StoredOutcome(key, prevalidated._payload(fast))])
        validations[switch] = outcome.validate_file(paths, programme, UNIT, "a" * 64, report, None, **options)
    return validations


def test_validate_file_gives_the_same_findings_and_page_on_and_off(programme, tmp_path, monkeypatch):
    """The stage's call itself: the same findings and the same page."""
    validations = _validated_on_and_off(programme, tmp_path, monkeypatch)
    pages = {switch: _without_time_and_gx_links(open(v.page, encoding="utf-8").read())
             for switch, v in validations.items()}
    assert validations["on"].findings == validations["off"].findings and validations["off"].findings
    assert pages["on"] == pages["off"]


def test_without_rendering_the_page_both_paths_keep_the_same_summary_and_no_html(programme, tmp_path, monkeypatch):
    """What ingest asks for (it renders the version's pages itself): the summary only, equal on and off."""
    contexts = {}
    for switch, validation in _validated_on_and_off(programme, tmp_path, monkeypatch, render_page=False).items():
        page = Path(validation.page)
        assert not page.exists()
        context = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))["context"]
        context.pop("validated_at")
        context.pop("gx_links")
        contexts[switch] = context
    assert contexts["on"] == contexts["off"] and contexts["off"]["errors"] > 0


def _compared(result) -> dict:
    return result.model_dump(mode="json")


@pytest.mark.slow
def test_an_ingest_reaches_the_same_unit_result_on_and_off(quarter, programme, tmp_path, monkeypatch):
    """Every unit of the sample quarter (faulty files, a failing file, a failing correction)."""
    plain = quarter_paths(str(Q1), tmp_path / "plain-inbox", tmp_path / "plain-output")
    shutil.copytree(quarter.inbox_root, plain.inbox_root)          # copy2: same received times

    monkeypatch.setenv("REPORT_ACCELERATORS", "off")
    skipped = outcome.validate_quarter_batch(plain, programme, scan_inbox(plain, programme, max_wait_seconds=0))
    assert "skipped" in skipped
    expected = {u.key: _compared(decide_unit(plain, programme, u.key, max_wait_seconds=0))
                for u in programme.units}

    monkeypatch.setenv("REPORT_ACCELERATORS", "on")
    summary = outcome.validate_quarter_batch(quarter, programme, scan_inbox(quarter, programme, max_wait_seconds=0))
    assert summary["validated"] >= len(programme.units) - 1
    got = {u.key: _compared(decide_unit(quarter, programme, u.key, max_wait_seconds=0)) for u in programme.units}

    assert got == expected
    assert {r["status"] for r in got.values()} >= {"submitted", "rejected"}


def _refuse(name):
    def refused(*args, **kwargs):
        raise AssertionError(f"{name} ran with REPORT_ACCELERATORS=off")
    return refused


def test_off_runs_no_speed_up(quarter, programme, monkeypatch):
    """No outcome store written or read, no kept GX project, no template cache, no batch."""
    monkeypatch.setenv("REPORT_ACCELERATORS", "off")
    for module, name in [(prevalidated, "lookup"), (prevalidated, "validate_quarter"),
                         (prevalidated, "_write_store"), (prevalidated, "_read_outcome"),
                         (context_cache, "cached_project"), (jinja_cache, "install"),
                         (batch, "validate_many")]:
        monkeypatch.setattr(module, name, _refuse(name))
    records = scan_inbox(quarter, programme, max_wait_seconds=0)
    assert "skipped" in outcome.validate_quarter_batch(quarter, programme, records)
    results = [decide_unit(quarter, programme, u.key, max_wait_seconds=0) for u in programme.units[:3]]
    assert all(r.status in ("submitted", "rejected") for r in results)
    assert not (quarter.output / "cache" / "validated").exists()
    assert outcome.build_data_docs_index(quarter.data_docs)


_IN_A_FRESH_PROCESS = """
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[2])
from validate.helpers import UNIT, good_report, with_row
from wcreport.core.programme import load_programme
from wcreport.core.settings import PROJECT_ROOT, quarter_paths
from wcreport.validate import outcome
from wcreport.validate.accelerators import jinja_cache

programme = load_programme(PROJECT_ROOT / "include" / "programmes" / "2023.yaml")
paths = quarter_paths("2023Q2", Path(sys.argv[1]) / "inbox", Path(sys.argv[1]) / "output")
report = with_row(good_report(programme), 0, progress="无")
validation = outcome.validate_file(paths, programme, UNIT, None, report, None)
assert validation.findings and validation.page
print("INSTALLED", jinja_cache.installed())
"""


@pytest.mark.slow
@pytest.mark.parametrize("switch,installed", [("off", False), ("on", True)])
def test_the_template_cache_monkeypatch_only_with_accelerators_on(switch, installed, tmp_path):
    """In a fresh process, a file validated with its Data Docs: GX's view class is left alone
    with accelerators off."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "REPORT_ACCELERATORS": switch}
    proc = subprocess.run([sys.executable, "-c", _IN_A_FRESH_PROCESS, str(tmp_path), str(tests)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"INSTALLED {installed}" in proc.stdout


def test_the_project_is_kept_only_by_the_accelerator():
    root = expectations_root()
    assert open_project(root, None) is not open_project(root, None)
    context_cache.clear()
    assert context_cache.cached_project(root, None) is context_cache.cached_project(root, None)
    assert jinja_cache.installed()


def test_the_batch_and_the_plain_run_agree_on_an_empty_file(programme):
    empty = good_report(programme).model_copy(update={"rows": [], "indicators": []})
    (fast,) = batch.validate_many([batch.Item(empty, UNIT)], programme, Q2)
    assert fast.findings == validate_report(empty, UNIT, programme, Q2).findings


@pytest.mark.parametrize("module", ["suites", "frames", "parameters", "messages", "data_docs", "gx_project",
                                    "findings", "limits", "offline_docs"])
def test_the_plain_path_does_not_import_the_accelerators(module):
    """Only ``outcome`` reaches the accelerators: the plain path reads on its own."""
    import ast
    import importlib

    source = importlib.import_module(f"wcreport.validate.{module}").__file__
    tree = ast.parse(open(source, encoding="utf-8").read())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.startswith("wcreport.validate.accelerators")}
