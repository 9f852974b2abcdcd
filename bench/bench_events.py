"""Event-driven intake: seconds from a unit's file arriving to its answer in the SMTP sink.

Usage: .venv/bin/python bench/bench_events.py [--drops 20] [--mails 20] [--listing-seconds 5]
                                                 [--idle-minutes 10]

Starts the topology of ``tests/integration/test_event_intake.py`` (private PostgreSQL,
api-server, scheduler, dag-processor, triggerer, LocalExecutor; a private Dovecot; the
loopback SMTP sink) with ``REPORT_EVENT_INTAKE_SECONDS`` as given (the shipped default is 5),
unpauses ``unit_intake`` and nothing else. Before the stack starts, every unit of the programme
has its filled form in its own folder of the quarter (``wcreport.demo.sample``), so each check
runs with the quarter's other units present. Then, drops and mails taking turns, one at a time:

* ``--drops``: a new version of one unit's form (blank, so it is rejected and its feedback is
  due) written into the unit's shared folder; latency = file written → feedback mail accepted
  by the sink;
* ``--mails``: a mail with a new version from another unit's address (IMAP APPEND); latency =
  APPEND → receipt accepted by the sink.

Each arrival waits for the previous answer, so the figure is the latency of one arrival on
an otherwise quiet stack (the hourly poll's is up to 60 minutes); the arrivals spread over
several minutes. Then, once ``unit_intake`` has no run left, ``--idle-minutes`` with nothing
arriving: the CPU seconds of the triggerer's process tree (and of the other services, for
comparison) over that time, as a percentage of one core, against the same figure over
``--baseline-minutes`` measured before ``unit_intake`` was unpaused (the triggerer running no
watcher): the difference is what the watchers cost when nothing arrives. Result: ``save_result("events", ...)``
with median and p95 per channel; the goals are p95 <= 60 s and no idle load worth naming.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench.common import as_deployed, machine, median, save_result

GOAL_P95_SECONDS = 60.0
WATCHERS_IDLE_GOAL_PCT = 1.0     # % of one core the watchers may add when nothing arrives
CHANNELS = (("drop_to_feedback", "file dropped → feedback mail"), ("mail_to_receipt", "mail → receipt"))


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median_s": round(median(values), 1), "p95_s": round(p95(values), 1),
            "max_s": round(max(values), 1) if values else None, "all_s": [round(v, 1) for v in values]}


def measure(drops: int, mails: int, listing_seconds: int, idle_minutes: float, baseline_minutes: float) -> dict:
    import test_event_intake as ev
    from harness import AirflowStack, PostgresServer
    from wcreport_testing import chinese_mail as cm
    from wcreport_testing.dovecot import Dovecot

    from mailsink import MailSink
    from wcreport.core.programme import load_programme
    from wcreport.intake.mailbox import submission_quarter

    root = Path(tempfile.mkdtemp(prefix="wcreport-bench-events-"))
    programme_file = ev.programme_for_this_year(root / "programmes")
    programme = load_programme(programme_file)
    quarter = submission_quarter(ev.today(), lambda q: programme.deadline(q.number) if q.year == programme.year
                                 else q.end)
    inbox, output = root / "inbox", root / "output"
    present = quarter_present(programme, quarter, inbox)
    pg, dovecot = PostgresServer().start(), Dovecot().start()
    try:
        with MailSink() as sink:
            stack = AirflowStack(root / "stack", db_url=pg.url, env_overrides={
                "AIRFLOW_CONN_SMTP_DEFAULT": sink.airflow_conn_uri("wcreport@localhost"),
                "AIRFLOW_CONN_IMAP_DEFAULT": dovecot.airflow_conn_uri(authserv_id=cm.OUR_AUTHSERV_ID),
                "REPORT_INBOX": str(inbox), "REPORT_OUTPUT": str(output),
                "REPORT_PROGRAMMES_DIR": str(programme_file.parent),
                "REPORT_EVENT_INTAKE_SECONDS": str(listing_seconds),
            }, extra_services={"triggerer": ["triggerer"]})
            try:
                stack.start()
                stack.api.wait_dag("unit_intake")
                baseline = idle_cpu(stack, lambda: True, baseline_minutes, "no watcher yet")
                stack.api.unpause("unit_intake")
                ev.wait_for_watchers(stack)
                startup = catch_up(stack, lambda: ev.idle(stack.api, "unit_intake"))
                world = {"inbox": inbox, "quarter": quarter, "programme": programme, "dovecot": dovecot}

                def dropped(n: int) -> Arrival:
                    return Arrival(
                        lambda: ev.drop(world, ev.DROPPER, f"卫生健康事业中心报表{n}.xlsx",
                                        ev.blank_form(programme, ev.DROPPER, quarter, f"d{n}")),
                        lambda: len(ev.feedback_to(sink, ev.addr(ev.DROPPER))))

                def mailed(n: int) -> Arrival:
                    return Arrival(
                        lambda: ev.mail(world, ev.MAILER, f"教体中心报表{n}.xlsx",
                                        ev.blank_form(programme, ev.MAILER, quarter, f"m{n}")),
                        lambda: len(ev.receipts_to(sink, ev.addr(ev.MAILER))))

                started = time.monotonic()
                latencies = arrivals(stack, [dropped(n) for n in range(drops)], [mailed(n) for n in range(mails)])
                spread_s = time.monotonic() - started
                idle = idle_cpu(stack, lambda: ev.idle(stack.api, "unit_intake"), idle_minutes, "watchers running")
            finally:
                stack.stop()
    finally:
        dovecot.stop()
        pg.stop()
    return {"listing_seconds": listing_seconds, "units_present": present, "startup_check": startup, "arrivals_spread_s": round(spread_s),
            **{key: summary(latencies[key]) for key, _ in CHANNELS}, "goal_p95_s": GOAL_P95_SECONDS,
            "idle": idle, "idle_baseline": baseline}


def quarter_present(programme, quarter, inbox: Path) -> int:
    """Every unit's filled form in its own folder of the quarter before the stack starts.

    The samples' received times are an hour apart before the quarter's end, which lies ahead
    while the quarter is open: they are moved to the hours before now, or every later arrival
    would be older than its unit's sample and superseded by it (no feedback would be due)."""
    from wcreport.demo.sample import write_quarter_samples

    files = write_quarter_samples(programme, quarter, inbox)
    now = time.time()
    for index, (unit, path) in enumerate(zip(programme.units, files, strict=True)):
        folder = path.parent / unit.name
        folder.mkdir(exist_ok=True)
        moved = path.rename(folder / path.name)
        received = now - 3600 * (index + 1)
        os.utime(moved, (received, received))
    return len(files)


