"""The production topology, natively: one whole quarter under CeleryExecutor.

What docker-compose.yaml runs in containers runs here as processes on loopback:
PostgreSQL (a private cluster, initdb/pg_ctl from the postgresql package), Redis
(redis-server on a free port), ``airflow db migrate``, the API server, the scheduler,
the dag-processor and an ``airflow celery worker``, plus a real SMTP server (aiosmtpd).

The Airflow configuration is not written again here: it is the Airflow worker's
``environment`` from docker-compose.yaml, interpolated with test values, with only the
service host names (postgres, redis, airflow-apiserver, mailpit) and container paths
(/opt/airflow/...) translated to their loopback ports and local folders through the
compose mounts. So this test also proves the compose configuration works.

The quarter is the sample data for 2023Q1 (``wcreport sample``); the run is triggered and
followed through the REST API with the admin user the compose file defines, and ends in
the report e-mail arriving at the loopback SMTP server.

Needs the Debian packages ``postgresql`` and ``redis-server`` (tools/install_system_packages.sh).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))
from compose_model import load_compose, mount_of, service_env, service_mounts  # noqa: E402
from wcreport_testing.net import free_port  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUARTER = "2023Q1"
DAG_ID = "quarterly_report"
VENV_BIN = Path(sys.executable).parent
RUN_TIMEOUT = float(os.environ.get("WCREPORT_CELERY_RUN_TIMEOUT", "900"))



def wait_for(predicate, timeout: float, what: str, every: float = 0.5, procs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"{proc.args[:3]} exited with {proc.returncode} "
                                     f"while waiting for {what}")
        result = predicate()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def find_pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


# --- services ----------------------------------------------------------------
class Postgres:
    """A private cluster on a free loopback port, owned by the ``postgres`` OS user when run as root."""

    def __init__(self, base: Path) -> None:
        self.bin = find_pg_bin()
        self.base = base
        self.data = base / "pgdata"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run(self.as_user + list(args), check=True, capture_output=True, timeout=120)

    def start(self) -> "Postgres":
        if self.as_user:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "airflow",
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "pg.log"),
                  "-o", f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c full_page_writes=off -c max_connections=200",
                  "-w", "-t", "60", "start")
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "airflow", "airflow")
        return self

    def stop(self) -> None:
        subprocess.run(self.as_user + [str(self.bin / "pg_ctl"), "-D", str(self.data),
                                       "-m", "immediate", "stop"], capture_output=True, timeout=60)


class Redis:
    def __init__(self, base: Path) -> None:
        self.port = free_port()
        self.base = base
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Redis":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.base), "--protected-mode", "yes"],
            stdout=open(self.base / "redis.log", "wb"), stderr=subprocess.STDOUT)

        def ready() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_for(ready, 30, "redis-server", procs=[self.proc])
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


# --- the compose configuration, translated to loopback -----------------------
def native_environment(base: Path, pg: Postgres, redis: Redis, api_port: int, smtp_uri: str,
                       admin_password: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    compose = load_compose()
    worker = compose["services"]["airflow-worker"]
    secrets = {  # test values for the .env settings the compose file requires
        "POSTGRES_USER": "airflow", "POSTGRES_PASSWORD": "unused-trust-auth", "POSTGRES_DB": "airflow",
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW_JWT_SECRET": "celery-test-jwt-secret", "AIRFLOW_API_SECRET_KEY": "celery-test-api-key",
        "AIRFLOW_ADMIN_USERNAME": "admin", "AIRFLOW_ADMIN_PASSWORD": admin_password,
        "AIRFLOW_ADMIN_EMAIL": "admin@example.org",
        "AIRFLOW_CONN_SMTP_DEFAULT": smtp_uri, "AIRFLOW_WORKER_CONCURRENCY": "4",
        "REPORT_INBOX_HOST": str(base / "inbox"), "REPORT_OUTPUT_HOST": str(base / "output"),
        "AIRFLOW_BASE_URL": f"http://127.0.0.1:{api_port}",
    }
    env = service_env(worker, secrets)
    hosts = {"@postgres/": f"@127.0.0.1:{pg.port}/", "@redis:6379/": f"@127.0.0.1:{redis.port}/",
             "//airflow-apiserver:8080/": f"//127.0.0.1:{api_port}/"}
    for key, value in env.items():
        for old, new in hosts.items():
            value = value.replace(old, new)
        env[key] = value

    # container paths -> local folders, through the compose mounts
    named = {"report-inbox": base / "inbox", "report-output": base / "output",
             "airflow-logs": base / "logs", "airflow-auth": base / "auth"}
    mounts = service_mounts(worker, secrets)

    def local(container: str) -> str:
        m = mount_of(PurePosixPath(container), mounts)
        assert m is not None, f"{container} is on no compose mount"
        source = named[m.source] if m.is_named else ROOT / m.source
        return str(Path(source) / PurePosixPath(container).relative_to(m.target))

    for key, value in env.items():
        if value.startswith("/opt/airflow/"):
            env[key] = local(value)
    for folder in named.values():
        folder.mkdir(parents=True, exist_ok=True)

    env.pop("DUMB_INIT_SETSID", None)
    native = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "REPORT_"))}
    native.update(env)
    native.update({
        "AIRFLOW_HOME": str(base / "airflow_home"),
        # what the image provides: AIRFLOW_HOME=/opt/airflow with dags/ plugins/ logs/ under it
        "AIRFLOW__CORE__DAGS_FOLDER": local("/opt/airflow/dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": local("/opt/airflow/plugins"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": local("/opt/airflow/logs"),
        # loopback only, and free ports instead of the fixed container ports
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        # quicker pick-up than production defaults; nothing else differs
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "GX_ANALYTICS_ENABLED": "false",
    })
    return native


class Stack:
    """PostgreSQL + Redis + api-server + scheduler + dag-processor + celery worker."""

    def __init__(self, base: Path, smtp_uri: str) -> None:
        self.base = base
        self.admin_password = "celery-test-admin"
        self.api_port = free_port()
        self.pg = Postgres(base)
        self.redis = Redis(base)
        self.env = native_environment(base, self.pg, self.redis, self.api_port, smtp_uri,
                                      self.admin_password)
        self.procs: dict[str, subprocess.Popen] = {}
        self.token: str | None = None

    def log(self, name: str) -> Path:
        return self.base / f"{name}.log"

    def airflow(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run([str(VENV_BIN / "airflow"), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def spawn(self, name: str, *args: str) -> None:
        self.procs[name] = subprocess.Popen(
            [str(VENV_BIN / "airflow"), *args], env=self.env, cwd=self.base,
            stdout=open(self.log(name), "wb"), stderr=subprocess.STDOUT, start_new_session=True)

    def start(self) -> "Stack":
        self.pg.start()
        self.redis.start()
        migrated = self.airflow("db", "migrate")
        assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
        # what airflow-init does: the admin user (FAB, as compose runs it), and a check of smtp_default
        created = self.airflow("users", "create", "--role", "Admin", "--username", "admin",
                               "--password", self.admin_password, "--email", "admin@example.org",
                               "--firstname", "管理员", "--lastname", "季度报送")
        assert created.returncode == 0, created.stdout[-3000:] + created.stderr[-3000:]
        conn = self.airflow("connections", "get", "smtp_default", "-o", "json")
        assert conn.returncode == 0, conn.stderr[-2000:]
        self.spawn("api-server", "api-server")
        self.spawn("scheduler", "scheduler")
        self.spawn("dag-processor", "dag-processor")
        self.spawn("celery-worker", "celery", "worker")
        wait_for(lambda: self._get_status("/api/v2/monitor/health") == 200, 180,
                 "the API server", procs=list(self.procs.values()))
        self.token = self._login()
        return self

    def stop(self) -> None:
        for _name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        self.redis.stop()
        self.pg.stop()

    def tail(self, lines: int = 60) -> str:
        out = []
        for name in self.procs:
            text = self.log(name).read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(out)

    # --- REST API ---------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _get_status(self, path: str) -> int | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as resp:
                return resp.status
        except (urllib.error.URLError, OSError):
            return None

    def _login(self) -> str:
        body = json.dumps({"username": "admin", "password": self.admin_password}).encode()
        req = urllib.request.Request(self.url + "/auth/token", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())["access_token"]

    def api(self, method: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {"detail": exc.read().decode(errors="replace")}


# --- fixtures ----------------------------------------------------------------
@pytest.fixture(scope="module")
def services_available():
    missing = [name for name, ok in [("postgresql (initdb)", find_pg_bin() is not None),
                                     ("redis-server", shutil.which("redis-server") is not None)]
               if not ok]
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must install {missing} (tools/install_system_packages.sh)")
    if missing:
        pytest.skip(f"not installed: {missing}")


@pytest.fixture(scope="module")
def mail_sink():
    sys.path.insert(0, str(ROOT / "tests"))
    from mailsink import MailSink

    with MailSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def stack(services_available, mail_sink):
    base = Path(tempfile.mkdtemp(prefix="wcreport-celery-"))
    base.chmod(0o755)
    smtp_uri = (f"smtp://127.0.0.1:{mail_sink.port}?disable_ssl=true&disable_tls=true"
                "&from_email=report-bot%40localhost")
    stack = Stack(base, smtp_uri)
    try:
        stack.start()
        yield stack
    except BaseException:
        print(stack.tail())
        raise
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)


# --- the test ----------------------------------------------------------------
def test_quarter_under_celery_ends_in_one_email(stack, mail_sink, programme):
    started = time.monotonic()
    inbox = Path(stack.env["REPORT_INBOX"])
    output = Path(stack.env["REPORT_OUTPUT"])
    sample = subprocess.run([str(VENV_BIN / "wcreport"), "sample", "--quarter", QUARTER,
                             "--inbox", str(inbox)], env=stack.env, capture_output=True, text=True,
                            timeout=300)
    assert sample.returncode == 0, sample.stderr[-3000:]
    written = sorted((inbox / QUARTER).iterdir())
    assert written, "wcreport sample wrote nothing"

    # the dag-processor has parsed the DAG (import errors would show here)
    def parsed() -> bool:
        status, body = stack.api("GET", f"/api/v2/dags/{DAG_ID}")
        return status == 200

    try:
        wait_for(parsed, 300, f"{DAG_ID} to be parsed", every=2, procs=list(stack.procs.values()))
    except AssertionError:
        _, errors = stack.api("GET", "/api/v2/importErrors")
        raise AssertionError(f"DAG not parsed; import errors: {errors}\n{stack.tail()}") from None
    status, _ = stack.api("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
    assert status == 200

    # no inbox/output in conf: the roots come from REPORT_INBOX / REPORT_OUTPUT, as in compose
    status, run = stack.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns",
                            {"logical_date": None, "conf": {"quarter": QUARTER}})
    assert status == 200, run
    run_id = run["dag_run_id"]

    def finished():
        _, body = stack.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
        return body.get("state") in ("success", "failed") and body

    final = wait_for(finished, RUN_TIMEOUT, "the quarterly run", every=3,
                     procs=list(stack.procs.values()))
    _, tis = stack.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=100")
    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in tis["task_instances"]}
    assert final["state"] == "success", f"{states}\n{stack.tail()}"
    review_path = {("review_requests", -1), ("review_correction", -1), ("send_correction", -1)}   # not taken by a first mail
    assert all(state == "success" for key, state in states.items() if key not in review_path), states
    assert all(states[key] == "skipped" for key in review_path), states

    # every task instance went through Redis to the Celery worker
    ingest = [k for k in states if k[0] == "ingest_unit"]
    assert len(ingest) == len(programme.units)
    ran = [ti for ti in tis["task_instances"] if (ti["task_id"], ti["map_index"]) not in review_path]
    hosts = {ti["hostname"] for ti in ran}
    assert all(hosts), hosts
    worker_log = stack.log("celery-worker").read_text(errors="replace")
    received = re.findall(r"Task \S*execute_workload\[[0-9a-f-]+\] received", worker_log)
    assert len(received) >= len(ran), (len(received), len(ran))

    # outputs in the compose output folder, archive beside them
    manifest = json.loads((output / QUARTER / "manifest.json").read_text(encoding="utf-8"))
    assert [u["status"] for u in manifest["units"]] == ["submitted"] * len(programme.units), \
        [f.get("reasons") for f in manifest["files"]][:3]
    archived = list((output / "archive" / QUARTER).iterdir())
    assert len(archived) == len(written)

    # the quarter ends in one e-mail with the workbook, received on loopback
    wait_for(lambda: mail_sink.snapshot(), 60, "the report e-mail")
    messages = mail_sink.snapshot()
    assert len(messages) == 1, [m.subject for m in messages]
    mail = messages[0]
    assert programme.recipients.to[0].email in mail.rcpt_tos
    names = mail.attachment_names()
    assert any(name and name.endswith(".xlsx") for name in names), names
    print(f"celery quarter: {len(states)} task instances, "
          f"{time.monotonic() - started:.0f}s from sample data to e-mail")
