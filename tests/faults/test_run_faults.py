"""Faults at the run level, each through a real `airflow dags test` run.

A fault on our side fails its task at once (no retries), the ops alert arrives at the SMTP
sink naming the cause, and no report mail tells the leaders that units did not report.
"""
from __future__ import annotations

import os
import time

import pytest

from faults.conftest import OPS, QUARTER, log_of, read_only

pytestmark = pytest.mark.slow


def assert_alert(quarterly, result, task: str, *needles: str):
    (alert,) = quarterly.alerts()
    assert alert.rcpt_tos == [OPS]
    assert task in alert.subject, alert.subject
    body = alert.body_text()
    for needle in needles:
        assert needle in body, (needle, body)
    assert result.returncode != 0 or "failed" in log_of(result).lower()
    return body


def test_missing_quarter_folder_fails_gather_and_alerts(quarterly):
    (quarterly.inbox).mkdir(parents=True)             # the root exists, the quarter folder does not
    result = quarterly.run()
    body = assert_alert(quarterly, result, "gather", "InboxMissing", f"{QUARTER} does not exist", "mkdir")
    assert "AirflowFailException" in body                # failed at once, not retried
    assert quarterly.reports() == []                     # no "已报送 0/2" to the leaders
    assert not (quarterly.output / QUARTER / "manifest.json").exists()


def test_unwritable_output_fails_gather_and_alerts(quarterly):
    quarterly.write_samples()
    with read_only(quarterly.output):
        result = quarterly.run()
    assert_alert(quarterly, result, "gather", "OutputUnwritable", str(quarterly.output), "Read-only file system")
    assert quarterly.reports() == []


def test_a_failed_ingest_stops_merge_and_alerts_naming_the_unit(quarterly):
    quarterly.write_samples()
    blocker = quarterly.output / QUARTER / "units" / "health.json"
    blocker.mkdir(parents=True)                          # the unit's result cannot be written
    result = quarterly.run()
    body = assert_alert(quarterly, result, "ingest_unit", "OutputUnwritable", "health.json")
    assert "卫生健康事业中心" in quarterly.alerts()[0].subject
    assert quarterly.reports() == []                     # merge did not run: no "missing" unit
    assert not (quarterly.output / QUARTER / "manifest.json").exists()
    assert "edu_sports" not in body


def test_a_future_mtime_is_accepted_at_once_and_a_deleted_ledger_never_yields_a_second_first_mail(quarterly):
    written = quarterly.write_samples()
    future = time.time() + 3 * 86400                     # the unit's PC clock is three days ahead
    os.utime(written[0], (future, future))
    started = time.monotonic()
    first = quarterly.run()
    took = time.monotonic() - started
    assert first.returncode == 0, log_of(first)[-4000:]
    manifest = quarterly.manifest()
    assert [u["status"] for u in manifest["units"]] == ["submitted", "submitted"]
    record = next(f for f in manifest["files"] if f["path"] == written[0].name)
    assert record["status"] == "accepted" and record["mtime"] <= time.time()
    assert any("晚于当前时间" in reason for reason in record["reasons"])
    (report,) = quarterly.reports()
    assert "已报送 2/2" in report.body_text() and quarterly.alerts(0) == []
    assert took < 240, took                              # no stability wait per scan
    assert list((quarterly.output / QUARTER / "sent").glob("*.eml"))

    (quarterly.output / "mail_ledger.json").unlink()     # the "natural reaction" to a damaged ledger
    second = quarterly.run()
    assert_alert(quarterly, second, "plan_mail", "DamagedStateError", "mail_ledger.json is missing",
                 "wcreport ledger rebuild")
    assert len(quarterly.reports()) == 1                 # no second mail that looks like a first


def test_reminders_fail_instead_of_reminding_when_the_inbox_is_missing(quarterly):
    result = quarterly.run("quarterly_reminders", today="2023-03-27", quarter=None)
    assert_alert(quarterly, result, "check_units", "InboxMissing")
    assert [m for m in quarterly.sink.messages if not m.message["X-Wcreport-Alert"]] == []
