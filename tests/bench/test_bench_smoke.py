"""Smoke test of the benchmark code: fast, no timing assertions."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_ROOT))

from bench.bench_parse import top_imports  # noqa: E402

from bench import common, report  # noqa: E402
from wcreport.core.programme import load_programme  # noqa: E402


def test_synthetic_programme_is_valid_and_every_unit_has_ten_tasks(tmp_path):
    path = common.synthetic_programme(tmp_path, 30)
    prog = load_programme(path)
    assert path.name == "2023.yaml"
    assert len(prog.units) == 30 and len(prog.tasks) == 10
    assert all(len(prog.tasks_of(u.key)) == 10 for u in prog.units)


def _load_dag(path: Path, factory: str):
    spec = importlib.util.spec_from_file_location(f"bench_smoke_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, factory)()       # the @dag function builds the DAG again


@pytest.mark.slow
def test_noop_dag_has_the_shape_of_the_real_dag():
    real = _load_dag(PROJECT_ROOT / "dags" / "quarterly_report.py", "quarterly_report")
    noop = _load_dag(PROJECT_ROOT / "bench" / "noop_dags" / "quarterly_report_noop.py", "quarterly_report_noop")
    assert sorted(real.task_ids) == sorted(noop.task_ids)
    for task_id in real.task_ids:
        r, n = real.get_task(task_id), noop.get_task(task_id)
        assert type(r).__name__ == type(n).__name__, task_id
        assert r.trigger_rule == n.trigger_rule, task_id
        assert getattr(r, "multiple_outputs", False) == getattr(n, "multiple_outputs", False), task_id
        assert sorted(r.downstream_task_ids) == sorted(n.downstream_task_ids), task_id
    assert set(real.params) <= set(noop.params)
    assert type(real.timetable) is type(noop.timetable)


def test_top_imports_reads_importtime_output():
    stderr = ("import time: self [us] | cumulative | imported package\n"
              "import time:       100 |        100 | early\n"
              "----- DAG FILE -----\n"
              "import time:       500 |       2500 |   nested\n"
              "import time:       900 |       9000 | wcreport.orchestration.timetable\n"
              "import time:       100 |       1000 | wcreport.orchestration.dag_defaults\n")
    assert top_imports(stderr) == [("wcreport.orchestration.timetable", 9.0), ("wcreport.orchestration.dag_defaults", 1.0)]


@pytest.fixture
def fake_results(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_OUT", str(tmp_path / "results"))
    m = common.machine()
    common.save_result("parse", {"machine": m, "repeat": 3, "floor_ms": 50.0, "twin_ms": 55.0, "files": [
        {"file": "dags/quarterly_report.py", "median_ms": 60.0, "samples_ms": [60.0], "ratio": 1.2,
         "ratio_to_twin": 1.09, "modules_added": 40, "heavy_modules": [], "top_imports_ms": [["x", 1.0]]}]})
    common.save_result("e2e", {"machine": m, "db_migrate_s": 7.0, "cases": [{
        "units": 15, "repeat": 1, "real_wall_s": 40.0, "noop_wall_s": 25.0, "ratio_wall": 1.6,
        "real_cpu_s": 39.0, "noop_cpu_s": 24.0, "ratio_cpu": 1.63, "work_per_unit_s": 1.0, "noop_per_unit_s": 1.67,
        "real": [{"ingest_unit_median_s": 1.4, "ingest_first_median_s": 1.4, "ingest_last_median_s": 1.5,
                  "mails": 1, "units_by_status": {"submitted": 15}}],
        "noop": [{"ingest_unit_median_s": 0.3}]}, {
        "units": 200, "repeat": 1, "real_wall_s": 100.0, "noop_wall_s": 80.0, "ratio_wall": 1.25,
        "real_cpu_s": 99.0, "noop_cpu_s": 79.0, "ratio_cpu": 1.25, "work_per_unit_s": 0.1, "noop_per_unit_s": 0.4,
        "real": [{"ingest_unit_median_s": 0.3, "ingest_first_median_s": 0.3, "ingest_last_median_s": 0.3,
                  "mails": 1, "units_by_status": {"submitted": 200}}],
        "noop": [{"ingest_unit_median_s": 0.25}]}]})
    size = {"tasks": 10, "repeat": 3, "parse_cpu_s": 0.1, "parse_ratio": 5.0, "gather_s": 1.0,
            "gather_per_unit_ms": 5.0, "gx_cold_s": 4.0, "validate_wall_s": 1.0, "validated_files": 0,
            "unit_scan_median_ms": 1.0, "ingest_all_cpu_s": 1.0, "merge_s": 1.0, "merge_units": {},
            "report_bytes": 1, "report_rows": {"明细": 11}}
    common.save_result("scale", {"machine": m, "rss_goal_mib": 512, "sizes": [
        {**size, "units": 15, "files": 15, "floor_cpu_s": 0.01, "validate_cpu_s": 0.6, "validate_ratio": 60.0,
         "ingest_median_ms": 10.0, "ingest_first_tenth_ms": 10.0, "ingest_last_tenth_ms": 10.0,
         "merge_peak_rss_mib": 250},
        {**size, "units": 2000, "files": 2000, "floor_cpu_s": 1.0, "validate_cpu_s": 2.5, "validate_ratio": 2.5,
         "ingest_median_ms": 12.0, "ingest_first_tenth_ms": 12.0, "ingest_last_tenth_ms": 12.0,
         "merge_peak_rss_mib": 400,
         "profile": {"total_s": 2.5, "phases": {"GX: Batch.validate": {"s": 1.0, "share": 0.4}}}}]})
    return tmp_path


def test_report_writes_figures_and_verdicts(fake_results):
    out = fake_results / "benchmarks.md"
    assert report.main.__module__ == "bench.report"
    sys.argv = ["report.py", "--out", str(out)]
    assert report.main() == 0
    text = out.read_text(encoding="utf-8")
    assert "# Benchmarks" in text and "## 1. DAG parse" in text and "## 3. End to end" in text
    assert "| 1 | DAG parse `dags/quarterly_report.py` / empty DAG | 1.2× | ≤ 1.5× | **met** |" in text
    assert "15 units / no-op twin | 1.6× | ≤ 1.3× | **missed** |" in text
    assert "200 units / no-op twin | 1.25× | ≤ 1.3× | **met** |" in text


def test_report_explains_a_dags_test_miss_by_gx_import(fake_results):
    e2e = common.load_result("e2e")
    for case, net in zip(e2e["cases"], (1.28, 1.2)):
        case.update(gx_import_s=8.0, ratio_wall_without_gx_import=net)
    common.save_result("e2e", e2e)
    out = fake_results / "benchmarks.md"
    sys.argv = ["report.py", "--out", str(out)]
    assert report.main() == 0
    text = out.read_text(encoding="utf-8")
    assert "15 units / no-op twin | 1.6× | ≤ 1.3× | **missed**; 1.28× without GX's import (8.0 s" in text
    assert "takes **8.0 s**" in text and "15 units 1.28×, 200 units 1.2×" in text
    assert "bench-dashboard.md" in text
    assert "calamine read of all its files, 2,000 units | 2.5× | ≤ 3× | **met** |" in text
    assert "calamine read of all its files, 15 units | 60.0× | ≤ 50× | **missed** |" in text
    assert "(10.0 → 12.0 ms) | 1.2× | flat (≤ 1.5×) | **met** |" in text
    assert "merge peak RSS at 2,000 units | 400 MiB | < 512 MiB | **met** |" in text
    assert "Not measured in this run: `make bench-scheduler`" in text


def _ceiling(finished_min: float | None) -> dict:
    def figure(done, minutes, tp, finished):
        return {"mode": "measured" if finished else "projected", "finished_in_time": finished,
                "ingest_finished": done, "elapsed_min": minutes, "throughput_per_min": tp,
                "seconds_per_instance": round(60 / tp, 2), "projected_ceiling_units": int(tp * 30),
                "projected_ceiling_net_units": int(tp * 29)}

    def run():
        return {"ingest_unit": {"duration_median_s": 0.7, "queue_latency_median_s": 1.0},
                "before_first_ingest_s": 50.0}

    finished = finished_min is not None
    real = figure(2000 if finished else 300, finished_min or 30.0, 75.0, finished)
    return {"units": 2000, "minutes": 30.0, "noop_minutes": 5.0, "goal_minutes": 30.0,
            "real_figure": real, "noop_figure": figure(350, 5.0, 74.0, False), "real": run(), "noop": run(),
            "ceiling_units": 2000 if finished else real["projected_ceiling_units"],
            "ceiling_mode": "measured" if finished else "projected"}


def test_report_prefers_the_full_length_ceiling_run(fake_results):
    m = common.machine()
    common.save_result("scheduler", {"machine": m, "stack": {"parallelism": 4}, "ceiling": _ceiling(None)})
    common.save_result("scheduler_ceiling", {"machine": m, "stack": {"parallelism": 4},
                                             "ceiling": _ceiling(27.0)})
    out = fake_results / "benchmarks.md"
    sys.argv = ["report.py", "--out", str(out)]
    assert report.main() == 0
    text = out.read_text(encoding="utf-8")
    assert "under the real scheduler in 30.0 min (measured) | 2,000 units | ≥ 2,000 units | **met** |" in text
    assert "### The full-length ceiling run (`make bench-ceiling`" in text
    assert "**finished end to end in 27.0 min**" in text
    assert "the real DAG given 30.0 min, the no-op twin 5.0 min" in text
