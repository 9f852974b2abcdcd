"""End to end: ``airflow dags test quarterly_report`` vs its no-op twin (benchmark figure 3).

Usage: .venv/bin/python bench/bench_e2e.py [--cases 15:3,200:3] [--warmup 1]

``N:R`` = a quarter of N units, R runs of each DAG (interleaved real, no-op, real, ...), after
``--warmup`` pairs that are not counted: the first ``dags test`` of a case may read the DAG
file and Airflow's and GX's modules from a cold page cache (their results are kept apart in
the JSON as ``warmup``).
N = 15 is the real 2023 programme with ``wcreport.demo.sample`` files; any other N is a
synthetic programme (``bench.common.synthetic_programme``: N units x 10 tasks) in a
temporary REPORT_PROGRAMMES_DIR. The floor is ``bench/noop_dags/quarterly_report_noop.py``:
same tasks, same mapped instances, no work, run from its own temporary dags folder
against the same SQLite metadata DB. Each real run gets a fresh output folder (a rerun
over an unchanged inbox would be a no-op) and mails a loopback aiosmtpd sink.

Per run: wall seconds and CPU seconds of the process tree (RUSAGE_CHILDREN), and from
the metadata DB the duration of every task instance (ingest_unit first/last instances
show whether per-unit cost grows during the run).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (
    PROJECT_ROOT,
    QUARTER,
    VENV_BIN,
    as_deployed,
    machine,
    median,
    private_expectations,
    ratio,
    save_result,
    synthetic_programme,
    write_samples,
)

NOOP_FILE = PROJECT_ROOT / "bench" / "noop_dags" / "quarterly_report_noop.py"
REAL_FILE = PROJECT_ROOT / "dags" / "quarterly_report.py"


class Sink:
    """A loopback SMTP server that accepts and counts messages."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.count = 0
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
        self.count += 1
        return "250 OK"

    def __enter__(self) -> "Sink":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    def conn(self) -> str:
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"disable_ssl": True, "disable_tls": True,
                                     "from_email": "bench@localhost"}})


def airflow_env(home: Path, dags: Path, n_units: int, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        # Province scale: one mapped instance per unit. The default max_map_length (1024)
        # would fail a 2,000-unit expand; parallelism/pool bound concurrent instances.
        "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, 2 * n_units)),
        "AIRFLOW__CORE__PARALLELISM": "32",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "32",
        "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": "128",
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "GX_ANALYTICS_ENABLED": "false",
    })
    env.update(extra)
    return env


