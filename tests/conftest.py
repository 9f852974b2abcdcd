"""Shared fixtures: the programme, a real loopback SMTP server, an Airflow home on SQLite."""
from __future__ import annotations

from pathlib import Path

import pytest
from wcreport_testing.smtp_sink import SmtpSink

from airflow_support import PROJECT_ROOT, migrate
from wcreport.core.programme import Programme, load_programme

PROGRAMME_FILE = PROJECT_ROOT / "include" / "programmes" / "2023.yaml"


@pytest.fixture(scope="session")
def programme() -> Programme:
    return load_programme(PROGRAMME_FILE)


@pytest.fixture
def smtp_server(tmp_path):
    """A real aiosmtpd server on 127.0.0.1 (the same sink `make demo` runs)."""
    sink = SmtpSink(maildir=tmp_path / "maildir").start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def migrated_airflow_home(tmp_path_factory) -> Path:
    """An Airflow home with a migrated SQLite DB, shared by the DAG tests of one session."""
    home = tmp_path_factory.mktemp("airflow_home")
    migrate(home)
    return home


@pytest.fixture
def dovecot():
    """A private Dovecot IMAP server for one test (skipped where Dovecot is not installed)."""
    from wcreport_testing.dovecot import private_dovecot

    with private_dovecot() as server:
        yield server
