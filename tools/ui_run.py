"""Helpers of tools/ui.sh (make ui): the demo's faulty files, and the REST steps after start-up.

``faulty``  adds the sample generator's faulty files to the quarter's inbox (one unit's
            empty form, so that unit is rejected; an unknown sender; a lock file; a note).
``prepare`` waits for the services, unpauses the DAGs, prints the banner, runs the demo
            quarter through the scheduler once (a real run with task logs) and reports it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

import httpx

REPORT_DAG = "quarterly_report"
UNPAUSED = ("quarterly_report", "quarterly_reminders")
TERMINAL = {"success", "failed"}
WAITING_FOR_PEOPLE = {"deferred", "awaiting_input"}


def add_faulty_files(quarter: str, inbox: Path) -> None:
    """The sample's faulty files; the unit they are for keeps only its empty form (rejected:
    a unit with a valid file keeps that file when a later one is rejected)."""
    from wcreport.core.programme import programme_for_year
    from wcreport.core.quarter import Quarter
    from wcreport.demo.sample import write_faulty_files

    q = Quarter.parse(quarter)
    programme = programme_for_year(q.year)
    folder = inbox / str(q)
    folder.mkdir(parents=True, exist_ok=True)
    unit = programme.units[-1]            # the unit write_faulty_files writes the empty form for
    for path in sorted(folder.glob(f"*{unit.name}*")):
        if "空表" not in path.name and not path.name.startswith("~$"):
            path.unlink()
            print(f"    removed {path.name}")
    for path in write_faulty_files(programme, q, folder, random.Random(f"ui-{q}")):
        print(f"    {path.name}")


class Api:
    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.user, self.password = user, password
        self.token = ""

    def sign_in(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = self.http.post("/auth/token", json={"username": self.user, "password": self.password})
                if response.status_code in (200, 201):
                    self.token = response.json()["access_token"]
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                sys.exit("The api-server did not answer in time; see its log.")
            time.sleep(1)

    def call(self, method: str, path: str, **kwargs):
        response = self.http.request(method, path, headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                health = self.http.get("/api/v2/monitor/health").json()
                if all(health.get(part, {}).get("status") == "healthy"
                       for part in ("scheduler", "dag_processor", "triggerer")):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(2)
        sys.exit("Scheduler, dag-processor or triggerer not healthy in time; see the service logs.")

    def wait_dags(self, dag_ids, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for dag_id in dag_ids:
            while True:
                try:
                    self.call("GET", f"/api/v2/dags/{dag_id}")
                    break
                except RuntimeError:
                    if time.monotonic() > deadline:
                        errors = self.call("GET", "/api/v2/importErrors")
                        sys.exit(f"DAG {dag_id} was not parsed in time; import errors: {errors}")
                    time.sleep(2)


def quarter_run(api: Api, quarter: str) -> dict | None:
    """The newest scheduler-made run of the quarter (`airflow dags test` runs have no task logs)."""
    runs = api.call("GET", f"/api/v2/dags/{REPORT_DAG}/dagRuns",
                    params={"order_by": "-run_after", "limit": 100})["dag_runs"]
    for run in runs:
        if (run.get("conf") or {}).get("quarter") == quarter and run.get("triggered_by") != "test":
            return run
    return None


def trigger(api: Api, quarter: str) -> dict:
    from wcreport.core.quarter import Quarter

    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    body = {"dag_run_id": f"manual__{quarter}__{stamp}", "logical_date": None,
            "conf": {"quarter": quarter}, "note": f"make ui：{Quarter.parse(quarter).label_zh}演示运行"}
    return api.call("POST", f"/api/v2/dags/{REPORT_DAG}/dagRuns", json=body)


def task_instances(api: Api, run_id: str) -> list[dict]:
    return api.call("GET", f"/api/v2/dags/{REPORT_DAG}/dagRuns/{run_id}/taskInstances",
                    params={"limit": 500})["task_instances"]


def wait_for_run(api: Api, run_id: str, timeout: float) -> tuple[dict, list[dict]]:
    """Until the run ends or only waits for a person (the correction review)."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        run = api.call("GET", f"/api/v2/dags/{REPORT_DAG}/dagRuns/{run_id}")
        tis = task_instances(api, run_id)
        ingests = [t for t in tis if t["task_id"] == "ingest_unit"]
        done = sum(t["state"] in ("success", "failed", "upstream_failed") for t in ingests)
        line = f"    run {run['state']}: ingest_unit {done}/{len(ingests) or '?'} done"
        if line != last:
            print(line, flush=True)
            last = line
        waiting = any(t["state"] in WAITING_FOR_PEOPLE for t in tis)
        if run["state"] in TERMINAL or waiting or time.monotonic() > deadline:
            return run, tis
        time.sleep(3)


def report(api: Api, base_url: str, run: dict, tis: list[dict]) -> None:
    from urllib.parse import quote

    print(f"==> Run {run['dag_run_id']}: {run['state']}")
    for ti in tis:
        if ti["task_id"] == "ingest_unit" and "·" in (ti.get("rendered_map_index") or "") \
                and not ti["rendered_map_index"].endswith("已报送"):
            print(f"    ingest_unit [{ti['map_index']}] {ti['rendered_map_index']}")
        elif ti["task_id"] != "ingest_unit" and ti["state"] not in ("success", "skipped"):
            print(f"    {ti['task_id']}: {ti['state']}")
    if any(t["state"] in WAITING_FOR_PEOPLE for t in tis):
        print("    The report changed since its last mail: the correction waits under Required Actions.")
    print(f"    Grid: {base_url}/dags/{REPORT_DAG}/runs/{quote(run['dag_run_id'], safe='')}")


def prepare(args) -> None:
    api = Api(args.base_url, args.user, args.password)
    api.sign_in(timeout=180)
    api.wait_healthy(timeout=240)
    api.wait_dags(UNPAUSED, timeout=300)
    for dag_id in UNPAUSED:
        api.call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    print(f"==> Unpaused {', '.join(UNPAUSED)} (mailbox_intake stays paused: it needs an IMAP server)")
    print(args.on_ready, flush=True)
    run = quarter_run(api, args.quarter)
    if run is None:
        run = trigger(api, args.quarter)
        print(f"==> Triggered {REPORT_DAG} for {args.quarter} through the scheduler: {run['dag_run_id']}")
    else:
        print(f"==> {REPORT_DAG} already has a run for {args.quarter}: {run['dag_run_id']}")
    run, tis = wait_for_run(api, run["dag_run_id"], timeout=args.timeout)
    report(api, args.base_url, run, tis)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    faulty = sub.add_parser("faulty")
    faulty.add_argument("--quarter", required=True)
    faulty.add_argument("--inbox", type=Path, required=True)
    prep = sub.add_parser("prepare")
    prep.add_argument("--base-url", required=True)
    prep.add_argument("--user", required=True)
    prep.add_argument("--password", required=True)
    prep.add_argument("--quarter", required=True)
    prep.add_argument("--on-ready", default="")
    prep.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    if args.command == "faulty":
        add_faulty_files(args.quarter, args.inbox)
    else:
        prepare(args)


if __name__ == "__main__":
    main()