def catch_up(stack, idle: Callable[[], bool], appear_within: float = 90.0) -> dict:
    """The watchers announce the files they find at their start: the quarter's forms get one
    check before the first arrival is timed (its run, when there is one, is waited for)."""
    started = time.monotonic()
    while _run_count(stack) == 0 and time.monotonic() - started < appear_within:
        time.sleep(1)
    for _ in range(2):                            # twice: a run the last listing started meanwhile
        while _run_count(stack) and not idle():
            if time.monotonic() - started > 600:
                raise TimeoutError(f"the start-up check did not finish within 10 min\n{stack.log_tail()}")
            time.sleep(2)
        time.sleep(10)
    runs = _run_count(stack)
    seconds = round(time.monotonic() - started, 1)
    print(f"start-up check of the present forms: {runs} run(s), {seconds} s", flush=True)
    return {"runs": runs, "seconds": seconds}


@dataclass(frozen=True)
class Arrival:
    arrive: Callable[[], object]
    answered: Callable[[], int]                   # answers counted so far for this channel


def arrivals(stack, drops: list[Arrival], mails: list[Arrival]) -> dict[str, list[float]]:
    """Drops and mails taking turns, so both channels spread over the same minutes."""
    out: dict[str, list[float]] = {key: [] for key, _ in CHANNELS}
    for n in range(max(len(drops), len(mails))):
        for (key, label), queue in zip(CHANNELS, (drops, mails), strict=True):
            if n < len(queue):
                seconds = _answer_time(queue[n].arrive, queue[n].answered, stack)
                print(f"  {label} {n + 1}/{len(queue)}: {seconds:.1f} s", flush=True)
                out[key].append(seconds)
    return out


def _answer_time(arrive, answered, stack, timeout: float = 300.0) -> float:
    before = answered()
    started = time.monotonic()
    arrive()
    while answered() <= before:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"no answer within {timeout:.0f} s\n{stack.log_tail()}")
        time.sleep(0.25)
    seconds = time.monotonic() - started
    time.sleep(3)               # let the run finish before the next arrival: one arrival at a time
    return seconds


IDLE_SERVICES = ("triggerer", "scheduler", "dag-processor", "api-server")