def run_dags_test(env: dict, dag_id: str, conf: dict, log: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run([str(VENV_BIN / "airflow"), "dags", "test", dag_id, "--conf", json.dumps(conf)],
                              env=env, stdout=out, stderr=subprocess.STDOUT, timeout=3600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow dags test {dag_id} failed; log: {log}\n"
                           + log.read_text(encoding="utf-8", errors="replace")[-3000:])
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def task_durations(home: Path, dag_id: str) -> dict:
    """Durations of the latest run's task instances (seconds), from the SQLite metadata DB."""
    with sqlite3.connect(home / "airflow.db") as db:
        run_id = db.execute("SELECT run_id FROM dag_run WHERE dag_id=? ORDER BY id DESC LIMIT 1",
                            (dag_id,)).fetchone()[0]
        rows = db.execute("SELECT task_id, map_index, duration, state FROM task_instance "
                          "WHERE dag_id=? AND run_id=? ORDER BY start_date", (dag_id, run_id)).fetchall()
    ingest = [r[2] or 0.0 for r in rows if r[0] == "ingest_unit"]     # in execution order
    states = sorted({r[3] for r in rows})
    k = max(1, min(10, len(ingest) // 4))
    return {
        "states": states,
        "instances": len(rows),
        "ingest_unit_sum_s": round(sum(ingest), 2),
        "ingest_unit_median_s": round(median(ingest), 3),
        "ingest_first_median_s": round(median(ingest[:k]), 3),
        "ingest_last_median_s": round(median(ingest[-k:]), 3),
        "other_tasks_s": {r[0]: round(r[2] or 0.0, 2) for r in rows if r[0] != "ingest_unit"},
    }


def run_case(work: Path, home: Path, n_units: int, repeat: int, sink: Sink, warmup: int = 1) -> dict:
    case = work / f"case_{n_units}"
    programmes = case / "programmes"
    if n_units == 15:
        programmes.mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "include" / "programmes" / "2023.yaml", programmes / "2023.yaml")
    else:
        synthetic_programme(programmes, n_units)
    os.environ["REPORT_PROGRAMMES_DIR"] = str(programmes)
    inbox = case / "inbox"
    files = write_samples(inbox)
    assert len(files) == n_units, (len(files), n_units)
    real_dags, noop_dags = case / "dags_real", case / "dags_noop"
    real_dags.mkdir()
    noop_dags.mkdir()
    shutil.copy(REAL_FILE, real_dags / REAL_FILE.name)
    shutil.copy(NOOP_FILE, noop_dags / NOOP_FILE.name)
    extra = {"REPORT_PROGRAMMES_DIR": str(programmes), "AIRFLOW_CONN_SMTP_DEFAULT": sink.conn(),
             "REPORT_EXPECTATIONS": os.environ["REPORT_EXPECTATIONS"]}
    real_env = airflow_env(home, real_dags, n_units, extra)
    noop_env = airflow_env(home, noop_dags, n_units, extra)
    real, noop = [], []
    for i in range(warmup + repeat):
        output = case / f"output_{i}"
        mails = sink.count
        r = run_dags_test(real_env, "quarterly_report",
                          {"quarter": QUARTER, "inbox": str(inbox), "output": str(output)},
                          case / f"real_{i}.log")
        r.update(task_durations(home, "quarterly_report"))
        r["mails"] = sink.count - mails
        manifest = json.loads((output / QUARTER / "manifest.json").read_text(encoding="utf-8"))
        r["units_by_status"] = _count(u["status"] for u in manifest["units"])
        real.append(r)
        n = run_dags_test(noop_env, "quarterly_report_noop", {"quarter": QUARTER, "units": n_units},
                          case / f"noop_{i}.log")
        n.update(task_durations(home, "quarterly_report_noop"))
        noop.append(n)
        label = f"warm-up {i + 1}/{warmup}" if i < warmup else f"run {i + 1 - warmup}/{repeat}"
        print(f"  {n_units} units, {label}: real {r['wall_s']} s, no-op {n['wall_s']} s", flush=True)
    warmups = {"real": real[:warmup], "noop": noop[:warmup]}
    real, noop = real[warmup:], noop[warmup:]
    real_wall, noop_wall = median(r["wall_s"] for r in real), median(n["wall_s"] for n in noop)
    real_cpu, noop_cpu = median(r["cpu_s"] for r in real), median(n["cpu_s"] for n in noop)
    return {"units": n_units, "repeat": repeat, "warmup": warmups, "real": real, "noop": noop,
            "real_wall_s": real_wall, "noop_wall_s": noop_wall, "ratio_wall": round(ratio(real_wall, noop_wall), 2),
            "real_cpu_s": real_cpu, "noop_cpu_s": noop_cpu, "ratio_cpu": round(ratio(real_cpu, noop_cpu), 2),
            "work_per_unit_s": round((real_wall - noop_wall) / n_units, 3),
            "noop_per_unit_s": round(noop_wall / n_units, 3)}


GX_IMPORT_PROBE = r"""
import json, time
import airflow.sdk, airflow.models            # what the `airflow dags test` process already has
started = time.perf_counter()
import great_expectations                     # noqa: F401
print(json.dumps({"s": time.perf_counter() - started}))
"""


def gx_import_seconds(env: dict, repeat: int = 3) -> float:
    """Wall time of ``import great_expectations`` in a process that already has Airflow loaded:
    what ``validate_quarter`` pays before it validates anything (GX's own code), median."""
    samples = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", GX_IMPORT_PROBE], env=env, capture_output=True, text=True,
                              timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        samples.append(json.loads(proc.stdout.strip().splitlines()[-1])["s"])
    return round(median(samples), 2)


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="15:3,200:3")
    parser.add_argument("--warmup", type=int, default=1, help="pairs run first and not counted")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    as_deployed()
    cases = [tuple(int(x) for x in c.split(":")) for c in args.cases.split(",") if c]
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        private_expectations(work)
        home = work / "airflow_home"
        home.mkdir()
        env = airflow_env(home, work, 15, {})
        started = time.perf_counter()
        proc = subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, capture_output=True,
                              text=True, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
        migrate_s = time.perf_counter() - started
        print(f"  db migrate {migrate_s:.1f} s", flush=True)
        results = []
        with Sink() as sink:
            for n_units, repeat in cases:
                results.append(run_case(work, home, n_units, repeat, sink, args.warmup))
                save_result("e2e", {"machine": machine(), "db_migrate_s": round(migrate_s, 1),
                                    "cases": results})
        gx_import_s = gx_import_seconds(env)
        for c in results:
            c["gx_import_s"] = gx_import_s
            c["ratio_wall_without_gx_import"] = round(ratio(c["real_wall_s"] - gx_import_s, c["noop_wall_s"]), 2)
        save_result("e2e", {"machine": machine(), "db_migrate_s": round(migrate_s, 1), "cases": results})
    finally:
        if args.keep:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for c in results:
        print(f"e2e {c['units']} units: real {c['real_wall_s']} s / no-op {c['noop_wall_s']} s "
              f"= {c['ratio_wall']}x (CPU {c['ratio_cpu']}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
