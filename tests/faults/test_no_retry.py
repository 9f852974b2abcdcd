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
