"""Event-driven intake on the real stack: PostgreSQL, api-server, scheduler, dag-processor and a
**triggerer** (LocalExecutor), a private Dovecot (IMAP IDLE) and the loopback SMTP sink.

Nobody triggers anything by hand until quarter end:

* a blank form dropped into a unit's shared folder gets that unit's feedback mail;
* a mailed blank form (from the unit's authenticated address) gets its receipt with the findings;
* ten files for one unit in a burst (three distinct contents) are validated once per distinct
  content and checked once (twice if the burst straddles a listing), one feedback mail per check;
* ``quarterly_report`` afterwards validates none of them again and mails no feedback again.

The watchers look at today's quarter, so the test writes a programme file for today's year
(the 2023 file with its dates moved). About 4-6 minutes on 2 cores.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
import yaml
from harness import AirflowStack

from wcreport.core.programme import load_programme
from wcreport.core.quarter import TZ

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "units.example.cn"
DROPPER, MAILER, BURSTER = "health", "edu_sports", "science_tech"
FEEDBACK_WITHIN = 120.0          # seconds: generous for a loaded 2-core machine; the bench measures


def addr(key: str) -> str:
    return f"{key}@{DOMAIN}"


def today() -> dt.date:
    return dt.datetime.now(TZ).date()


def programme_for_this_year(folder: Path) -> Path:
    """The shipped 2023 programme, moved to this year, with addresses for the test's units."""
    year = today().year
    text = (ROOT / "include" / "programmes" / "2023.yaml").read_text(encoding="utf-8").replace("2023", str(year))
    data = yaml.safe_load(text)
    keys = [u["key"] for u in data["units"]]
    for unit in data["units"]:
        if unit["key"] in (DROPPER, MAILER, BURSTER):
            unit["email"] = addr(unit["key"])
    assert {DROPPER, MAILER, BURSTER} <= set(keys), keys
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{year}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def blank_form(programme, unit: str, quarter, variant: str = "") -> bytes:
    """The unit's form sent back empty (rejected: no progress text); ``variant`` changes the bytes."""
    from wcreport.deliver.forms import build_unit_workbook

    workbook = build_unit_workbook(programme, unit, quarter)
    workbook.properties.creator = variant or unit
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def feedback_to(sink, address: str) -> list:
    return [m for m in sink.messages if m.message["X-Wcreport-Feedback"] and address in m.rcpt_tos]


def receipts_to(sink, address: str) -> list:
    return [m for m in sink.messages if not m.message["X-Wcreport-Feedback"] and address in m.rcpt_tos
            and "回执" in m.subject]


def wait_until(what, predicate, timeout: float, diagnostics=lambda: "") -> float:
    """Seconds until ``predicate()`` held; fails naming ``what`` after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{diagnostics()}")


def runs(api, dag_id: str) -> list[dict]:
    return api.request("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]


def idle(api, dag_id: str) -> bool:
    return all(r["state"] in ("success", "failed") for r in runs(api, dag_id))


def unit_checks(api, unit_name: str) -> int:
    """check_unit instances of unit_intake that checked ``unit_name`` (by their rendered map name)."""
    count = 0
    for run in runs(api, "unit_intake"):
        for ti in api.task_instances("unit_intake", run["dag_run_id"]):
            if ti["task_id"] == "check_unit" and unit_name in (ti.get("rendered_map_index") or ""):
                count += 1
    return count


def validated_keys(output: Path, quarter: str) -> set[str]:
    """Every outcome kept in the quarter's outcome store (one per validated content)."""
    keys: set[str] = set()
    for store in (output / quarter / "cache" / "validated").glob("*.sqlite"):
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            keys.update(k for (k,) in db.execute("SELECT key FROM outcome"))
    return keys


def watchers(api) -> dict[str, list[str]]:
    """Each asset's watchers, as the UI's Assets page shows them (GET /api/v2/assets)."""
    assets = api.request("GET", "/api/v2/assets", params={"limit": 100})["assets"]
    return {a["name"]: sorted(w["name"] for w in a["watchers"]) for a in assets}