def service_cpu(stack) -> dict[str, float]:
    """CPU seconds (user + system, reaped children included) of each service's process tree."""
    import psutil

    out: dict[str, float] = {}
    for name, proc in stack.processes.items():
        try:
            root = psutil.Process(proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        out[name] = total
    return out


def idle_cpu(stack, quiet: Callable[[], bool], minutes: float, what: str) -> dict:
    """CPU of each service over ``minutes`` with nothing arriving, once ``quiet()`` holds."""
    deadline = time.monotonic() + 300
    while not quiet():
        if time.monotonic() > deadline:
            raise TimeoutError(f"unit_intake still running 5 min after the last answer\n{stack.log_tail()}")
        time.sleep(2)
    runs_before = _run_count(stack)
    print(f"idle phase ({what}): {minutes:g} min with nothing arriving", flush=True)
    cpu0, wall0 = service_cpu(stack), time.monotonic()
    time.sleep(minutes * 60)
    cpu1, wall = service_cpu(stack), time.monotonic() - wall0
    seconds = {name: round(cpu1[name] - cpu0.get(name, 0.0), 2) for name in cpu1}
    return {"minutes": round(wall / 60, 2), "cpu_s": seconds,
            "cpu_pct_of_one_core": {name: round(100 * s / wall, 2) for name, s in seconds.items()},
            "unit_intake_runs_during": _run_count(stack) - runs_before,
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]}


def watchers_idle_pct(data: dict) -> float | None:
    """What the watchers add to the triggerer's idle CPU, % of one core (the whole figure when
    the result has no baseline)."""
    idle, baseline = data.get("idle"), data.get("idle_baseline")
    if not idle or "triggerer" not in idle["cpu_pct_of_one_core"]:
        return None
    base = (baseline or {}).get("cpu_pct_of_one_core", {}).get("triggerer", 0.0)
    return round(idle["cpu_pct_of_one_core"]["triggerer"] - base, 2)


def idle_markdown(idle: dict, baseline: dict | None) -> str:
    pct = idle["cpu_pct_of_one_core"]
    others = ", ".join(f"{name} {pct[name]}%" for name in IDLE_SERVICES[1:] if name in pct)
    text = (f"Idle, {idle['minutes']} min with nothing arriving ({idle['unit_intake_runs_during']} `unit_intake` "
            f"runs meanwhile): the triggerer used **{idle['cpu_s'].get('triggerer')} CPU-s, {pct.get('triggerer')}% "
            f"of one core**")
    if baseline and "triggerer" in baseline["cpu_pct_of_one_core"]:
        base = baseline["cpu_pct_of_one_core"]["triggerer"]
        text += (f", against {base}% in the {baseline['minutes']} min before `unit_intake` was unpaused (no "
                 f"watcher running): the watchers add **{round(pct['triggerer'] - base, 2)}% of one core** "
                 f"(goal ≤ {WATCHERS_IDLE_GOAL_PCT:g}%)")
    load = f" Load average of the shared machine at its end: {idle['load_avg_at_end']}." if "load_avg_at_end" in idle else ""
    return text + f". For comparison, over the same idle minutes: {others}.{load}"


def _run_count(stack) -> int:
    return stack.api.request("GET", "/api/v2/dags/unit_intake/dagRuns", params={"limit": 1})["total_entries"]


def markdown(data: dict) -> str:
    goal = data["goal_p95_s"]
    rows = [f"| {label} | {d['n']} | {d['median_s']} | {d['p95_s']} | {d['max_s']} | ≤ {goal:.0f} s | "
            f"{'**met**' if d['p95_s'] <= goal else '**missed**'} |"
            for key, label in CHANNELS if (d := data.get(key))]
    startup = data.get("startup_check") or {}
    lines = [f"Folder listed every {data['listing_seconds']} s; {data.get('units_present', '?')} units' filled forms "
             f"in their folders of the quarter before the stack started (the watchers announced them at their start: "
             f"{startup.get('runs', '?')} `unit_intake` run(s), done {startup.get('seconds', '?')} s after the watchers "
             f"were registered, before the first arrival); arrivals one at a time, drops and mails taking turns, over "
             f"{data.get('arrivals_spread_s', '?')} s.",
             "", "| arrival → answer | n | median s | p95 s | max s | goal (p95) | verdict |",
             "|---|---:|---:|---:|---:|---:|---|", *rows]
    if (idle := data.get("idle")):
        lines += ["", idle_markdown(idle, data.get("idle_baseline"))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--mails", type=int, default=20)
    parser.add_argument("--listing-seconds", type=int, default=5)
    parser.add_argument("--idle-minutes", type=float, default=10.0)
    parser.add_argument("--baseline-minutes", type=float, default=3.0,
                        help="idle minutes measured before unit_intake is unpaused (no watcher running)")
    args = parser.parse_args(argv)
    as_deployed()
    os.environ.setdefault("PYTHONPATH", "")
    data = {"machine": machine(), **measure(args.drops, args.mails, args.listing_seconds, args.idle_minutes,
                                                   args.baseline_minutes)}
    data["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(save_result("events", data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
