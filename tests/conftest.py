"""Shared fixtures: the programme, a real loopback SMTP server, an Airflow home on SQLite."""
from __future__ import annotations

import email
import os
import socket
import subprocess
import sys
import threading
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from wcreport.programme import Programme, load_programme

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROGRAMME_FILE = PROJECT_ROOT / "include" / "programmes" / "2023.yaml"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def programme() -> Programme:
    return load_programme(PROGRAMME_FILE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailBox:
    """Messages received by a real aiosmtpd server on 127.0.0.1."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.mailbox = MailBox()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.mailbox.messages

    def airflow_conn_uri(self) -> str:
        return ('{"conn_type": "smtp", "host": "127.0.0.1", "port": %d, "extra": '
                '{"disable_ssl": true, "disable_tls": true, "from_email": "report-bot@localhost"}}'
                % self.port)


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


def airflow_env(airflow_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home}/airflow.db",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "REPORT_EXPECTATIONS": str(PROJECT_ROOT / "expectations"),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    })
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def migrated_airflow_home(tmp_path_factory) -> Path:
    """An Airflow home with a migrated SQLite DB, shared by the DAG tests of one session."""
    home = tmp_path_factory.mktemp("airflow_home")
    result = subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=airflow_env(home),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


def run_dags_test(env: dict[str, str], dag_id: str, conf: str, timeout: int = 900):
    return subprocess.run([str(VENV_BIN / "airflow"), "dags", "test", dag_id, "--conf", conf],
                          env=env, capture_output=True, text=True, timeout=timeout)
