"""Fixtures for integration tests: a private PostgreSQL cluster and a loopback SMTP sink.

The Airflow stack itself is built per test module from ``harness.AirflowStack`` so each
module can choose its executor (env overrides) and extra services.
"""
from __future__ import annotations

import os

import pytest
from harness import PostgresServer, postgres_bindir

from mailsink import MailSink


@pytest.fixture(scope="module")
def postgres():
    if postgres_bindir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: .ci/run must apt-get install -y postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_sink():
    with MailSink() as sink:
        yield sink
