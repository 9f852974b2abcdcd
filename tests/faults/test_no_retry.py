"""Errors no retry can fix fail the task at once (AirflowFailException) naming what to fix; outages retry."""
from __future__ import annotations

import json

import pytest

from wcreport.core.io import DamagedStateError
from wcreport.deliver.smtp import MailError
from wcreport.orchestration.failures import fail_fast


def raised(func, *args):
    with pytest.raises(Exception) as caught:
        func(*args)
    return caught.value


def test_an_smtp_connection_without_sender_fails_at_once(monkeypatch):
    from wcreport.orchestration.connections import smtp_settings

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1"}))
    error = raised(fail_fast(smtp_settings))
    assert type(error).__name__ == "AirflowFailException"
    assert "MailConfigError" in str(error) and "'smtp_default'" in str(error) and "from_email" in str(error)


def test_a_missing_programme_file_fails_at_once(monkeypatch, tmp_path):
    from wcreport.orchestration import tasks

    monkeypatch.setenv("REPORT_PROGRAMMES_DIR", str(tmp_path))
    run = {"quarter": "2023Q1", "inbox": str(tmp_path), "output": str(tmp_path)}
    error = raised(tasks.gather, run)
    assert type(error).__name__ == "AirflowFailException"
    assert f"programme file not found: {tmp_path}/2023.yaml" in str(error)


def test_damaged_state_fails_at_once_and_an_outage_is_retried():
    def damaged():
        raise DamagedStateError("mail ledger x is damaged", "rebuild it")

    def outage():
        raise MailError("SMTP 127.0.0.1:25: ConnectionRefusedError")

    assert type(raised(fail_fast(damaged))).__name__ == "AirflowFailException"
    assert "Fix: rebuild it" in str(raised(fail_fast(damaged)))
    assert isinstance(raised(fail_fast(outage)), MailError)       # Airflow retries it with backoff


def test_a_nonsense_setting_fails_the_first_step_of_every_dag_at_once(monkeypatch, tmp_path):
    """REPORT_MAX_FILE_BYTES=0 would reject every unit's file as too large: no run may start on it."""
    from wcreport.orchestration import mailbox, tasks

    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "0")
    # quarterly_report and quarterly_reminders begin with resolve_run, even with explicit folders
    error = raised(tasks.resolve_run, "2023Q1", str(tmp_path), str(tmp_path))
    assert type(error).__name__ == "AirflowFailException"
    assert "SettingsError" in str(error) and "REPORT_MAX_FILE_BYTES='0'" in str(error) and "64 KiB" in str(error)
    # mailbox_intake begins with resolve_poll
    error = raised(mailbox.resolve_poll, {"inbox": str(tmp_path), "output": str(tmp_path)})
    assert type(error).__name__ == "AirflowFailException" and "REPORT_MAX_FILE_BYTES" in str(error)
