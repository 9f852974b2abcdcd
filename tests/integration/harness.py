"""A real Airflow 3.3 topology for integration tests, started from a temporary folder.

Nothing is installed here: PostgreSQL comes from the distribution (``apt-get install -y
postgresql``; binaries are looked up on PATH and under /usr/lib/postgresql/*/bin) and
Airflow from the project's virtualenv. One test session gets:

* ``PostgresServer``: a private cluster (initdb + pg_ctl) in a temp dir on a free
  loopback port, trust auth, database ``airflow``. As root it runs as the ``postgres``
  user (PostgreSQL refuses to run as root); otherwise as the current user.
* ``AirflowStack``: ``airflow db migrate``, then ``api-server``, ``scheduler`` and
  ``dag-processor`` as child processes with AIRFLOW_HOME in the temp dir, the project's
  dags/ and plugins/, SimpleAuthManager with one admin user, LocalExecutor.
* ``ApiClient``: JWT login (``POST /auth/token``) and the REST API v2 calls the tests
  need: unpause, trigger, wait, task instances, clearTaskInstances.

Another executor (CeleryExecutor + Redis) reuses all of it::

    stack = AirflowStack(root, db_url=pg.url, env_overrides={
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg.url.replace("+psycopg2", ""),
    }, extra_services={"celery-worker": ["celery", "worker", "--concurrency", "2"]})

(start Redis yourself, e.g. ``redis-server --port 0 --unixsocket ...`` or on a free port).
Each service logs to ``<root>/logs/<service>.log``; on a timeout the helpers raise with
the tail of those logs so CI output says what went wrong.
"""
from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PROJECT = Path(__file__).resolve().parents[2]
TESTS = PROJECT / "tests"
if str(TESTS) not in sys.path:          # mailsink.py lives in tests/
    sys.path.insert(0, str(TESTS))

from mailsink import free_port  # noqa: E402

AIRFLOW_CMD = [sys.executable, "-m", "airflow"]
TERMINAL = {"success", "failed"}


