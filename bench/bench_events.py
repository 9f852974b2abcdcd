"""Event-driven intake: seconds from a unit's file arriving to its answer in the SMTP sink.

Usage: .venv/bin/python bench/bench_events.py [--drops 8] [--mails 6] [--listing-seconds 5]

Starts the topology of ``tests/integration/test_event_intake.py`` (private PostgreSQL,
api-server, scheduler, dag-processor, triggerer, LocalExecutor; a private Dovecot; the
loopback SMTP sink) with ``REPORT_EVENT_INTAKE_SECONDS`` as given (the shipped default is 5),
unpauses ``unit_intake`` and nothing else. Then, one at a time:

* ``--drops``: a new version of one unit's form (blank, so it is rejected and its feedback is
  due) written into the unit's shared folder; latency = file written → feedback mail accepted
  by the sink;
* ``--mails``: a mail with a new version from another unit's address (IMAP APPEND); latency =
  APPEND → receipt accepted by the sink.

Each arrival waits for the previous answer, so the figure is the latency of one arrival on
an idle stack (the hourly poll's is up to 60 minutes). Result: ``save_result("events", ...)``
with median and p95 per channel; the goal is p95 <= 60 s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench.common import as_deployed, machine, median, save_result

GOAL_P95_SECONDS = 60.0


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median_s": round(median(values), 1), "p95_s": round(p95(values), 1),
            "max_s": round(max(values), 1) if values else None, "all_s": [round(v, 1) for v in values]}


def measure(drops: int, mails: int, listing_seconds: int) -> dict:
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
    (inbox / str(quarter)).mkdir(parents=True)
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
                stack.api.unpause("unit_intake")
                ev.wait_for_watchers(stack)
                world = {"inbox": inbox, "quarter": quarter, "programme": programme, "dovecot": dovecot}
                dropped = [_answer_time(lambda n=n: ev.drop(world, ev.DROPPER, f"卫生健康事业中心报表{n}.xlsx",
                                                          ev.blank_form(programme, ev.DROPPER, quarter, f"d{n}")),
                                        lambda: len(ev.feedback_to(sink, ev.addr(ev.DROPPER))), stack)
                           for n in range(drops)]
                mailed = [_answer_time(lambda n=n: ev.mail(world, ev.MAILER, f"教体中心报表{n}.xlsx",
                                                         ev.blank_form(programme, ev.MAILER, quarter, f"m{n}")),
                                       lambda: len(ev.receipts_to(sink, ev.addr(ev.MAILER))), stack)
                          for n in range(mails)]
            finally:
                stack.stop()
    finally:
        dovecot.stop()
        pg.stop()
    return {"listing_seconds": listing_seconds, "drop_to_feedback": summary(dropped),
            "mail_to_receipt": summary(mailed), "goal_p95_s": GOAL_P95_SECONDS}


def _answer_time(arrive, answered, stack, timeout: float = 300.0) -> float:
    before = answered()
    started = time.monotonic()
    arrive()
    while answered() <= before:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"no answer within {timeout:.0f} s\n{stack.log_tail()}")
        time.sleep(0.25)
    seconds = time.monotonic() - started
    print(f"  answered in {seconds:.1f} s", flush=True)
    time.sleep(3)               # let the run finish before the next arrival: one arrival at a time
    return seconds


def markdown(data: dict) -> str:
    rows = [f"| {name} | {d['n']} | {d['median_s']} | {d['p95_s']} | {d['max_s']} |"
            for name, d in (("file dropped → feedback mail", data["drop_to_feedback"]),
                            ("mail → receipt", data["mail_to_receipt"]))]
    return "\n".join([
        f"Event-driven intake, folder listed every {data['listing_seconds']} s (goal: p95 ≤ {data['goal_p95_s']:.0f} s)",
        "", "| arrival → answer | n | median s | p95 s | max s |", "| --- | --- | --- | --- | --- |", *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=8)
    parser.add_argument("--mails", type=int, default=6)
    parser.add_argument("--listing-seconds", type=int, default=5)
    args = parser.parse_args(argv)
    as_deployed()
    os.environ.setdefault("PYTHONPATH", "")
    data = {"machine": machine(), **measure(args.drops, args.mails, args.listing_seconds)}
    print(save_result("events", data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
