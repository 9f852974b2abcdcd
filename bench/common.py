"""Shared helpers of the benchmarks: timing, machine facts, result files,
synthetic programmes and sample quarters in temporary folders.

Every benchmark writes one JSON file into the results folder (``BENCH_OUT``, default
``data/bench``); ``bench/report.py`` turns them into ``docs/benchmarks.md``.
Nothing here writes into the project tree except that results folder (and the byte-code
``as_deployed`` compiles, as any deployment has it).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
QUARTER = "2023Q1"


def as_deployed() -> None:
    """Byte-code compiled and kept, as in a deployment, for the Airflow processes started next.

    The benchmarks measure what production pays. An image or a worker compiles our modules
    once and keeps ``__pycache__``; with ``PYTHONDONTWRITEBYTECODE`` set (some developer
    shells and CI set it) every task process would compile them from source again, a cost
    the no-op twin, which imports none of them, never pays.
    """
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for folder in ("include", "dags", "plugins", "bench/noop_dags"):
        compileall.compile_dir(str(PROJECT_ROOT / folder), quiet=1)


def results_dir() -> Path:
    out = Path(os.environ.get("BENCH_OUT", PROJECT_ROOT / "data" / "bench"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_result(name: str, data: dict) -> Path:
    path = results_dir() / f"{name}.json"
    data = {"generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"), **data}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def load_result(name: str) -> dict | None:
    path = results_dir() / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def machine() -> dict:
    """What a reader needs to compare figures between runs."""
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "cpu_model": _cpu_model(),
            "mem_gib": _mem_gib(), "load_avg": [round(x, 2) for x in os.getloadavg()]}
    info["versions"] = _versions("apache-airflow", "great_expectations", "pandas", "python-calamine",
                                 "openpyxl", "pyinstrument")
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _versions(*names: str) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


class Timer:
    """Wall and CPU seconds of a block (CPU: this process only)."""

    def __enter__(self) -> "Timer":
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def ratio(value: float, floor: float) -> float:
    return value / floor if floor > 0 else float("inf")


# --- temporary project state -------------------------------------------------------------
def private_expectations(work: Path) -> Path:
    """A copy of the GX project, so validation results of the bench never land in the tree."""
    target = work / "expectations"
    shutil.copytree(PROJECT_ROOT / "expectations", target,
                    ignore=shutil.ignore_patterns("uncommitted", "__pycache__"))
    os.environ["REPORT_EXPECTATIONS"] = str(target)
    return target


def synthetic_programme(directory: Path, n_units: int, n_tasks: int = 10, year: int = 2023) -> Path:
    """A valid programme YAML: ``n_units`` units, each responsible for all ``n_tasks`` tasks,
    one indicator per task. Written as ``<directory>/<year>.yaml`` (REPORT_PROGRAMMES_DIR).

    The units form the programme's ``area_group``, so the form's 责任单位 column reads one
    label, as a provincial notice writes "各市、县（区）": listing every unit by name in every
    task's cell would make each unit's file, and so every per-file cost, grow with N."""
    directory.mkdir(parents=True, exist_ok=True)
    units = [{"key": f"unit_{i:05d}", "name": f"测试镇{i:05d}"} for i in range(n_units)]
    keys = [u["key"] for u in units]
    tasks = [{"seq": s, "name": f"测试实事{s}", "summary": f"实施测试实事{s}，完成年度目标。",
              "units": keys,
              "indicators": [{"key": f"ind_{s}", "name": f"测试指标{s}", "target": 100 * s * n_units,
                              "measure": "个", "comparison": "at_least"}]}
             for s in range(1, n_tasks + 1)]
    data = {
        "year": year,
        "notice": {"number": "测试[0]1号", "title": "测试通知", "issuer": "测试机关",
                   "issued_on": f"{year}-01-01"},
        "report": {"title": f"{year}年省级测试报表", "organiser": "测试科"},
        "recipients": {"to": [{"name": "测试科", "email": "test@example.invalid"}]},
        "deadlines": {1: f"{year}-03-31", 2: f"{year}-06-30", 3: f"{year}-09-30", 4: f"{year}-12-31"},
        "area_group": {"label": "各市、县（区）", "units": keys},
        "units": units, "tasks": tasks,
    }
    path = directory / f"{year}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_samples(inbox_root: Path, quarter: str = QUARTER, layout: str = "unit_folders") -> list[Path]:
    """One filled form per unit of the programme REPORT_PROGRAMMES_DIR selects.

    ``layout="unit_folders"``: each unit's file in a folder named after the unit, as the mailbox
    intake saves attachments and as a province's shared folder is kept; ``"loose"``: every file
    directly in the quarter's folder (the worst case for a unit's rescan, see docs/identity.md).
    """
    from wcreport.core.programme import programme_for_year
    from wcreport.core.quarter import Quarter
    from wcreport.demo.sample import write_quarter_samples

    q = Quarter.parse(quarter)
    programme = programme_for_year(q.year)
    files = write_quarter_samples(programme, q, inbox_root)
    if layout == "loose":
        return files
    moved = []
    for unit, path in zip(programme.units, files, strict=True):
        folder = path.parent / unit.name
        folder.mkdir(exist_ok=True)
        moved.append(path.rename(folder / path.name))      # a rename keeps the file's mtime
    return moved


def run_json(code: str, env: dict | None = None, timeout: int = 1800) -> dict:
    """Run Python code in a fresh interpreter of this venv; it prints one JSON line last."""
    proc = subprocess.run([sys.executable, "-c", code], env=env or os.environ.copy(),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
