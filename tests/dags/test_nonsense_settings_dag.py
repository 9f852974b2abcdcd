"""A nonsense setting stops `quarterly_report` in its first task: no unit judged, nobody but ops mailed."""
from __future__ import annotations

import json

import pytest

from airflow_support import airflow_env, run_dags_test
from wcreport.core.quarter import Quarter
from wcreport.demo.sample import write_quarter_samples

pytestmark = pytest.mark.slow
QUARTER = Quarter(2023, 1)


def test_a_file_limit_of_zero_fails_resolve_run_before_any_unit_is_judged(tmp_path, programme,
                                                                          migrated_airflow_home, smtp_server):
    """REPORT_MAX_FILE_BYTES=0 would reject all units' files as too large, mail the leaders a report
    of nothing and tell every unit to shrink its pictures: the run must stop before all that."""
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    write_quarter_samples(programme, QUARTER, inbox)
    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri(),
                      REPORT_MAX_FILE_BYTES="0", REPORT_OPS_EMAIL="ops@example.org")
    conf = json.dumps({"quarter": str(QUARTER), "inbox": str(inbox), "output": str(output)})

    result = run_dags_test(env, "quarterly_report", conf)
    log = result.stdout + result.stderr
    assert "DagRun failed" in log and "SettingsError" in log and "REPORT_MAX_FILE_BYTES='0'" in log, log[-4000:]
    # one task ran (resolve_run), failed at once without retries, and nothing downstream ran
    assert log.count("Task started") == 1 and "AirflowFailException" in log, log[-4000:]
    assert not list(output.glob(f"{QUARTER}/units/*.json"))
    assert not (output / "archive").exists() and not (output / "mail_ledger.json").exists()
    # no mail to the leaders or a unit: only the ops alert, which names the task and the setting
    (alert,) = smtp_server.messages
    assert alert["to"] == "ops@example.org" and "resolve_run" in alert["subject"]
    assert "REPORT_MAX_FILE_BYTES='0'" in alert.get_body(("plain",)).get_content()
