"""Scale: the quarter at 15, 200 and 2,000 units x 10 tasks (benchmark figure 4).

Usage: .venv/bin/python bench/bench_scale.py [--sizes 15,200,2000] [--sampled 20]

For each size, a synthetic programme (``bench.common.synthetic_programme``) in a
temporary REPORT_PROGRAMMES_DIR and one sample file per unit (``wcreport.demo.sample``),
the pipeline functions called directly (no Airflow), CPU time of this process:

- floor: python-calamine reading every sheet of every archived file (the bare read), in a
  fresh interpreter;
  floor, read + locate and validation are each the median of ``repeats_for(N)`` runs
  (11 up to 272 units, 3 at 2,000);
- read + locate: ``reader.read_workbook`` + ``locate.locate_report`` of every file (our parse);
- gather: ``tasks.gather`` once (archive, read, identify every file);
- validation: ``validate.accelerators.prevalidated.validate_quarter`` (the DAG's ``validate_quarter``: every
  file in one GX run per suite), GX warmed up first (its cold import is reported apart);
- unit scan: ``intake.scan.scan_and_identify(unit=...)``, what each ``ingest_unit`` pays to see
  its unit's files (``--sampled`` units spread over the programme, median); the inbox keeps
  each unit's file in the unit's folder (as the mailbox saves it); the same scan over an inbox
  with every file loose in the quarter's folder is measured too;
- ingest: ``tasks.ingest`` for every unit (median, and the first vs last tenth); the
  benchmark's own objects frozen out of the garbage collector first (``gc.freeze``), as a
  task process does not hold the whole quarter;
- merge: ``tasks.merge`` in a fresh interpreter: wall time and peak RSS.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (
    PROJECT_ROOT,
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
import json, sys, time
from wcreport.orchestration.tasks import merge
run = json.loads(sys.argv[1])
t0 = time.perf_counter()
out = merge(run)
wall = time.perf_counter() - t0
# VmHWM, the peak of this process image: getrusage's ru_maxrss would also count the parent's
# resident set at the fork before exec (Linux keeps the old image's peak across exec).
rss = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
heavy = [m for m in ("great_expectations", "pandas", "numpy", "scipy", "PIL", "openpyxl") if m in sys.modules]
print(json.dumps({"wall_s": wall, "peak_rss_bytes": rss, "report": out["report"], "units": out["units"],
                  "heavy_modules": heavy}))
"""


FLOOR_PROBE = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from bench.bench_scale import calamine_floor
paths = json.loads(open(sys.argv[2], encoding="utf-8").read())
samples = []
for _ in range(int(sys.argv[3])):
    started = time.process_time()
    calamine_floor(paths)
    samples.append(time.process_time() - started)
