"""Scale: the pipeline functions at 15, 200 and 2,000 units x 10 tasks (benchmark figure 4).

Usage: .venv/bin/python bench/bench_scale.py [--sizes 15,200,2000] [--sampled 5]

For each size, a synthetic programme (``bench.common.synthetic_programme``) in a
temporary REPORT_PROGRAMMES_DIR and one sample file per unit (``wcreport.testing.sample``):

- gather: ``wcreport.orchestration.tasks.gather`` once (archive, read, identify every file);
- rescan: ``wcreport.intake.inbox.scan_and_identify`` on the gathered inbox: what *every*
  ``ingest_unit`` instance pays before it looks at its own file;
- ingest: ``wcreport.orchestration.tasks.ingest`` for ``--sampled`` units spread over the
  programme (median): the per-unit cost of the mapped task, without Airflow;
- merge: ``wcreport.orchestration.tasks.merge`` in a fresh interpreter: wall time and peak RSS
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), report size and row count.

Ingesting every unit through GX would take hours at 2,000 units (see docs/benchmarks.md),
so the units not sampled get their ``units/<key>.json`` from the same parsed report,
accepted without the GX call (``accept_without_validation``): the merge input has the
shape and size of a real quarter where every unit was accepted.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (
    QUARTER,
    Timer,
    machine,
    median,
    private_expectations,
    save_result,
    synthetic_programme,
    write_samples,
)

MERGE_PROBE = r"""
import json, resource, sys, time
from wcreport.orchestration.tasks import merge
run = json.loads(sys.argv[1])
t0 = time.perf_counter()
out = merge(run)
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024     # Linux: KiB
print(json.dumps({"wall_s": wall, "peak_rss_bytes": rss, "report": out["report"], "units": out["units"]}))
"""


def accept_without_validation(paths, programme, records, done: set[str]) -> int:
    """units/<key>.json of an accepted file, as ``wcreport.validate.decide`` writes it, minus GX."""
    from wcreport.core.io import write_atomic
    from wcreport.core.model import UnitResult
    from wcreport.intake.inbox import read_cached

    written = 0
    for record in records:
        if record.unit is None or record.unit in done or record.status != "pending":
            continue
        _fmt, parsed, error = read_cached(paths, programme, record.sha256, paths.output_root / record.archived_as)
        if error is not None or parsed is None:
            continue
        record.status = "accepted"
        result = UnitResult(quarter=str(paths.quarter), unit=record.unit,
                            unit_name=programme.unit(record.unit).name, status="submitted",
                            accepted_sha256=record.sha256, rows=parsed.rows, indicators=parsed.indicators,
                            files=[record])
        write_atomic(paths.units / f"{record.unit}.json", result.model_dump_json(indent=2).encode("utf-8"), skip_if_same=True)
        written += 1
    return written


def run_size(work: Path, n_units: int, sampled: int) -> dict:
    from openpyxl import load_workbook

    case = work / f"n{n_units}"
    synthetic_programme(case / "programmes", n_units)
    os.environ["REPORT_PROGRAMMES_DIR"] = str(case / "programmes")
    from wcreport.intake.inbox import scan_and_identify
    from wcreport.orchestration import report_xlsx
    from wcreport.orchestration import tasks as pipeline

    with Timer() as t_samples:
        write_samples(case / "inbox")
    run = {"quarter": QUARTER, "inbox": str(case / "inbox"), "output": str(case / "output")}
    with Timer() as t_gather:
        keys = pipeline.gather(run)
    paths, programme = pipeline.paths_of(run), pipeline.programme_of(run)
    with Timer() as t_rescan:
        records = scan_and_identify(paths, programme)
    step = max(1, len(keys) // sampled)
    chosen = keys[::step][:sampled]
    ingest_s, ingest_cpu = [], []
    for key in chosen:
        with Timer() as t:
            summary = pipeline.ingest(run, key)
        assert summary["status"] == "submitted", summary
        ingest_s.append(t.wall)
        ingest_cpu.append(t.cpu)
    with Timer() as t_fill:
        filled = accept_without_validation(paths, programme, records, set(chosen))
    env = os.environ.copy()
    merged = _merge_subprocess(run, env)
    report = Path(merged["report"])
    wb = load_workbook(report, read_only=True)
    sheet_rows = {ws.title: sum(1 for _ in ws.iter_rows(values_only=True)) for ws in wb.worksheets}
    wb.close()
    import inspect
    streaming = "write_only=True" in inspect.getsource(report_xlsx.write_report)
    result = {
        "units": n_units, "tasks": len(programme.tasks), "files": len(keys),
        "samples_s": round(t_samples.wall, 1),
        "gather_s": round(t_gather.wall, 2), "gather_per_unit_ms": round(t_gather.wall / n_units * 1000, 1),
        "rescan_s": round(t_rescan.wall, 2),
        "ingest_sampled": len(chosen), "ingest_median_s": round(median(ingest_s), 2),
        "ingest_median_cpu_s": round(median(ingest_cpu), 2),
        "ingest_quarter_estimate_s": round(median(ingest_s) * n_units, 0),
        "filled_without_gx": filled, "fill_s": round(t_fill.wall, 1),
        "merge_s": round(merged["wall_s"], 2), "merge_peak_rss_mib": round(merged["peak_rss_bytes"] / 2**20, 0),
        "merge_units": merged["units"], "report_bytes": report.stat().st_size, "report_rows": sheet_rows,
        "report_streaming": streaming,
    }
    result["quarter_estimate_s"] = round(result["gather_s"] + result["ingest_quarter_estimate_s"]
                                         + result["merge_s"], 0)
    result["per_unit_total_s"] = round(result["quarter_estimate_s"] / n_units, 3)
    return result


def _merge_subprocess(run: dict, env: dict) -> dict:
    import subprocess

    proc = subprocess.run([sys.executable, "-c", MERGE_PROBE, json.dumps(run)], env=env,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="15,200,2000")
    parser.add_argument("--sampled", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    results = []
    try:
        private_expectations(work)
        for n in (int(x) for x in args.sizes.split(",")):
            results.append(run_size(work, n, args.sampled))
            r = results[-1]
            print(f"  scale {n}: gather {r['gather_s']} s, rescan {r['rescan_s']} s, ingest/unit "
                  f"{r['ingest_median_s']} s, merge {r['merge_s']} s, peak RSS {r['merge_peak_rss_mib']} MiB",
                  flush=True)
            save_result("scale", {"machine": machine(), "sizes": results, "rss_goal_mib": 1024})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