def wait_for_watchers(stack, timeout: float = 180.0) -> None:
    """The dag-processor registers an unpaused DAG's watchers at its next parse of the file; the
    triggerer then starts them and takes its first listing (the baseline)."""
    wait_until("the watchers registered", lambda: all(watchers(stack.api).get(name) for name in
                                                      ("unit_mailbox_arrivals", "unit_folder_arrivals")),
               timeout, stack.log_tail)
    time.sleep(15)


# --- the stack ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dovecot():
    """One Dovecot for the module's stack (the shared fixture in tests/conftest.py is per test)."""
    from wcreport_testing.dovecot import private_dovecot

    with private_dovecot() as server:
        yield server


@pytest.fixture(scope="module")
def world(tmp_path_factory, postgres, mail_sink, dovecot):
    from wcreport_testing import chinese_mail as cm

    from wcreport.intake.mailbox import submission_quarter

    root = tmp_path_factory.mktemp("events")
    programme_file = programme_for_this_year(root / "programmes")
    programme = load_programme(programme_file)
    quarter = submission_quarter(today(), lambda q: programme.deadline(q.number) if q.year == programme.year
                                 else q.end)
    inbox, output = root / "inbox", root / "output"
    (inbox / str(quarter)).mkdir(parents=True)
    stack = AirflowStack(root / "stack", db_url=postgres.url, env_overrides={
        "AIRFLOW_CONN_SMTP_DEFAULT": mail_sink.airflow_conn_uri("wcreport@localhost"),
        "AIRFLOW_CONN_IMAP_DEFAULT": dovecot.airflow_conn_uri(authserv_id=cm.OUR_AUTHSERV_ID),
        "REPORT_OPS_EMAIL": "ops@ops.example.org",
        "REPORT_INBOX": str(inbox), "REPORT_OUTPUT": str(output),
        "REPORT_PROGRAMMES_DIR": str(programme_file.parent),
        "REPORT_EVENT_INTAKE_SECONDS": "2",
    }, extra_services={"triggerer": ["triggerer"]})
    try:
        stack.start()
        stack.api.wait_dag("unit_intake")
        stack.api.unpause("unit_intake")
        wait_for_watchers(stack)
        yield {"stack": stack, "api": stack.api, "programme": programme, "quarter": quarter, "inbox": inbox,
               "output": output, "sink": mail_sink, "dovecot": dovecot}
    finally:
        stack.stop()


def drop(world, unit: str, name: str, data: bytes) -> Path:
    folder = world["inbox"] / str(world["quarter"]) / world["programme"].unit(unit).name
    folder.mkdir(exist_ok=True)
    target = folder / name
    target.write_bytes(data)
    return target


def mail(world, unit: str, name: str, data: bytes) -> None:
    from wcreport_testing import chinese_mail as cm

    raw = cm.foxmail(addr(unit), world["programme"].unit(unit).name, f"{world['quarter'].label_zh}报表",
                     [(name, data)], when=dt.datetime.now(TZ), message_id=f"<{time.time_ns()}@{DOMAIN}>")
    world["dovecot"].append(cm.authenticated(raw, DOMAIN))


# --- the tests (in order: module-scoped stack) ----------------------------------------------
def test_the_watchers_are_listed_with_their_assets(world):
    """What the UI's Assets page shows (its data: GET /api/v2/assets)."""
    listed = watchers(world["api"])
    assert listed["unit_mailbox_arrivals"] == ["mailbox_idle"]
    assert listed["unit_folder_arrivals"] == ["shared_folder_listing"]


def test_a_dropped_file_gets_its_feedback_without_any_trigger(world):
    sink, programme, quarter = world["sink"], world["programme"], world["quarter"]
    drop(world, DROPPER, "卫生健康事业中心报表.xlsx", blank_form(programme, DROPPER, quarter))
    seconds = wait_until("feedback for the dropped file", lambda: feedback_to(sink, addr(DROPPER)),
                         FEEDBACK_WITHIN, world["stack"].log_tail)
    mails = feedback_to(sink, addr(DROPPER))
    assert len(mails) == 1 and "卫生健康事业中心报表.xlsx" in mails[0].subject
    print(f"dropped file → feedback in {seconds:.1f} s")


