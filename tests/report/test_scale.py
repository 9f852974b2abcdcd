"""2,000 units: consolidation and the workbook stay fast and streaming (write-only)."""
from __future__ import annotations

import resource
import time

import openpyxl
import pytest

from report.sample import make_case, programme
from wcreport.core.programme import Programme
from wcreport.report.consolidate import consolidate
from wcreport.report.workbook import write_report

N_UNITS = 2000


def big_programme(n: int = N_UNITS) -> Programme:
    data = programme().model_dump(mode="json")
    units = [{"key": f"u{i:04d}", "name": f"测试单位{i:04d}", "aliases": []} for i in range(n)]
    data["units"] = units
    data["area_group"] = None
    for task in data["tasks"]:
        task["units"] = [u["key"] for u in units]
        for ind in task["indicators"]:
            ind["reporters"] = None
    return Programme.model_validate(data)


@pytest.mark.slow
def test_two_thousand_units(tmp_path):
    prog = big_programme()
    text = "本季度召开专题推进会，制定工作方案并明确责任分工，建立工作台账，实行周调度，深入基层开展调研走访。" * 2
    texts = {(u.key, t.seq): f"{u.name}：{text}" for u in prog.units for t in prog.tasks}
    results, manifest = make_case(prog, texts=texts, missing=("u0007",), rejected={"u0008": "表头缺失"},
                                  indicators={u.key: {"school_places": 1} for u in prog.units})
    start = time.perf_counter()
    c = consolidate(prog, "2023Q1", results, manifest)
    consolidated_s = time.perf_counter() - start
    start = time.perf_counter()
    path = write_report(c, prog, tmp_path)
    write_s = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nconsolidate {consolidated_s:.1f}s, write {write_s:.1f}s, "
          f"{path.stat().st_size / 1e6:.1f} MB, max RSS {rss_mb:.0f} MB")
    assert len(c.details) == (N_UNITS - 2) * len(prog.tasks)
    assert next(i for i in c.indicators if i.key == "school_places").value == N_UNITS - 2
    # generous bounds: the machine is shared (about 15 s to write when idle)
    assert consolidated_s < 60 and write_s < 300
    assert rss_mb < 1500
    wb = openpyxl.load_workbook(path, read_only=True)
    assert sum(1 for _ in wb["明细"].iter_rows(values_only=True)) == 1 + len(c.details)