print(json.dumps({"median_s": statistics.median(samples), "samples_s": samples}))
"""

REPEAT = 3      # floor, parse and validation: median of at least this many runs


def repeats_for(n_units: int) -> int:
    """Runs per measured step: a small quarter's floor is a few milliseconds, so it is sampled
    more often (the medians of 3 runs moved its ratio by a third from run to run)."""
    return max(REPEAT, min(11, 3000 // n_units))


def _cpu(fn) -> float:
    with Timer() as t:
        fn()
    return t.cpu


def calamine_floor(paths: list[Path]) -> None:
    import python_calamine as pc

    for path in paths:
        workbook = pc.CalamineWorkbook.from_path(str(path))
        for name in workbook.sheet_names:
            workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)


def fresh_floor(paths: list[Path], repeat: int, work: Path) -> float:
    """The calamine floor in a fresh interpreter (median CPU seconds of ``repeat`` reads): the
    bare read must not depend on what this process holds (a big heap makes every
    allocation-heavy read slower, and whether gather parsed in this process or in a child
    changed the floor by 2x at 2,000 units)."""
    listing = work / "floor_paths.json"
    listing.write_text(json.dumps([str(p) for p in paths]), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", FLOOR_PROBE, str(PROJECT_ROOT), str(listing), str(repeat)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])["median_s"]


def read_and_locate(paths: list[Path], programme) -> None:
    from wcreport.intake.locate import locate_report
    from wcreport.intake.reader import read_workbook

    for path in paths:
        locate_report(read_workbook(path), programme)


def warm_up_gx(programme) -> float:
    """Import GX and load the project once (what the first validation in a process pays)."""
    from wcreport.core.model import ParsedReport
    from wcreport.core.quarter import Quarter
    from wcreport.validate.accelerators.batch import Item, validate_many

    with Timer() as t:
        validate_many([Item(ParsedReport(), programme.units[0].key)], programme, Quarter.parse(QUARTER))
    return t.wall


# Where the batch's time goes: inclusive CPU of these functions (name, file suffix).
BATCH_PHASES = {
    "GX: Batch.validate (metric graph + metrics, both suites)": ("validate", "great_expectations/datasource/fluent/interfaces.py"),
    "wcreport: prepare frames and parameters": ("prepare", "wcreport/validate/suites.py"),
    "wcreport: batched suites (fold)": ("fold", "wcreport/validate/accelerators/folding.py"),
    "wcreport: one frame of all items (batch_frame)": ("batch_frame", "wcreport/validate/accelerators/folding.py"),
    "wcreport: cut each item's results out (split)": ("split", "wcreport/validate/accelerators/split.py"),
    "wcreport: findings and JSON form per item (_outcome)": ("_outcome", "wcreport/validate/suites.py"),
    "wcreport: parsed reports from the cache (cached_report)": ("cached_report", "wcreport/intake/accelerators/read_cache.py"),
    "wcreport: the outcome store written (_write_store)": ("_write_store", "wcreport/validate/accelerators/prevalidated.py"),
}


def profile_batch(paths, programme, records) -> dict:
    """validate_quarter again (outcome cache cleared) under cProfile: the phases' shares."""
    import cProfile
    import pstats

    shutil.rmtree(paths.output / "cache" / "validated", ignore_errors=True)
    from wcreport.validate.accelerators.prevalidated import validate_quarter

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    validate_quarter(paths, programme, records)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = max((ct for (_f, _l, name), (_cc, _nc, _tt, ct, _c) in stats.items() if name == "validate_quarter"),
                default=0.0)
    phases = {}
    for label, (name, suffix) in BATCH_PHASES.items():
        seconds = sum(ct for (file, _line, fn), (_cc, _nc, _tt, ct, _c) in stats.items()
                      if fn == name and file.endswith(suffix))
        phases[label] = {"s": round(seconds, 3), "share": round(seconds / total, 3) if total else None}
    return {"total_s": round(total, 3), "phases": phases}