# --- PostgreSQL ----------------------------------------------------------------
def postgres_bindir() -> Path | None:
    """Where initdb/pg_ctl live, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port>."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or postgres_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
        # Not under pytest's tmp_path: that is 0700 root, unreadable for the postgres user.
        self.root = Path(tempfile.mkdtemp(prefix="wcreport-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "postgres"
        self._as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/airflow"

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)

    def start(self) -> "PostgresServer":
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        else:
            self.user = os.environ.get("USER") or "postgres"
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "postgres.log"), "-w", "-t", "60", "start")
        import psycopg2  # the driver Airflow uses (requirements.txt)

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute("CREATE DATABASE airflow")
        finally:
            conn.close()
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)


# --- Airflow -------------------------------------------------------------------
class AirflowStack:
    """Airflow services on loopback ports, configured only through environment variables."""

    def __init__(self, root: Path, *, db_url: str, env_overrides: dict[str, str] | None = None,
                 extra_services: dict[str, list[str]] | None = None, user: str = "ops") -> None:
        self.root = Path(root)
        self.home = self.root / "airflow_home"
        self.logs = self.root / "logs"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.user, self.password = user, secrets.token_urlsafe(12)
        self.db_url = db_url
        self.env_overrides = dict(env_overrides or {})
        self.services = {
            "api-server": ["api-server", "-H", "127.0.0.1", "-p", str(self.port)],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
            **(extra_services or {}),
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self._log_files: list = []
        # chosen once: every service must share the JWT secret and agree on ports
        self._secrets = {"secret_key": secrets.token_hex(16), "jwt_secret": secrets.token_hex(32),
                         "worker_log_port": str(free_port()), "trigger_log_port": str(free_port())}
        self.api = ApiClient(self.base_url, self.user, self.password, self.log_tail)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",           # the machine has 2 cores
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": self._secrets["secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secrets["jwt_secret"],
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # fixed default ports would clash with a second stack on the same machine
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": self._secrets["worker_log_port"],
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": self._secrets["trigger_log_port"],
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        })
        env.update(self.env_overrides)
        return env

    def airflow(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([*AIRFLOW_CMD, *args], env=self.env(), capture_output=True,
                              text=True, timeout=timeout, cwd=self.root)

    def start(self, timeout: float = 240) -> "AirflowStack":
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({self.user: self.password}))
        migrated = self.airflow("db", "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stderr[-4000:]}")
        for name, args in self.services.items():
            log = open(self.logs / f"{name}.log", "wb")
            self._log_files.append(log)
            self.processes[name] = subprocess.Popen(
                [*AIRFLOW_CMD, *args], env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                cwd=self.root, start_new_session=True)
        self.api.wait_healthy(timeout, self.processes)
        return self

    def stop(self) -> None:
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
        self.processes.clear()
        for log in self._log_files:
            log.close()
        self._log_files.clear()

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"----- {path.name} -----\n" + "\n".join(text))
        return "\n".join(parts)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)      # the service and the workers it forked
        except ProcessLookupError:
            pass


# --- REST API v2 ---------------------------------------------------------------
class ApiClient:
    """The REST API calls the tests make, with a JWT from SimpleAuthManager."""

    def __init__(self, base_url: str, user: str, password: str, diagnostics=lambda: "") -> None:
        self.base_url = base_url
        self.user, self.password = user, password
        self.diagnostics = diagnostics
        self._token: str | None = None
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def token(self) -> str:
        if self._token is None:
            response = self.http.post("/auth/token",
                                      json={"username": self.user, "password": self.password})
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, **kwargs) -> Any:
        headers = {"Authorization": f"Bearer {self.token()}"}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def wait_healthy(self, timeout: float, processes: dict[str, subprocess.Popen]) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = {n: p.returncode for n, p in processes.items() if p.poll() is not None}
            if dead:
                raise RuntimeError(f"services exited early {dead}\n{self.diagnostics()}")
            try:
                health = self.http.get("/api/v2/monitor/health").json()
                if health.get("scheduler", {}).get("status") == "healthy" and \
                        health.get("dag_processor", {}).get("status") == "healthy":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise TimeoutError(f"Airflow did not become healthy in {timeout}s\n{self.diagnostics()}")

    def wait_dag(self, dag_id: str, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return self.request("GET", f"/api/v2/dags/{dag_id}")
            except RuntimeError:
                time.sleep(2)
        errors = self.request("GET", "/api/v2/importErrors")
        raise TimeoutError(f"DAG {dag_id} not parsed in {timeout}s; import errors: {errors}\n"
                           f"{self.diagnostics()}")

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        body = {"logical_date": None, "conf": conf or {}}
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        data = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                            params={"limit": 500})
        return data["task_instances"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600,
                 until: Any = None) -> dict:
        """Wait until the run is terminal (and ``until(run)`` holds, if given)."""
        deadline = time.monotonic() + timeout
        run: dict = {}
        while time.monotonic() < deadline:
            run = self.run(dag_id, run_id)
            if run["state"] in TERMINAL and (until is None or until(run)):
                return run
            time.sleep(2)
        states = [(t["task_id"], t["map_index"], t["state"], t["try_number"])
                  for t in self.task_instances(dag_id, run_id)]
        raise TimeoutError(f"run {run_id} still {run.get('state')} after {timeout}s: {states}\n"
                           f"{self.diagnostics()}")

    def clear_task_instances(self, dag_id: str, run_id: str, task_ids: list,
                             include_downstream: bool = True) -> list[dict]:
        """Clear e.g. ``[["ingest_unit", 3]]`` in one run, as the UI's Clear dialog does."""
        body = {"dry_run": False, "dag_run_id": run_id, "task_ids": task_ids,
                "include_downstream": include_downstream, "include_upstream": False,
                "only_failed": False, "reset_dag_runs": True}
        return self.request("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances",
                            json=body)["task_instances"]
