"""quarterly_reminders end to end with `airflow dags test`: sample inbox with two units'
files missing and one unit's only file an empty form (rejected) -> reminders to
the right units over a real SMTP server on 127.0.0.1; the same day again -> none."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from airflow_support import airflow_env  # noqa: E402
from mailsink import MailSink  # noqa: E402
from wcreport.core.programme import programme_for_year  # noqa: E402
from wcreport.core.quarter import Quarter  # noqa: E402
from wcreport.demo.sample import SampleOptions, write_quarter_samples  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
Q = Quarter(2023, 1)
MISSING = {"sibaoshan", "zhongbu"}


def test_reminders_dag_sends_three_then_none(tmp_path, migrated_airflow_home):
    programme = programme_for_year(Q.year)
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    files = write_quarter_samples(programme, Q, inbox, SampleOptions(faulty=True))
    keys = [u.key for u in programme.units]
    for key in MISSING:
        files[keys.index(key)].unlink()
    rejected = programme.units[-1].key        # its only file is the blank form
    files[keys.index(rejected)].unlink()      # (with its filled form too it would count as submitted)
    addresses = {k: f"{k}@units.example.org" for k in keys}
    conf = json.dumps({"today": "2023-03-28", "inbox": str(inbox), "output": str(output)})

    with MailSink() as sink:
        env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=sink.airflow_conn_uri(),
                          AIRFLOW_VAR_REPORT_UNIT_EMAILS=json.dumps(addresses),
                          REPORT_OPS_EMAIL="ops@ops.example.org")
        airflow = [sys.executable, "-m", "airflow"]

        def run(logical_date: str) -> str:
            out = subprocess.run([*airflow, "dags", "test", "quarterly_reminders", logical_date,
                                  "-c", conf], env=env, capture_output=True, text=True,
                                 timeout=600)
            assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
            return out.stdout + out.stderr

        log = run("2023-03-28T01:00:00+00:00")
        # one reminder per unit, and the feedback on the rejected unit's file from check_units:
        # its address is only in the Variable, which every mail to units reads (one address book)
        mails = sink.wait_for(len(keys) + 1, timeout=20)
        run("2023-03-28T02:00:00+00:00")
        again = sink.wait_for(len(keys) + 2, timeout=3)

    first = [m for m in mails if m.message["X-Wcreport-Reminder"]]
    feedback = [m for m in mails if m.message["X-Wcreport-Feedback"]]
    second = [m for m in again if m.message["X-Wcreport-Reminder"]]
    assert [m.rcpt_tos for m in feedback] == [[addresses[rejected]]], log[-4000:]
    assert "已退回" in feedback[0].subject

    # every unit has an address: the missing and the rejected ones are reminded to report, the
    # others (their data passed, but the samples carry no stamped scan) to send the stamped copy
    assert len(first) == len(keys), log[-4000:]
    by_unit = {m.message["X-Wcreport-Unit"]: m for m in first}
    assert set(by_unit) == set(keys)
    for key, mail in by_unit.items():
        assert mail.rcpt_tos == [addresses[key]]
    assert by_unit[rejected].message["X-Wcreport-Reminder"] == "rejected"
    assert by_unit[rejected].attachment_names(), "the rejected unit gets its feedback file"
    assert all(by_unit[k].attachment_names()[0].endswith(".xlsx") for k in MISSING)
    assert all(by_unit[k].message["X-Wcreport-Reminder"] == "missing" for k in MISSING)
    owing = set(keys) - MISSING - {rejected}
    assert all(by_unit[k].message["X-Wcreport-Reminder"] == "stamped" for k in owing)
    assert all(not by_unit[k].attachment_names() for k in owing)
    assert len(second) == len(keys) and len(again) == len(mails)      # nothing more the same day
    assert not any(m.message["X-Wcreport-Alert"] for m in again)
