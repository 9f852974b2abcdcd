"""Per-file ingest + validation vs reading the file with python-calamine alone (benchmark figure 2).

Usage: .venv/bin/python bench/bench_ingest.py [--repeat 3] [--profile 5]

Over a sample quarter of the real 2023 programme (``wcreport.demo.sample``, 15 files), each
archived file is measured ``--repeat`` times (median) for:

- floor: ``python_calamine.CalamineWorkbook.from_path`` + ``to_python`` of every sheet;
- read: ``wcreport.intake.reader.read_workbook`` (format by bytes, zip guard, grid, merges);
- locate: ``wcreport.intake.locate.locate_report`` + ``wcreport.intake.identity.identify_unit``;
- validate: ``wcreport.validate.suites.validate_report`` as the pipeline calls it (GX
  validation definitions, then this unit's Data Docs pages), and without Data Docs,
  to show what Data Docs add;
- ingest: ``wcreport.orchestration.tasks.ingest`` (what one mapped task runs: inbox rescan,
  cached read, validation with Data Docs, feedback, units/<key>.json).

Times are CPU seconds of this process (the machine is shared; wall is recorded too).
GX is warmed up first (import + context, reported separately as the cold cost). With
``--profile N``, pyinstrument records N validations and the inclusive time of GX's
main phases is reported.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (
    PROJECT_ROOT,
    QUARTER,
    Timer,
    machine,
    median,
    private_expectations,
    ratio,
    save_result,
    write_samples,
)

# GX phases (function name, file suffix) whose inclusive time the profile reports.
PHASES = {
    "checkpoint run (total)": ("run", "great_expectations/checkpoint/checkpoint.py"),
    "validation definition run": ("run", "great_expectations/core/validation_definition.py"),
    "  building the metric dependency graph": ("_generate_metric_dependency_subgraphs_for_each_expectation_configuration",
                                               "great_expectations/validator/validator.py"),
    "  computing metrics on the frame": ("resolve_validation_graph", "great_expectations/validator/metrics_calculator.py"),
    "  storing the validation result (JSON)": ("store_validation_results",
                                               "great_expectations/data_context/store/validation_results_store.py"),
    "  freshness checks of suite/definition": ("is_fresh", "great_expectations/core/validation_definition.py"),
    "checkpoint freshness check": ("is_fresh", "great_expectations/checkpoint/checkpoint.py"),
    "Data Docs action (UpdateDataDocsAction, before 696fd32)": ("run", "great_expectations/checkpoint/actions.py"),
    "Data Docs build (build_data_docs: this unit's pages)": ("_build_data_docs",
                                                            "great_expectations/data_context/data_context/abstract_data_context.py"),
    "  site build (its pages; index only when missing)": ("build", "great_expectations/render/renderer/site_builder.py"),
    "config substitution (re-reads config_variables.yml)": ("substitute_config",
                                                            "great_expectations/core/config_provider.py"),
    "frames and findings (wcreport)": ("findings_from_result", "wcreport/rules_zh.py"),
}


def calamine_floor(path: Path) -> None:
    import python_calamine as pc

    workbook = pc.CalamineWorkbook.from_path(str(path))
    for name in workbook.sheet_names:
        workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)


def measure(fn, repeat: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(repeat):
        with Timer() as t:
            fn()
        cpu.append(t.cpu)
        wall.append(t.wall)
    return median(cpu), median(wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        programmes = work / "programmes"
        programmes.mkdir()
        shutil.copy(PROJECT_ROOT / "include" / "programmes" / "2023.yaml", programmes / "2023.yaml")
        os.environ["REPORT_PROGRAMMES_DIR"] = str(programmes)
        os.environ["GX_ANALYTICS_ENABLED"] = "false"
        private_expectations(work)
        result = run(work, args.repeat, args.profile)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    save_result("ingest", {"machine": machine(), **result})
    print(f"ingest: path {result['ratio_path']}x, pipeline ingest {result['ratio_ingest']}x, "
          f"read+locate {result['ratio_read_locate']}x the calamine floor")
    return 0


def run(work: Path, repeat: int, profile: int) -> dict:
    from wcreport.intake.identity import identify_unit
    from wcreport.intake.locate import locate_report
    from wcreport.intake.reader import read_workbook
    from wcreport.orchestration import tasks as pipeline
    from wcreport.validate.suites import validate_report

    write_samples(work / "inbox")
    run_ = {"quarter": QUARTER, "inbox": str(work / "inbox"), "output": str(work / "output")}
    pipeline.gather(run_)                            # archive + read cache, as before ingest
    paths, programme = pipeline.paths_of(run_), pipeline.programme_of(run_)
    archived = sorted(paths.archive.glob("*.xlsx"))
    parsed_of = {}
    for path in archived:
        parsed = locate_report(read_workbook(path), programme)
        parsed_of[path] = (parsed, identify_unit(parsed, path.name, programme).unit)
    with Timer() as cold:                            # GX import + context, once per process
        p0, u0 = parsed_of[archived[0]]
        validate_report(p0, u0, programme, paths.quarter, data_docs_dir=paths.data_docs)
    rows = []
    for path in archived:
        parsed, unit = parsed_of[path]
        row = {"file": path.name, "unit": unit}
        row["floor"] = measure(lambda: calamine_floor(path), max(repeat, 5))
        row["read"] = measure(lambda: read_workbook(path), repeat)
        row["locate"] = measure(lambda: identify_unit(locate_report(read_workbook(path), programme),
                                                      path.name, programme), repeat)
        row["validate_docs"] = measure(lambda: validate_report(parsed, unit, programme, paths.quarter,
                                                               data_docs_dir=paths.data_docs), repeat)
        row["validate_nodocs"] = measure(lambda: validate_report(parsed, unit, programme, paths.quarter),
                                         repeat)
        row["ingest"] = measure(lambda: pipeline.ingest(run_, unit), 1)
        rows.append(row)
        print(f"  {unit}: floor {row['floor'][0] * 1000:.2f} ms, validate {row['validate_docs'][0] * 1000:.0f} ms, "
              f"ingest {row['ingest'][0] * 1000:.0f} ms", flush=True)

    def total(key: str, i: int = 0) -> float:
        return sum(r[key][i] for r in rows)

    floor = total("floor")
    read_locate = total("locate")                    # locate row includes the read
    path_total = read_locate + total("validate_docs")
    out = {
        "files": len(rows), "repeat": repeat, "goal": 3.0,
        "cold_first_validation_s": round(cold.wall, 2),
        "per_file_ms": {k: round(total(k) / len(rows) * 1000, 2)
                        for k in ("floor", "read", "locate", "validate_docs", "validate_nodocs", "ingest")},
        "per_file_wall_ms": {k: round(total(k, 1) / len(rows) * 1000, 2)
                             for k in ("floor", "read", "locate", "validate_docs", "validate_nodocs", "ingest")},
        "ratio_read": round(ratio(total("read"), floor), 1),
        "ratio_read_locate": round(ratio(read_locate, floor), 1),
        "ratio_path": round(ratio(path_total, floor), 0),
        "ratio_path_nodocs": round(ratio(read_locate + total("validate_nodocs"), floor), 0),
        "ratio_ingest": round(ratio(total("ingest"), floor), 0),
        "data_docs_share": round(1 - total("validate_nodocs") / total("validate_docs"), 2),
        "rows": [{k: (v if not isinstance(v, tuple) else round(v[0] * 1000, 2)) for k, v in r.items()}
                 for r in rows],
    }
    if profile:
        out["profile"] = profile_validation(
            [parsed_of[p] for p in archived[:profile]], programme, paths)
    return out


def profile_validation(items, programme, paths) -> dict:
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"error": "pyinstrument not installed (pip install pyinstrument==5.1.3)"}
    from wcreport.validate.suites import validate_report

    profiler = Profiler(interval=0.001)
    profiler.start()
    for parsed, unit in items:
        validate_report(parsed, unit, programme, paths.quarter, data_docs_dir=paths.data_docs)
    profiler.stop()
    root = profiler.last_session.root_frame()
    inclusive: dict[tuple[str, str], float] = {}

    def walk(frame, on_stack: frozenset) -> None:
        key = (frame.function, (frame.file_path or "").replace(os.sep, "/"))
        if key not in on_stack:
            inclusive[key] = inclusive.get(key, 0.0) + frame.time
        for child in frame.children:
            walk(child, on_stack | {key})

    walk(root, frozenset())
    total = root.time
    phases = {}
    for label, (function, suffix) in PHASES.items():
        seconds = sum(t for (fn, path), t in inclusive.items() if fn == function and path.endswith(suffix))
        phases[label] = {"s_per_call": round(seconds / len(items), 3), "share": round(seconds / total, 3)}
    return {"calls": len(items), "seconds_per_call": round(total / len(items), 3), "phases": phases,
            "pyinstrument": _version("pyinstrument")}


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
