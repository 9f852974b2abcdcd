"""DAG parse: each DAG file's import time vs an empty DAG file (benchmark figure 1).

Usage: .venv/bin/python bench/bench_parse.py [--repeat 15]

Every sample is a fresh interpreter that first imports ``airflow`` and ``airflow.sdk``
(``PRELOADED["sdk"]``), then times loading one DAG file with ``importlib`` (as Airflow's
DagBag does: a module from a file path) and counts the modules that file pulled in. The
figure is the CPU time of that load (``process_time``; the machine is shared, and wall time
under load varies by 2x between samples); wall time is recorded beside it. The floor is
``bench/parse_floor/empty_dag.py``, a one-task TaskFlow DAG, measured the same way in the
same run; ``airflow_twin_dag.py`` (the real DAG's airflow.sdk names and shape, no wcreport
import) separates Airflow's share from ours. The median of ``--repeat`` samples is used.

Each file is also measured as the dag-processor's parsing child loads it
(``PRELOADED["processor"]``: forked from the manager, it has ``airflow.dag_processing.manager``
and the modules that pulls in), against the empty DAG measured the same way. One extra
``python -X importtime`` run per file names the costliest imports the file adds
(cumulative microseconds, top level only).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import PROJECT_ROOT, as_deployed, machine, median, ratio, save_result

FLOOR = PROJECT_ROOT / "bench" / "parse_floor" / "empty_dag.py"
TWIN = PROJECT_ROOT / "bench" / "parse_floor" / "airflow_twin_dag.py"
HEAVY = ("pandas", "great_expectations", "openpyxl", "python_calamine", "numpy", "chinese_calendar",
         "holidays", "yagmail")

PROBE = r"""
import importlib, importlib.util, json, sys, time
for name in json.loads(sys.argv[3]):      # loaded before the DAG file (see PRELOADED)
    importlib.import_module(name)
path = sys.argv[1]
sys.stderr.write("----- DAG FILE -----\n"); sys.stderr.flush()
before = set(sys.modules)
t0, c0 = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("bench_dag_module", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
added = sorted(set(sys.modules) - before)
heavy = sorted({m.split(".")[0] for m in added} & set(json.loads(sys.argv[2])))
print(json.dumps({"seconds": cpu, "wall_seconds": elapsed, "modules_added": len(added), "heavy": heavy}))
"""


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    e.update({"AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
              "AIRFLOW_HOME": os.environ.get("BENCH_AIRFLOW_HOME", str(PROJECT_ROOT / "data" / "bench" / "airflow_home"))})
    Path(e["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return e


# What is loaded before the DAG file. "sdk": Airflow and its SDK, as every DAG file needs them
# (the figure; the same preload as all earlier runs, so the figures stay comparable).
# "processor": as the dag-processor's parsing child has them: it is forked from the manager
# process, which has imported airflow.dag_processing.manager and with it the timetables, the
# triggers' base and the serialization modules, so a DAG file pays for those nothing there.
PRELOADED = {"sdk": ("airflow", "airflow.sdk"),
             "processor": ("airflow", "airflow.sdk", "airflow.dag_processing.manager")}


def sample(path: Path, importtime: bool = False, view: str = "sdk") -> tuple[dict, str]:
    cmd = [sys.executable] + (["-X", "importtime"] if importtime else []) + [
        "-c", PROBE, str(path), json.dumps(HEAVY), json.dumps(PRELOADED[view])]
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"importing {path} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def top_imports(stderr: str, n: int = 5) -> list[tuple[str, float]]:
    """Costliest top-level imports made while loading the DAG file (cumulative ms)."""
    lines = stderr.split("----- DAG FILE -----", 1)[-1].splitlines()
    out = []
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        _self, cumulative, raw = line[len("import time:"):].split("|", 2)
        cumulative, name = cumulative.strip(), raw.rstrip()[1:]     # one space after the bar
        if not cumulative.isdigit():
            continue
        if name == name.lstrip():           # top level: no indentation
            out.append((name, int(cumulative) / 1000))
    return sorted(out, key=lambda x: -x[1])[:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    as_deployed()       # byte-code compiled and kept, as in a deployment
    files = [FLOOR, TWIN] + sorted((PROJECT_ROOT / "dags").glob("*.py"))
    samples: dict[str, list[dict]] = {str(f): [] for f in files}
    in_processor: dict[str, list[float]] = {str(f): [] for f in files}
    for _ in range(args.repeat):            # interleaved, so load changes hit all files alike
        for f in files:
            samples[str(f)].append(sample(f)[0])
            in_processor[str(f)].append(sample(f, view="processor")[0]["seconds"])
    floor_ms = median(s["seconds"] for s in samples[str(FLOOR)]) * 1000
    twin_ms = median(s["seconds"] for s in samples[str(TWIN)]) * 1000
    processor_floor_ms = median(in_processor[str(FLOOR)]) * 1000
    rows = []
    for f in files:
        ms = median(s["seconds"] for s in samples[str(f)]) * 1000
        _, stderr = sample(f, importtime=True)
        rows.append({"file": str(f.relative_to(PROJECT_ROOT)), "median_ms": round(ms, 1),
                     "samples_ms": [round(s["seconds"] * 1000, 1) for s in samples[str(f)]],
                     "wall_median_ms": round(median(s["wall_seconds"] for s in samples[str(f)]) * 1000, 1),
                     "ratio": round(ratio(ms, floor_ms), 2),
                     "ratio_to_twin": round(ratio(ms, twin_ms), 2),
                     "processor_median_ms": round(median(in_processor[str(f)]) * 1000, 1),
                     "processor_ratio": round(ratio(median(in_processor[str(f)]) * 1000, processor_floor_ms), 2),
                     "modules_added": samples[str(f)][0]["modules_added"],
                     "heavy_modules": samples[str(f)][0]["heavy"],
                     "top_imports_ms": top_imports(stderr)})
        print(f"parse {rows[-1]['file']}: {ms:.1f} ms = {rows[-1]['ratio']}x floor", flush=True)
    save_result("parse", {"machine": machine(), "repeat": args.repeat, "floor_ms": round(floor_ms, 1),
                          "twin_ms": round(twin_ms, 1), "processor_floor_ms": round(processor_floor_ms, 1),
                          "preloaded": PRELOADED,
                          "goal": 1.5, "files": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
