"""Under the real scheduler: ``quarterly_report`` vs its no-op twin (benchmark figure 5).

Usage: .venv/bin/python bench/bench_scheduler.py [--units 200] [--runs 1]
       [--ceiling-units 2000] [--ceiling-minutes 30] [--parallelism 2] [--keep]

Production runs the scheduler, not ``airflow dags test``. This benchmark starts the topology
of ``tests/integration/harness.py``: a private PostgreSQL cluster, ``airflow db migrate``, then
scheduler + dag-processor + api-server as child processes, LocalExecutor (every task instance a
real task process), with one temporary dags folder holding copies of ``dags/quarterly_report.py``
and its no-op twin ``bench/noop_dags/quarterly_report_noop.py`` (copied when the run starts, so
their current task lists are measured). Both DAGs share the metadata DB and the stack.

1. **Comparison** (``--units N``, ``--runs R``): a synthetic programme of N units
   (``bench.common.synthetic_programme``, year 2023) with one sample form per unit; R runs of
   each DAG, interleaved real, no-op, real, ...; each real run writes to a fresh output folder
   and mails a loopback SMTP sink. Per run: wall time from the REST trigger to the terminal
   state, the run's own start→end from the API, CPU of the stack's whole process tree
   (services, LocalExecutor workers, task processes, PostgreSQL; psutil), and every task
   instance's duration and queued→start latency from the API.
2. **Ceiling** (``--ceiling-units M``, ``--ceiling-minutes T``): a quarter of M units (year 2024
   of the same programmes folder), each DAG triggered once and given T minutes. A run that
   finishes is *measured*; a run still going at T minutes is stopped (marked failed through the
   API) and the figure is *projected*: finished ``ingest_unit`` instances / minutes since the
   first one started = throughput, x T = projected ceiling.

Task ids other than the mapped ``ingest_unit`` are read from the API (the DAGs' task lists
change). Results: ``save_result("scheduler", ...)``; ``markdown(data)`` renders the docs section.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (
    PROJECT_ROOT,
    as_deployed,
    machine,
    median,
    private_expectations,
    ratio,
    save_result,
    synthetic_programme,
    write_samples,
)

TESTS = PROJECT_ROOT / "tests"
for _path in (TESTS, TESTS / "integration"):     # harness.py imports mailsink from tests/
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from harness import AirflowStack, PostgresServer, postgres_bindir  # noqa: E402

REAL_FILE = PROJECT_ROOT / "dags" / "quarterly_report.py"
NOOP_FILE = PROJECT_ROOT / "bench" / "noop_dags" / "quarterly_report_noop.py"
REAL_DAG, NOOP_DAG = "quarterly_report", "quarterly_report_noop"
MAPPED = "ingest_unit"
COMPARE_QUARTER, CEILING_QUARTER = "2023Q1", "2024Q1"   # one programme year per quarter size
GOAL_RATIO = 1.5
GOAL_CEILING_UNITS = 2000
PAGE = 1000
POLL_S = 2.0


# --- the stack -----------------------------------------------------------------------------
class BenchStack(AirflowStack):
    """``AirflowStack`` over a temporary dags folder, with the scale knobs of a province."""

    def __init__(self, root: Path, *, db_url: str, dags: Path, parallelism: int, max_units: int,
                 extra_env: dict[str, str]) -> None:
        self.parallelism = parallelism
        super().__init__(root, db_url=db_url, env_overrides={
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            # one mapped instance per unit: the default max_map_length (1024) fails a 2,000-unit expand
            "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, 2 * max_units)),
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism),
            "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": "128",
            "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": str(PAGE),
            "GX_ANALYTICS_ENABLED": "false",
            **extra_env,
        })


class TreeCpu:
    """CPU seconds of the stack's process trees (services + their workers and task processes,
    and the PostgreSQL postmaster with its backends).

    Each process counts its own time plus that of its reaped children, so the sum over the
    processes alive at t1 minus the sum over those alive at t0 is the CPU spent in between,
    including task processes that started and ended in between (they are reaped by a worker).
    """

    def __init__(self, stack: AirflowStack, pg: PostgresServer) -> None:
        self.stack, self.pg = stack, pg

    def _roots(self) -> dict[str, int]:
        roots = {name: proc.pid for name, proc in self.stack.processes.items()}
        try:
            roots["postgres"] = int((self.pg.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        return roots

    def snapshot(self) -> dict[str, float] | None:
        try:
            import psutil
        except ImportError:
            return None
        out: dict[str, float] = {}
        for name, pid in self._roots().items():
            total = 0.0
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in procs:
                try:
                    t = proc.cpu_times()
                    total += t.user + t.system + t.children_user + t.children_system
                except psutil.Error:
                    pass
            out[name] = total
        return out

    @staticmethod
    def delta(before: dict | None, after: dict | None) -> dict | None:
        if before is None or after is None:
            return None
        by = {k: round(after.get(k, 0.0) - before.get(k, 0.0), 1) for k in sorted(after)}
        return {"total_s": round(sum(by.values()), 1), "by_service_s": by}


# --- REST helpers --------------------------------------------------------------------------
def task_ids(api, dag_id: str) -> list[str]:
    return [t["task_id"] for t in api.request("GET", f"/api/v2/dags/{dag_id}/tasks")["tasks"]]


def all_task_instances(api, dag_id: str, run_id: str) -> list[dict]:
    out: list[dict] = []
    while True:
        data = api.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                           params={"limit": PAGE, "offset": len(out), "order_by": "id"})
        batch = data["task_instances"]
        out += batch
        if len(batch) < PAGE:
            return out


def active_runs(api) -> list[tuple[str, str]]:
    data = api.request("GET", "/api/v2/dags/~/dagRuns",
                       params=[("state", "queued"), ("state", "running"), ("limit", 100)])
    return [(r["dag_id"], r["dag_run_id"]) for r in data["dag_runs"]]


def wait_idle(api, timeout: float = 600) -> None:
    """No dag run of either DAG is queued or running (runs are measured one at a time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not active_runs(api):
            return
        time.sleep(POLL_S)
    raise TimeoutError(f"runs still active after {timeout}s: {active_runs(api)}")


def _ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _secs(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    return (b - a).total_seconds() if a and b else None


def _q(values: list[float], q: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _r(value, digits: int = 3):
    return None if value is None else round(value, digits)


def summarise_tis(tis: list[dict], cap_at: dt.datetime | None = None) -> dict:
    """Per-task figures of one run: the mapped ingest_unit in aggregate, every other task alone."""
    def latency(t):   # queued -> started: executor pick-up and task process start-up
        return _secs(_ts(t.get("queued_when")), _ts(t.get("start_date")))

    mapped = sorted((t for t in tis if t["task_id"] == MAPPED),
                    key=lambda t: t.get("start_date") or "9999")
    done = [t for t in mapped if t["state"] in ("success", "failed") and t.get("end_date")]
    durations = [t["duration"] for t in done if t.get("duration") is not None]
    k = max(1, min(10, len(durations) // 4))
    starts = [_ts(t["start_date"]) for t in mapped if t.get("start_date")]
    ends = [_ts(t["end_date"]) for t in done]
    first_start = min(starts) if starts else None
    span_end = cap_at if cap_at is not None else (max(ends) if ends else None)
    span = _secs(first_start, span_end)
    ingest = {
        "instances": len(mapped),
        "finished": len(done),
        "states": _count(t["state"] for t in mapped),
        "duration_median_s": _r(median(durations)) if durations else None,
        "duration_p90_s": _r(_q(durations, 0.9)),
        "duration_sum_s": round(sum(durations), 1),
        "first_median_s": _r(median(durations[:k])) if durations else None,
        "last_median_s": _r(median(durations[-k:])) if durations else None,
        "queue_latency_median_s": _r(median(v for v in map(latency, done) if v is not None))
        if done else None,
        "queue_latency_p90_s": _r(_q([latency(t) for t in done], 0.9)),
        "span_s": _r(span, 1),
        "throughput_per_min": _r(len(done) / (span / 60), 2) if span else None,
    }
    others = {}
    for t in sorted((t for t in tis if t["task_id"] != MAPPED), key=lambda t: t.get("start_date") or "9999"):
        others[t["task_id"]] = {"state": t["state"], "duration_s": _r(t.get("duration")),
                                "queue_latency_s": _r(latency(t))}
    return {"ingest_unit": ingest, "other_tasks": others,
            "ingest_durations_s": [_r(t.get("duration")) for t in done] if len(done) <= 500 else None}


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


# --- one run -------------------------------------------------------------------------------
def measure_run(stack: BenchStack, cpu: TreeCpu, dag_id: str, conf: dict,
                cap_s: float | None = None) -> dict:
    """Trigger, poll until terminal (or ``cap_s``), then read the run and its task instances."""
    api = stack.api
    wait_idle(api)
    load0 = os.getloadavg()
    cpu0 = cpu.snapshot()
    started = time.perf_counter()
    run_id = api.trigger(dag_id, conf)
    run: dict = {}
    capped = False
    while True:
        run = api.run(dag_id, run_id)
        if run["state"] in ("success", "failed"):
            break
        if cap_s is not None and time.perf_counter() - started >= cap_s:
            capped = True
            break
        time.sleep(POLL_S)
    wall = time.perf_counter() - started
    cap_at = dt.datetime.now(dt.UTC) if capped else None
    cpu1 = cpu.snapshot()
    tis = all_task_instances(api, dag_id, run_id)
    result = {
        "dag_id": dag_id, "run_id": run_id, "completed": not capped, "state": run["state"],
        "wall_s": round(wall, 1),
        "run_s": _r(_secs(_ts(run.get("start_date")), _ts(run.get("end_date"))), 1),
        "queued_s": _r(_secs(_ts(run.get("queued_at")), _ts(run.get("start_date"))), 1),
        "cpu": TreeCpu.delta(cpu0, cpu1),
        "load_avg": [round(x, 2) for x in load0] + [round(x, 2) for x in os.getloadavg()],
        "task_ids": task_ids(api, dag_id),
        **summarise_tis(tis, cap_at),
    }
    first = [t["start_date"] for t in tis if t["task_id"] == MAPPED and t.get("start_date")]
    result["before_first_ingest_s"] = _r(_secs(_ts(run.get("start_date")), _ts(min(first))), 1) \
        if first and run.get("start_date") else None
    if capped:
        api.request("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})
        wait_idle(api, timeout=300)
        deadline = time.monotonic() + 180          # let the killed task processes go
        while time.monotonic() < deadline and any(
                t["state"] in ("running", "queued", "scheduled")
                for t in all_task_instances(api, dag_id, run_id)):
            time.sleep(POLL_S)
        result["state"] = "stopped at the cap"
    return result


# --- the figures ---------------------------------------------------------------------------
def prepare_quarter(programmes: Path, inbox: Path, units: int, quarter: str) -> None:
    synthetic_programme(programmes, units, year=int(quarter[:4]))
    files = write_samples(inbox, quarter)
    assert len(files) == units, (len(files), units)


def real_conf(quarter: str, inbox: Path, output: Path) -> dict:
    return {"quarter": quarter, "inbox": str(inbox), "output": str(output)}


def real_outcome(output: Path, quarter: str) -> dict | None:
    try:
        manifest = json.loads((output / quarter / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return _count(u["status"] for u in manifest["units"])


def compare(stack, cpu, sink, work: Path, inbox: Path, units: int, runs: int, timeout_s: float) -> dict:
    real, noop = [], []
    for i in range(runs):
        output = work / f"output_compare_{i}"
        mails = sink.count
        r = measure_run(stack, cpu, REAL_DAG, real_conf(COMPARE_QUARTER, inbox, output), timeout_s)
        r["mails"] = sink.count - mails
        r["units_by_status"] = real_outcome(output, COMPARE_QUARTER)
        real.append(r)
        n = measure_run(stack, cpu, NOOP_DAG, {"quarter": COMPARE_QUARTER, "units": units}, timeout_s)
        noop.append(n)
        print(f"  {units} units, run {i + 1}/{runs}: real {r['wall_s']} s ({r['state']}), "
              f"no-op {n['wall_s']} s ({n['state']})", flush=True)
    out = {"units": units, "runs": runs, "quarter": COMPARE_QUARTER, "real": real, "noop": noop}
    ok = all(x["state"] == "success" for x in real + noop)
    rw, nw = median(x["wall_s"] for x in real), median(x["wall_s"] for x in noop)
    out.update({"all_succeeded": ok, "real_wall_s": rw, "noop_wall_s": nw,
                "ratio_wall": round(ratio(rw, nw), 2), "goal": GOAL_RATIO})
    if all(x["cpu"] for x in real + noop):
        rc = median(x["cpu"]["total_s"] for x in real)
        nc = median(x["cpu"]["total_s"] for x in noop)
        out.update({"real_cpu_s": rc, "noop_cpu_s": nc, "ratio_cpu": round(ratio(rc, nc), 2)})
    rd = median(x["ingest_unit"]["duration_median_s"] for x in real)
    nd = median(x["ingest_unit"]["duration_median_s"] for x in noop)
    out.update({"ingest_median_real_s": rd, "ingest_median_noop_s": nd,
                "queue_latency_real_s": median(x["ingest_unit"]["queue_latency_median_s"] for x in real),
                "queue_latency_noop_s": median(x["ingest_unit"]["queue_latency_median_s"] for x in noop),
                "work_per_unit_s": round((rw - nw) / units, 3), "noop_per_unit_s": round(nw / units, 3)})
    return out


def ceiling(stack, cpu, sink, work: Path, inbox: Path, units: int, minutes: float,
            goal_minutes: float, noop_minutes: float | None = None) -> dict:
    cap_s = minutes * 60
    noop_minutes = minutes if noop_minutes is None else noop_minutes
    output = work / "output_ceiling"
    mails = sink.count
    print(f"  ceiling: {units} units, real, capped at {minutes} min", flush=True)
    real = measure_run(stack, cpu, REAL_DAG, real_conf(CEILING_QUARTER, inbox, output), cap_s)
    real["mails"] = sink.count - mails
    real["units_by_status"] = real_outcome(output, CEILING_QUARTER) if real["completed"] else None
    print(f"  ceiling: {units} units, no-op, capped at {noop_minutes} min", flush=True)
    noop = measure_run(stack, cpu, NOOP_DAG, {"quarter": CEILING_QUARTER, "units": units}, noop_minutes * 60)
    out: dict = {"units": units, "minutes": minutes, "noop_minutes": noop_minutes, "goal_minutes": goal_minutes,
                 "quarter": CEILING_QUARTER,
                 "goal_units": GOAL_CEILING_UNITS, "real": real, "noop": noop}
    for name, r in (("real", real), ("noop", noop)):
        ing = r["ingest_unit"]
        tp = ing["throughput_per_min"] or 0.0
        finished = r["completed"] and r["state"] == "success"
        out[name + "_figure"] = {
            "mode": "measured" if finished else "projected",
            "finished_in_time": finished,
            "ingest_finished": ing["finished"],
            "elapsed_min": round(r["wall_s"] / 60, 2),
            "throughput_per_min": tp,
            "seconds_per_instance": _r(60 / tp, 2) if tp else None,
            # throughput x the time budget (--goal-minutes), and the same net of the time the run
            # spent before its first ingest_unit (resolve_run, gather, ...)
            "projected_ceiling_units": int(tp * goal_minutes),
            "projected_ceiling_net_units": int(tp * max(0.0, goal_minutes - (r["before_first_ingest_s"] or 0) / 60)),
        }
    rf, nf = out["real_figure"], out["noop_figure"]
    # the figure: measured when the quarter finished in time (a lower bound: this size fits),
    # else projected from the capped run's throughput
    out["headline"] = ({"ceiling_units": units, "mode": "measured",
                        "meaning": f"{units} units finished end to end within {minutes} min"}
                       if rf["finished_in_time"] else
                       {"ceiling_units": rf["projected_ceiling_units"], "mode": "projected",
                        "meaning": f"throughput of a run stopped after {minutes} min x {goal_minutes} min"})
    out["ceiling_units"], out["ceiling_mode"] = out["headline"]["ceiling_units"], out["headline"]["mode"]
    if rf["seconds_per_instance"] and nf["seconds_per_instance"]:
        out["cause"] = {
            "airflow_s_per_instance": nf["seconds_per_instance"],
            "our_work_s_per_instance": round(rf["seconds_per_instance"] - nf["seconds_per_instance"], 2),
            "ingest_duration_median_real_s": real["ingest_unit"]["duration_median_s"],
            "ingest_duration_median_noop_s": noop["ingest_unit"]["duration_median_s"],
            "queue_latency_median_real_s": real["ingest_unit"]["queue_latency_median_s"],
            "queue_latency_median_noop_s": noop["ingest_unit"]["queue_latency_median_s"],
        }
    return out


# --- docs ----------------------------------------------------------------------------------
def _fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = round(value, digits)
    return f"{value}{unit}"


def summary_rows(data: dict) -> list[str]:
    """Rows for the summary table of docs/benchmarks.md (``| # | figure | ratio | goal | |``)."""
    rows = []
    c = data.get("compare")
    if c:
        verdict = "**met**" if c["ratio_wall"] <= GOAL_RATIO else "**missed**"
        rows.append(f"| 5 | scheduler run, {c['units']} units (trigger → done) / no-op twin | {c['ratio_wall']}× "
                    f"| ≤ {GOAL_RATIO}× | {verdict} |")
    ce = data.get("ceiling")
    if ce:
        f = ce["real_figure"]
        measured = f["mode"] == "measured" and ce["units"] >= GOAL_CEILING_UNITS
        value = ce["units"] if measured else f["projected_ceiling_units"]
        label = "measured" if measured else "projected from throughput"
        verdict = "**met**" if value >= GOAL_CEILING_UNITS else "**missed**"
        rows.append(f"| 5 | units finished in {ce['goal_minutes']} min "
                    f"under the scheduler ({label}) | {value:,} | ≥ {GOAL_CEILING_UNITS:,} | {verdict} |")
    return rows


def ceiling_markdown(data: dict) -> list[str]:
    """The ceiling run's table and verdict (part of ``markdown``; also the full-length run's section)."""
    lines: list[str] = []
    s = data.get("stack") or {}
    ce = data.get("ceiling")
    if ce:
        rf, nf = ce["real_figure"], ce["noop_figure"]
        lines += [
            f"Ceiling probe: a {ce['units']:,}-unit quarter, "
            + (f"each DAG given {ce['minutes']} min."
               if ce.get("noop_minutes", ce["minutes"]) == ce["minutes"] else
               f"the real DAG given {ce['minutes']} min, the no-op twin {ce['noop_minutes']} min (its throughput).")
            ,
            "",
            "| DAG | finished in time | `ingest_unit` done | minutes | throughput (instances/min) | s per instance "
            f"| projected in {ce['goal_minutes']} min | `ingest_unit` median | queued → start |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        goal_min = ce["goal_minutes"]
        for name, f, r in (("real", rf, ce["real"]), ("no-op", nf, ce["noop"])):
            proj = int(f["throughput_per_min"] * goal_min)
            lines.append(
                f"| {name} | {'yes (measured)' if f['finished_in_time'] else 'no (projected)'} | "
                f"{f['ingest_finished']:,} / {ce['units']:,} | {f['elapsed_min']} | {f['throughput_per_min']} | "
                f"{_fmt(f['seconds_per_instance'], '', 2)} | {proj:,} | "
                f"{_fmt(r['ingest_unit']['duration_median_s'], ' s', 2)} | "
                f"{_fmt(r['ingest_unit']['queue_latency_median_s'], ' s', 2)} |")
        real_proj = int(rf["throughput_per_min"] * goal_min)
        if rf["finished_in_time"]:
            head = (f"The {ce['units']:,}-unit quarter **finished end to end in {rf['elapsed_min']} min** "
                    f"(measured to completion)")
            reached = ce["units"] if ce["units"] >= GOAL_CEILING_UNITS else real_proj
            if ce["units"] < GOAL_CEILING_UNITS:
                head += (f"; a quarter that small does not show the ceiling, so it is projected from its "
                         f"throughput: **{real_proj:,} units in {goal_min} min**")
        else:
            reached = real_proj
            head = (f"The {ce['units']:,}-unit quarter did not finish within {ce['minutes']} min "
                    f"({rf['ingest_finished']:,} `ingest_unit` instances done); at its throughput the "
                    f"**projected ceiling is {real_proj:,} units in {goal_min} min** (projected from a "
                    f"time-capped run, not measured; the run spent {_fmt(ce['real']['before_first_ingest_s'])} s "
                    f"before its first `ingest_unit`, {rf['projected_ceiling_net_units']:,} units net of that)")
        verdict = "meets" if reached >= GOAL_CEILING_UNITS else "misses"
        lines.append("")
        lines.append(f"{head}, which {verdict} the ≥ {GOAL_CEILING_UNITS:,}-unit goal.")
        cause = ce.get("cause")
        if cause:
            airflow, ours = cause["airflow_s_per_instance"], cause["our_work_s_per_instance"]
            share = ours / (airflow + ours) if airflow + ours > 0 else 0.0
            lines.append(
                f"Per mapped instance the no-op twin needs {airflow} s of wall time at parallelism "
                f"{s.get('parallelism')} (Airflow's own cost: scheduling, a task process per instance, "
                + (f"execution-API calls, XCom) and the real DAG {ours} s more (our work, {share:.0%} of the "
                   "total)" if ours > 0 else
                   f"execution-API calls, XCom) and the real DAG {abs(ours)} s less, within the runs' noise")
                + f"; inside the task the median is {_fmt(cause['ingest_duration_median_real_s'], ' s', 2)} "
                f"real vs {_fmt(cause['ingest_duration_median_noop_s'], ' s', 2)} no-op, and an instance waits "
                f"{_fmt(cause['queue_latency_median_real_s'], ' s', 2)} / "
                f"{_fmt(cause['queue_latency_median_noop_s'], ' s', 2)} from queued to started. "
                + ((f"Airflow's per-instance cost is the larger part: a no-op quarter reaches "
                    f"{int(nf['throughput_per_min'] * goal_min):,} units in {goal_min} min on this machine.")
                   if airflow >= ours else
                   "Our work per instance is the larger part."))
        lines.append("")
    return lines


def markdown(data: dict) -> str:
    """The docs section "## 5. Under the real scheduler" from ``load_result("scheduler")``."""
    m = data.get("machine") or {}
    s = data.get("stack") or {}
    lines = [
        "## 5. Under the real scheduler",
        "",
        f"`bench/bench_scheduler.py` (`make bench-scheduler`): the topology of `tests/integration/harness.py` "
        f"on this machine ({m.get('cpu_model', '?')} × {m.get('cpus', '?')} CPUs, {m.get('mem_gib', '?')} GiB): "
        f"a private PostgreSQL cluster, `airflow db migrate`, "
        f"scheduler + dag-processor + api-server as child processes, **{s.get('executor', 'LocalExecutor')}** "
        f"(one task process per instance), `parallelism` = `max_active_tasks_per_dag` = **{s.get('parallelism')}**, "
        f"`max_map_length` {s.get('max_map_length')} (cluster, migration and services up in "
        f"{_fmt(s.get('start_s'))} s, not counted). `quarterly_report` and its no-op twin share the stack, "
        "runs are triggered through the REST API one at a time (real and no-op interleaved), each real run "
        "into a fresh output folder with a loopback SMTP sink. Wall time from the trigger to the terminal "
        "state as the API reports it (polled every 2 s); CPU of the stack's whole process tree (services, "
        "executor workers, task processes, PostgreSQL); task figures from the API's task instances.",
        "",
    ]
    c = data.get("compare")
    if c:
        lines += [
            "| units | runs | DAG | trigger → done | run start → end | CPU (stack) | `ingest_unit` median | "
            "p90 | queued → start (median) | other tasks (s) | mails | unit statuses |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
        ]
        for name, runs in (("real", c["real"]), ("no-op", c["noop"])):
            r = runs[len(runs) // 2]
            ing = r["ingest_unit"]
            others = ", ".join(f"{k} {_fmt(v['duration_s'])}" for k, v in r["other_tasks"].items())
            lines.append(
                f"| {c['units']} | {c['runs']} | {name} | {_fmt(median(x['wall_s'] for x in runs))} s | "
                f"{_fmt(r['run_s'])} s | {_fmt((r.get('cpu') or {}).get('total_s'))} s | "
                f"{_fmt(ing['duration_median_s'], ' s', 2)} | {_fmt(ing['duration_p90_s'], ' s', 2)} | "
                f"{_fmt(ing['queue_latency_median_s'], ' s', 2)} | {others} | {r.get('mails', '–')} | "
                f"{r.get('units_by_status') or '–'} |")
        verdict = "meets" if c["ratio_wall"] <= GOAL_RATIO else "misses"
        cpu_part = f" (CPU {c['ratio_cpu']}×)" if "ratio_cpu" in c else ""
        lines += [
            "",
            f"**{c['units']} units: real / no-op = {c['ratio_wall']}×{cpu_part}**, which {verdict} the ≤ "
            f"{GOAL_RATIO}× goal. Per unit that is {c['work_per_unit_s']} s of our work on top of "
            f"{c['noop_per_unit_s']} s of Airflow's own cost (scheduling, task process start-up, "
            f"execution-API calls); one `ingest_unit` takes {_fmt(c['ingest_median_real_s'], ' s', 2)} "
            f"against {_fmt(c['ingest_median_noop_s'], ' s', 2)} for the no-op instance"
            + ("" if c.get("all_succeeded") else "; **not every run succeeded** (see `data/bench/scheduler.json`)")
            + ".",
            "",
        ]
    lines += ceiling_markdown(data)
    notes = data.get("notes")
    if notes:
        lines += [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200, help="units of the comparison quarter (0: skip)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each DAG in the comparison")
    parser.add_argument("--ceiling-units", type=int, default=2000, help="units of the ceiling quarter (0: skip)")
    parser.add_argument("--ceiling-minutes", type=float, default=30.0, help="time limit of each ceiling run")
    parser.add_argument("--ceiling-noop-minutes", type=float, default=None,
                        help="time limit of the no-op twin's ceiling run (default: --ceiling-minutes)")
    parser.add_argument("--goal-minutes", type=float, default=30.0,
                        help="the ceiling's time budget the throughput is projected onto")
    parser.add_argument("--parallelism", type=int, default=4,
                        help="[core] parallelism = max_active_tasks_per_dag (4: best of 2/4/8 on 2 cores)")
    parser.add_argument("--run-timeout-minutes", type=float, default=120.0,
                        help="give up on a comparison run after this long")
    parser.add_argument("--note", action="append", default=[],
                        help="a sentence for the docs section (e.g. a parallelism probe's outcome)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--result-name", default="scheduler",
                        help="results file (scheduler_ceiling: the full-length ceiling run of make bench-ceiling)")
    args = parser.parse_args()
    as_deployed()
    if postgres_bindir() is None:
        print("PostgreSQL is not installed (tools/install_system_packages.sh)", file=sys.stderr)
        return 2
    from bench.bench_e2e import Sink

    work = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    data: dict = {"machine": machine(), "args": vars(args), "notes": list(args.note)}
    pg = stack = None
    try:
        private_expectations(work)
        programmes, inbox = work / "programmes", work / "inbox"
        os.environ["REPORT_PROGRAMMES_DIR"] = str(programmes)
        t0 = time.perf_counter()
        if args.units:
            prepare_quarter(programmes, inbox, args.units, COMPARE_QUARTER)
        if args.ceiling_units:
            prepare_quarter(programmes, inbox, args.ceiling_units, CEILING_QUARTER)
        data["samples_s"] = round(time.perf_counter() - t0, 1)
        print(f"  sample quarters written ({data['samples_s']} s)", flush=True)
        dags = work / "dags"
        dags.mkdir()
        shutil.copy(REAL_FILE, dags / REAL_FILE.name)
        shutil.copy(NOOP_FILE, dags / NOOP_FILE.name)
        with Sink() as sink:
            t0 = time.perf_counter()
            pg = PostgresServer().start()
            stack = BenchStack(work / "stack", db_url=pg.url, dags=dags, parallelism=args.parallelism,
                               max_units=max(args.units, args.ceiling_units), extra_env={
                                   "AIRFLOW_CONN_SMTP_DEFAULT": sink.conn(),
                                   "REPORT_PROGRAMMES_DIR": str(programmes),
                                   "REPORT_EXPECTATIONS": os.environ["REPORT_EXPECTATIONS"],
                                   "REPORT_OPS_EMAIL": "ops@example.org"})
            stack.start()
            for dag_id in (REAL_DAG, NOOP_DAG):
                stack.api.wait_dag(dag_id)
                stack.api.unpause(dag_id)
            env = stack.env()
            data["stack"] = {"start_s": round(time.perf_counter() - t0, 1),
                             "executor": env["AIRFLOW__CORE__EXECUTOR"], "parallelism": args.parallelism,
                             "max_active_tasks_per_dag": int(env["AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG"]),
                             "max_map_length": int(env["AIRFLOW__CORE__MAX_MAP_LENGTH"]),
                             "database": "PostgreSQL (private cluster)",
                             "task_ids": {d: task_ids(stack.api, d) for d in (REAL_DAG, NOOP_DAG)}}
            print(f"  stack up ({data['stack']['start_s']} s): {data['stack']['task_ids']}", flush=True)
            cpu = TreeCpu(stack, pg)
            if args.units:
                data["compare"] = compare(stack, cpu, sink, work, inbox, args.units, args.runs,
                                          args.run_timeout_minutes * 60)
                save_result(args.result_name, data)
            if args.ceiling_units:
                data["ceiling"] = ceiling(stack, cpu, sink, work, inbox, args.ceiling_units,
                                          args.ceiling_minutes, args.goal_minutes, args.ceiling_noop_minutes)
                save_result(args.result_name, data)
    finally:
        if stack is not None:
            if args.keep:
                print(stack.log_tail(10))
            stack.stop()
        if pg is not None:
            pg.stop()
        if args.keep:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    path = save_result(args.result_name, data)
    print(f"  wrote {path}")
    print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