def test_a_mailed_file_gets_its_receipt_without_any_trigger(world):
    sink, programme, quarter = world["sink"], world["programme"], world["quarter"]
    mail(world, MAILER, "教体中心报表.xlsx", blank_form(programme, MAILER, quarter))
    seconds = wait_until("receipt for the mailed file", lambda: receipts_to(sink, addr(MAILER)),
                         FEEDBACK_WITHIN, world["stack"].log_tail)
    receipt = receipts_to(sink, addr(MAILER))[0]
    assert "教体中心报表.xlsx" in receipt.body_text()
    saved = world["inbox"] / str(quarter) / programme.unit(MAILER).name / "教体中心报表.xlsx"
    wait_until("the mailed file checked", lambda: idle(world["api"], "unit_intake") and saved.exists()
               and unit_checks(world["api"], programme.unit(MAILER).name) >= 1, FEEDBACK_WITHIN)
    assert feedback_to(sink, addr(MAILER)) == []          # its findings were in the receipt
    print(f"mailed file → receipt in {seconds:.1f} s")


def test_a_burst_gives_one_check_per_distinct_content(world):
    """Ten files, three contents: each content validated once; the unit hears about its newest
    version (older rejected versions are superseded by it: flow.ingest_unit), once per check."""
    sink, programme, quarter, api = world["sink"], world["programme"], world["quarter"], world["api"]
    before = validated_keys(world["output"], str(quarter))
    contents = [blank_form(programme, BURSTER, quarter, f"v{n}") for n in range(3)]
    for n in range(10):
        drop(world, BURSTER, f"科技报表{n}.xlsx", contents[n % 3])
    wait_until("feedback for the burst", lambda: feedback_to(sink, addr(BURSTER)), FEEDBACK_WITHIN,
               world["stack"].log_tail)
    wait_until("unit_intake idle", lambda: idle(api, "unit_intake"), FEEDBACK_WITHIN)
    time.sleep(10)                                        # any late event would show up now
    wait_until("unit_intake idle", lambda: idle(api, "unit_intake"), FEEDBACK_WITHIN)
    checks = unit_checks(api, programme.unit(BURSTER).name)
    mails = feedback_to(sink, addr(BURSTER))
    assert 1 <= checks <= 2, checks                       # two only if the burst straddled a listing
    assert len(mails) == checks, [m.subject for m in mails]
    assert len(validated_keys(world["output"], str(quarter)) - before) == 3
    print(f"burst of 10 files (3 contents): {checks} check(s), {len(mails)} feedback mail(s)")


def test_the_quarterly_run_afterwards_sends_no_second_feedback(world):
    sink, quarter, api, output = world["sink"], world["quarter"], world["api"], world["output"]
    feedback_before = len([m for m in sink.messages if m.message["X-Wcreport-Feedback"]])
    run_id = api.trigger("quarterly_report", {"quarter": str(quarter), "inbox": str(world["inbox"]),
                                              "output": str(output)})
    api.unpause("quarterly_report")
    run = api.wait_run("quarterly_report", run_id, timeout=900)
    assert run["state"] == "success", world["stack"].log_tail()
    batch = api.request("GET", f"/api/v2/dags/quarterly_report/dagRuns/{run_id}/taskInstances/validate_quarter/"
                               "xcomEntries/return_value")["value"]
    batch = json.loads(batch) if isinstance(batch, str) else batch
    assert batch["validated"] == 0 and batch["already_validated"] >= 5, batch
    assert len([m for m in sink.messages if m.message["X-Wcreport-Feedback"]]) == feedback_before
    leaders = [r.email for r in world["programme"].recipients.to]
    assert [m for m in sink.messages if set(leaders) & set(m.rcpt_tos)]      # the report went out
    assert os.path.exists(output / str(quarter) / "manifest.json")