def run_size(work: Path, n_units: int, sampled: int, profile: bool = False) -> dict:
    from openpyxl import load_workbook

    case = work / f"n{n_units}"
    synthetic_programme(case / "programmes", n_units)
    os.environ["REPORT_PROGRAMMES_DIR"] = str(case / "programmes")
    from wcreport.flow.gather import scan_inbox
    from wcreport.intake.scan import scan_and_identify
    from wcreport.orchestration import tasks as pipeline
    from wcreport.validate.accelerators.prevalidated import validate_quarter

    with Timer() as t_samples:
        write_samples(case / "inbox")
    run = {"quarter": QUARTER, "inbox": str(case / "inbox"), "output": str(case / "output")}
    with Timer() as t_gather:
        keys = pipeline.gather(run)
    paths, programme = pipeline.paths_of(run), pipeline.programme_of(run)
    records = scan_inbox(paths, programme, max_wait_seconds=0)
    files = [paths.output_root / r.archived_as for r in records if r.kind == "spreadsheet" and r.archived_as]
    repeat = repeats_for(n_units)
    floor_cpu = fresh_floor(files, repeat, case)
    parse_cpu = median(_cpu(lambda: read_and_locate(files, programme)) for _ in range(repeat))
    gx_cold_s = warm_up_gx(programme)
    validate_cpu, validate_wall = [], []
    for _ in range(repeat):     # each time from scratch: the outcomes kept by the previous run removed
        shutil.rmtree(paths.output / "cache" / "validated", ignore_errors=True)
        with Timer() as t_validate:
            batch = validate_quarter(paths, programme, records)
        validate_cpu.append(t_validate.cpu)
        validate_wall.append(t_validate.wall)
    step = max(1, len(keys) // sampled)
    chosen = keys[::step][:sampled]
    # A task process holds only its own unit's objects. This process holds the whole quarter
    # (frames, parsed reports, GX): frozen out of the collector, so that the per-unit figures
    # do not include full collections walking the benchmark's own heap (2x at 2,000 units).
    gc.collect()
    gc.freeze()
    scan_s = []
    for key in chosen:
        with Timer() as t:
            scan_and_identify(paths, programme, max_wait_seconds=0, unit=key)
        scan_s.append(t.cpu)
    ingest_s = []
    for key in keys:
        with Timer() as t:
            summary = pipeline.ingest(run, key)
        assert summary["status"] == "submitted", summary
        ingest_s.append(t.cpu)
    gc.unfreeze()
    tenth = max(1, len(ingest_s) // 10)
    merged = _merge_subprocess(run, os.environ.copy())
    report = Path(merged["report"])
    wb = load_workbook(report, read_only=True)
    sheet_rows = {ws.title: sum(1 for _ in ws.iter_rows(values_only=True)) for ws in wb.worksheets}
    wb.close()
    result = {
        "units": n_units, "tasks": len(programme.tasks), "files": len(files),
        "samples_s": round(t_samples.wall, 1),
        "repeat": repeat, "floor_cpu_s": round(floor_cpu, 4), "parse_cpu_s": round(parse_cpu, 3),
        "gather_s": round(t_gather.wall, 2), "gather_per_unit_ms": round(t_gather.wall / n_units * 1000, 1),
        "gx_cold_s": round(gx_cold_s, 2),
        "validate_cpu_s": round(median(validate_cpu), 3), "validate_wall_s": round(median(validate_wall), 3),
        "validate_cpu_samples_s": [round(x, 3) for x in validate_cpu],
        "validated_files": batch["validated"],
        "unit_scan_median_ms": round(median(scan_s) * 1000, 2),
        "ingest_median_ms": round(median(ingest_s) * 1000, 1),
        "ingest_first_tenth_ms": round(median(ingest_s[:tenth]) * 1000, 1),
        "ingest_last_tenth_ms": round(median(ingest_s[-tenth:]) * 1000, 1),
        "ingest_all_cpu_s": round(sum(ingest_s), 1),
        "merge_s": round(merged["wall_s"], 2), "merge_peak_rss_mib": round(merged["peak_rss_bytes"] / 2**20, 0),
        "merge_units": merged["units"], "merge_heavy_modules": merged.get("heavy_modules"), "report_bytes": report.stat().st_size, "report_rows": sheet_rows,
    }
    result["loose_unit_scan_median_ms"] = loose_unit_scan_ms(case, chosen)
    if profile:
        result["profile"] = profile_batch(paths, programme, records)
    result["validate_ratio"] = round(result["validate_cpu_s"] / result["floor_cpu_s"], 2)
    result["parse_ratio"] = round(result["parse_cpu_s"] / result["floor_cpu_s"], 2)
    return result


def loose_unit_scan_ms(case: Path, units: list[str]) -> float:
    """The unit scan when every file lies directly in the quarter's folder (no unit folders):
    each rerun stats every loose file, since one may have been overwritten in place with this
    unit's form (docs/identity.md). Median over ``units``, after a gather built the stat cache."""
    from wcreport.intake.scan import scan_and_identify
    from wcreport.orchestration import tasks as pipeline

    run = {"quarter": QUARTER, "inbox": str(case / "inbox_loose"), "output": str(case / "output_loose")}
    write_samples(case / "inbox_loose", layout="loose")
    pipeline.gather(run)
    paths, programme = pipeline.paths_of(run), pipeline.programme_of(run)
    scans = []
    for key in units:
        with Timer() as t:
            scan_and_identify(paths, programme, max_wait_seconds=0, unit=key)
        scans.append(t.cpu)
    return round(median(scans) * 1000, 2)


def _merge_subprocess(run: dict, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", MERGE_PROBE, json.dumps(run)], env=env,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="15,200,2000")
    parser.add_argument("--sampled", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    results = []
    try:
        private_expectations(work)
        sizes = [int(x) for x in args.sizes.split(",")]
        for n in sizes:
            results.append(run_size(work, n, args.sampled, profile=n == sizes[-1]))
            r = results[-1]
            print(f"  scale {n}: validation {r['validate_cpu_s']} s = {r['validate_ratio']}x the calamine floor "
                  f"({r['floor_cpu_s']} s), unit scan {r['unit_scan_median_ms']} ms, ingest/unit "
                  f"{r['ingest_median_ms']} ms, merge {r['merge_s']} s, peak RSS {r['merge_peak_rss_mib']} MiB",
                  flush=True)
            save_result("scale", {"machine": machine(), "sizes": results, "rss_goal_mib": 512})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
