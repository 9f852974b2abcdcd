"""docker-compose.yaml agrees with the Dockerfile, the requirements and what the code reads.

No Docker engine runs in CI, so the deployment is checked statically:

* the environment variables the ``wcreport`` package reads are found by parsing its
  source (``os.environ.get``/``os.getenv``/``os.environ[...]`` and helpers such as
  ``settings._env_path``), not copied by hand; each must be set in every Airflow
  service, and those read as paths must lie on a mount of that service;
* the code is then called with the compose environment (``QuarterPaths``,
  ``expectations_root``, ``programme_path_for``) and every folder it would read or
  write is mapped back through the mounts: inputs must be mounted, outputs (archive,
  manifests, mail ledger, ...) must be mounted writable, the programme files must be
  the ones in this checkout;
* commands are parsed by Airflow's own CLI parser, ``AIRFLOW__*`` keys are checked
  against Airflow's configuration description (run in a subprocess with a scratch
  AIRFLOW_HOME), and the image, requirements and venv name the same Airflow;
* production hygiene: healthchecks, restart policies, no default secrets, every
  ``${VAR}`` documented in .env.example, a scalable worker, the mail catcher in a
  profile nobody depends on.

``compose_problems`` returns sentences; the mutation tests show that it notices a
dropped mount, a read-only output, a missing variable, a bad command, and so on.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

pytestmark = pytest.mark.slow
# Sections our own Airflow plugins read (the UI's default language and time zone).
OUR_PLUGIN_OPTIONS = {"wcreport_ui": ["default_language", "default_timezone"]}
ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "include" / "wcreport"
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
REQUIREMENTS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements.lock"
DOCKERIGNORE = ROOT / ".dockerignore"

# The Airflow 3 components of the official compose file and the CLI command each runs.
COMPONENTS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
INIT = "airflow-init"
WORKER = "airflow-worker"
APISERVER = "airflow-apiserver"
POSTGRES = "postgres"
REDIS = "redis"
TRIAL_PROFILE = "trial"
AIRFLOW_HOME_IN_IMAGE = PurePosixPath("/opt/airflow")   # AIRFLOW_HOME of apache/airflow images
SECRET_WORDS = re.compile(r"SECRET|PASSWORD|FERNET|JWT|AIRFLOW_CONN_", re.I)


from compose_model import (  # noqa: E402
    Mount,
    load_compose,
    mount_of,
    read_env_file,
    referenced_vars,
    service_env,
    service_mounts,
)


def command_text(service: dict) -> str:
    cmd = service.get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else str(cmd)


# --- what the code reads ----------------------------------------------------
@dataclass(frozen=True)
class EnvRead:
    name: str
    module: str
    is_path: bool
    default: str | None


def code_env_reads() -> dict[str, EnvRead]:
    """Every environment variable the package reads: the one declaration in core/setting_specs.py
    (tests/core/test_settings.py checks no other module reads the environment)."""
    from wcreport.core.settings import SETTINGS

    return {s.env: EnvRead(s.env, "wcreport.core.settings", s.kind == "path", s.default or None)
            for s in SETTINGS}


def code_default(read: EnvRead) -> str | None:
    """The default the code falls back to (None if it has none)."""
    return read.default


@contextlib.contextmanager
def environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# --- Dockerfile and requirements ---------------------------------------------
def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def requirement_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(==\s*([^\s;]+))?", line)
        if m and not line.startswith("-"):
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3) or ""
    return pins


# --- facts only Airflow knows (a subprocess keeps its config out of this one) -----
_AIRFLOW_PROBE = r"""
import json, sys
from airflow.configuration import conf
from airflow.cli.cli_parser import get_parser
options = {s: sorted(d.get("options", {})) for s, d in conf.configuration_description.items()}
parser, commands = get_parser(), {}
for cmd in json.loads(sys.argv[1]):
    try:
        args = parser.parse_args(cmd.split())
        commands[cmd] = getattr(args, "func", None) is not None
    except SystemExit:
        commands[cmd] = False
try:   # the executor compose names must import with the installed (locked) versions
    import airflow.providers.celery.executors.celery_executor_utils  # noqa: F401
    celery_error = None
except Exception as exc:
    celery_error = f"{type(exc).__name__}: {exc}"
print("PROBE" + json.dumps({"options": options, "commands": commands, "celery_error": celery_error}))
"""


@dataclass
class AirflowFacts:
    options: dict[str, list[str]]
    commands: dict[str, bool]
    celery_error: str | None = None

    def has_option(self, env_key: str) -> bool:
        _, section, key = env_key.split("__", 2)
        return key.lower() in self.options.get(section.lower(), []) + OUR_PLUGIN_OPTIONS.get(section.lower(), [])


def probe_airflow(commands: list[str], scratch: Path) -> AirflowFacts:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["AIRFLOW_HOME"] = str(scratch)
    result = subprocess.run([sys.executable, "-c", _AIRFLOW_PROBE, json.dumps(commands)],
                            env=env, capture_output=True, text=True, timeout=300)
    line = next((l for l in result.stdout.splitlines() if l.startswith("PROBE")), None)
    assert line, result.stdout[-2000:] + result.stderr[-2000:]
    return AirflowFacts(**json.loads(line[len("PROBE"):]))


# --- the check ---------------------------------------------------------------
@dataclass
class Project:
    root: Path
    env_example: dict[str, str]
    dockerfile: list[tuple[str, str]]
    requirements: dict[str, str] | None
    lock: dict[str, str] | None
    env_reads: dict[str, EnvRead]
    airflow: AirflowFacts


def airflow_services(compose: dict) -> dict[str, dict]:
    """Services running our image: built from this folder's Dockerfile."""
    return {name: svc for name, svc in compose.get("services", {}).items() if "build" in svc}


def compose_problems(compose: dict, project: Project) -> list[str]:
    problems: list[str] = []
    say = problems.append
    env = project.env_example
    services = compose.get("services", {})
    ours = airflow_services(compose)

    for name in [POSTGRES, REDIS, INIT, *COMPONENTS]:
        if name not in services:
            say(f"service {name} is missing")
    for name in [INIT, *COMPONENTS]:
        if name in services and name not in ours:
            say(f"{name}: not built from the Dockerfile (no build:)")

    problems += _dockerfile_problems(ours, project)
    problems += _variable_problems(compose, project)

    try:
        envs = {name: service_env(svc, env) for name, svc in ours.items()}
        mounts = {name: service_mounts(svc, env) for name, svc in ours.items()}
    except KeyError as exc:
        return problems + [f".env.example does not satisfy docker-compose.yaml: {exc}"]

    for name, svc in ours.items():
        problems += _command_problems(name, svc, envs[name], project)
        problems += _environment_problems(name, envs[name], services, project)
        problems += _mount_problems(name, envs[name], mounts[name], compose, project)
    problems += _agreement_problems(envs, mounts, project)
    problems += _default_problems(ours, project)
    problems += _operations_problems(compose, services)
    return problems


def _dockerfile_problems(ours: dict[str, dict], project: Project) -> list[str]:
    out = []
    froms = [arg for word, arg in project.dockerfile if word == "FROM"]
    m = re.fullmatch(r"apache/airflow:(?:slim-)?(\d+\.\d+\.\d+)(?:-python(\d+\.\d+))?", froms[-1]) \
        if froms else None
    if not m:
        return [f"Dockerfile: FROM must be an official apache/airflow:<version> image, got {froms}"]
    image_version, image_python = m.group(1), m.group(2)
    from importlib.metadata import version
    tested = version("apache-airflow")
    if image_version != tested:
        out.append(f"Dockerfile: FROM Airflow {image_version} but the tested venv runs {tested}")
    if project.requirements is not None:
        pinned = project.requirements.get("apache-airflow")
        if pinned != image_version:
            out.append(f"Dockerfile: FROM Airflow {image_version} but requirements.txt pins {pinned!r}")
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if image_python and image_python != running:
        out.append(f"Dockerfile: image Python {image_python} but the lock is tested on {running}")
    runs = " ".join(arg for word, arg in project.dockerfile if word == "RUN")
    copies = [arg.split() for word, arg in project.dockerfile if word == "COPY"]
    copied = {src.rstrip("/"): dest for parts in copies
              for src in [p for p in parts[:-1] if not p.startswith("--")] for dest in [parts[-1]]}
    if not re.search(r"pip install[^&;]*-r\s+\S*requirements\.txt", runs) or "requirements.txt" not in copied:
        out.append("Dockerfile: must COPY requirements.txt and pip install -r it")
    if project.lock is not None and not re.search(r"-c\s+\S*requirements\.lock", runs):
        out.append("Dockerfile: must install with -c requirements.lock (the tested resolution)")
    if "_PIP_ADDITIONAL_REQUIREMENTS" in json.dumps(list(ours.values())):
        out.append("compose: _PIP_ADDITIONAL_REQUIREMENTS must not be used; build the image")
    if not re.search(r"pip install[^&;]*--no-deps[^&;]*(-e\s+)?(/opt/airflow|\.)(\s|$)", runs):
        out.append("Dockerfile: must install the project package (pip install --no-deps ...)")
    if "include" not in copied or "pyproject.toml" not in copied:
        out.append("Dockerfile: must COPY pyproject.toml and include/ to install the package")
    ignored = set()
    if DOCKERIGNORE.exists():
        ignored = {l.strip().rstrip("/") for l in DOCKERIGNORE.read_text().splitlines()
                   if l.strip() and not l.startswith(("#", "!"))}
    for src in copied:
        if src in ignored:
            out.append(f".dockerignore excludes {src}, which the Dockerfile copies")
        elif not (project.root / src).exists():
            out.append(f"Dockerfile copies {src}, which does not exist")
    images = {svc.get("image") for svc in ours.values()}
    if len(images) != 1:
        out.append(f"compose: Airflow services use different images {sorted(map(str, images))}")
    for name, svc in ours.items():
        build = svc["build"] if isinstance(svc["build"], dict) else {"context": svc["build"]}
        ctx = project.root / build.get("context", ".")
        if ctx.resolve() != project.root.resolve() or \
                (ctx / build.get("dockerfile", "Dockerfile")).resolve() != DOCKERFILE.resolve():
            out.append(f"{name}: build must use this folder's Dockerfile")
    return out


def _variable_problems(compose: dict, project: Project) -> list[str]:
    out = []
    text = json.dumps(compose)
    used = {}
    for name, op in referenced_vars(text):
        used.setdefault(name, set()).add(op)
    for name in sorted(used):
        if name not in project.env_example:
            out.append(f".env.example lacks {name}, which docker-compose.yaml uses")
    for name in sorted(project.env_example):
        if name not in used and not name.startswith("COMPOSE_"):
            out.append(f".env.example sets {name}, which docker-compose.yaml never uses")
        if SECRET_WORDS.search(name) and "change-me" not in project.env_example[name] \
                and not project.env_example[name].startswith("smtp://mailpit:"):
            out.append(f".env.example: {name} must hold a change-me placeholder, not a value")
    return out


def _command_problems(name: str, svc: dict, env: dict[str, str], project: Project) -> list[str]:
    out = []
    cmd = command_text(svc)
    if name in COMPONENTS:
        if cmd != COMPONENTS[name]:
            out.append(f"{name}: command is {cmd!r}, expected {COMPONENTS[name]!r}")
        if not project.airflow.commands.get(cmd):
            out.append(f"{name}: {cmd!r} is not an Airflow CLI command")
        if "entrypoint" in svc:
            out.append(f"{name}: must keep the image's entrypoint")
    elif name == INIT:
        for needed in ("airflow db migrate", "airflow connections get smtp_default"):
            if needed not in cmd:
                out.append(f"{INIT}: its script must run `{needed}`")
        pw_file = env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
        if pw_file and pw_file not in cmd:
            out.append(f"{INIT}: must write the admin password to {pw_file}")
    return out


def _environment_problems(name: str, env: dict[str, str], services: dict, project: Project) -> list[str]:
    out = []
    for key in env:
        if key.startswith("AIRFLOW__") and key.count("__") >= 2 and not project.airflow.has_option(key):
            out.append(f"{name}: {key} is not an Airflow configuration option")
    if env.get("AIRFLOW__CORE__EXECUTOR") != "CeleryExecutor":
        out.append(f"{name}: AIRFLOW__CORE__EXECUTOR must be CeleryExecutor")
    elif project.airflow.celery_error:
        out.append(f"{name}: CeleryExecutor does not import with the installed packages "
                   f"({project.airflow.celery_error}); pin a celery the provider supports")
    from urllib.parse import urlsplit
    exec_url = urlsplit(env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", ""))
    api_ports = {str(p).split(":")[-1] for p in services.get(APISERVER, {}).get("ports", [])}
    if exec_url.hostname != APISERVER or str(exec_url.port) not in api_ports \
            or exec_url.path != "/execution/":
        out.append(f"{name}: AIRFLOW__CORE__EXECUTION_API_SERVER_URL must be "
                   f"http://{APISERVER}:<its port>/execution/")
    for key, host in [("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", POSTGRES),
                      ("AIRFLOW__CELERY__RESULT_BACKEND", POSTGRES),
                      ("AIRFLOW__CELERY__BROKER_URL", REDIS)]:
        if urlsplit(env.get(key, "")).hostname != host:
            out.append(f"{name}: {key} must point at the {host} service")
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
                "AIRFLOW__API__SECRET_KEY", "AIRFLOW_CONN_SMTP_DEFAULT"):
        if not env.get(key):
            out.append(f"{name}: {key} must be set")
    if project.requirements is not None:
        needed = {"apache-airflow-providers-celery": "CeleryExecutor",
                  "redis": "the Redis broker",
                  "apache-airflow-providers-smtp": "the smtp_default connection",
                  "apache-airflow-providers-postgres": "the PostgreSQL metadata DB"}
        if "psycopg2" in env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""):
            needed["psycopg2-binary|psycopg2"] = "the psycopg2 driver"
        for reqs, why in needed.items():
            if not any(r in project.requirements for r in reqs.split("|")):
                out.append(f"requirements.txt lacks {reqs}, needed for {why}")
    for var, read in project.env_reads.items():
        if var not in env:
            out.append(f"{name}: {var} is not set, but {read.module} reads it")
        elif env[var] == "" and code_default(read) not in (None, ""):
            out.append(f"{name}: {var} is empty, which replaces {read.module}'s default")
    return out


def _default_problems(ours: dict[str, dict], project: Project) -> list[str]:
    """A compose fallback ${VAR:-D} for a variable the code reads must equal the code's default."""
    out = []
    for name, svc in ours.items():
        raw = svc.get("environment") or {}
        for var, read in project.env_reads.items():
            m = re.fullmatch(r"\$\{(\w+):?-([^}]*)\}", str(raw.get(var, "")))
            default = code_default(read) if m and not read.is_path else None
            if m and default is not None and m.group(2) != default:
                out.append(f"{name}: {var} falls back to {m.group(2)!r} in compose "
                           f"but to {default!r} in {read.module}")
    return out


def _mount_problems(name: str, env: dict[str, str], mounts: list[Mount], compose: dict,
                    project: Project) -> list[str]:
    out = []
    top_volumes = compose.get("volumes") or {}
    for m in mounts:
        if m.is_named and m.source not in top_volumes:
            out.append(f"{name}: volume {m.source} is not declared")
        elif not m.is_named and m.source.startswith(".") and not (project.root / m.source).exists():
            out.append(f"{name}: mounts {m.source}, which does not exist")

    def host_path(container: PurePosixPath) -> Path | None:
        m = mount_of(container, mounts)
        if m is None or m.is_named:
            return None
        return project.root / m.source / container.relative_to(m.target)

    def need(container: PurePosixPath, what: str, writable: bool) -> None:
        m = mount_of(container, mounts)
        if m is None:
            out.append(f"{name}: {what} ({container}) is on no mount")
        elif writable and m.read_only:
            out.append(f"{name}: {what} ({container}) is written by the code but mounted read-only")

    # 1. every path the code reads from the environment lies on a mount
    for var, read in project.env_reads.items():
        if read.is_path and var in env:
            if not PurePosixPath(env[var]).is_absolute():
                out.append(f"{name}: {var}={env[var]!r} must be an absolute container path")
            else:
                need(PurePosixPath(env[var]), var, writable=False)

    # 2. call the code with this service's environment and map what it uses
    code_env = {k: v for k, v in env.items() if k in project.env_reads}
    with environment(code_env):
        from wcreport.core import programme, settings

        paths = settings.quarter_paths("2023Q1")
        for prop in (p for p, v in vars(type(paths)).items() if isinstance(v, property)):
            value = PurePosixPath(getattr(paths, prop))
            if value == PurePosixPath(paths.inbox_root) or PurePosixPath(paths.inbox_root) in value.parents:
                need(value, f"inbox ({prop})", writable=False)
                inbox_mount = mount_of(value, mounts)
                if inbox_mount is not None and not inbox_mount.read_only:
                    out.append(f"{name}: the units' inbox must be mounted read-only")
            else:
                need(value, f"quarter output ({prop})", writable=True)
        expectations = PurePosixPath(settings.expectations_root())
        need(expectations, "expectations (GX project)", writable=True)
        host = host_path(expectations)
        if host is None or not (host / "gx").is_dir():
            out.append(f"{name}: expectations_root() must be ./expectations of this checkout")
        for shipped in sorted((project.root / "include" / "programmes").glob("*.yaml")):
            wanted = PurePosixPath(programme.programme_path_for(int(shipped.stem)))
            need(wanted, f"programme {shipped.name}", writable=False)
            host = host_path(wanted)
            if host is None or not host.is_file() or host.resolve() != shipped.resolve():
                out.append(f"{name}: programme_path_for({shipped.stem}) -> {wanted} is not "
                           f"include/programmes/{shipped.name} of this checkout")

    # 3. Airflow's own folders and the installed package
    dags_folder = PurePosixPath(env.get("AIRFLOW__CORE__DAGS_FOLDER", AIRFLOW_HOME_IN_IMAGE / "dags"))
    plugins_folder = PurePosixPath(env.get("AIRFLOW__CORE__PLUGINS_FOLDER",
                                           AIRFLOW_HOME_IN_IMAGE / "plugins"))
    for folder, repo_dir in [(dags_folder, "dags"), (plugins_folder, "plugins")]:
        host = host_path(folder)
        if host is None or host.resolve() != (project.root / repo_dir).resolve():
            out.append(f"{name}: ./{repo_dir} must be mounted at {folder}")
    include_dest = next((parts[-1] for word, arg in project.dockerfile if word == "COPY"
                         for parts in [arg.split()] if "include/" in parts[:-1] or "include" in parts[:-1]),
                        None)
    host = host_path(PurePosixPath(include_dest.rstrip("/"))) if include_dest else None
    if host is None or host.resolve() != (project.root / "include").resolve():
        out.append(f"{name}: ./include must be mounted where the Dockerfile installs it ({include_dest})")
    logs = mount_of(AIRFLOW_HOME_IN_IMAGE / "logs", mounts)
    if logs is None or not logs.is_named or logs.read_only:
        out.append(f"{name}: /opt/airflow/logs must be a shared writable named volume")
    return out


def _agreement_problems(envs: dict[str, dict], mounts: dict[str, list[Mount]],
                        project: Project) -> list[str]:
    out = []
    shared = {k for e in envs.values() for k in e
              if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_")) or k in project.env_reads}
    for key in sorted(shared):
        if len({envs[n].get(key) for n in envs}) > 1:
            out.append(f"{key} differs between services: {sorted(envs)}")
    logs = {n: next((m.source for m in ms if m.target == AIRFLOW_HOME_IN_IMAGE / "logs"), None)
            for n, ms in mounts.items()}
    if len(set(logs.values())) > 1:
        out.append(f"task logs are not one shared volume: {logs}")
    return out


def _operations_problems(compose: dict, services: dict) -> list[str]:
    out = []
    profiled = {n for n, s in services.items() if s.get("profiles")}
    for name, svc in services.items():
        one_shot = name == INIT
        restart = str(svc.get("restart", "no"))
        if one_shot and restart not in ("no", "on-failure"):
            out.append(f"{name}: a one-shot service must not restart ({restart})")
        if not one_shot and restart not in ("always", "unless-stopped", "on-failure"):
            out.append(f"{name}: needs a restart policy")
        if not one_shot and "healthcheck" not in svc:
            out.append(f"{name}: needs a healthcheck")
        deps = svc.get("depends_on") or {}
        for dep in deps:
            if dep in profiled and not svc.get("profiles"):
                out.append(f"{name}: depends on {dep}, which only runs in a profile")
        if name in COMPONENTS:
            wanted = {INIT: "service_completed_successfully", POSTGRES: "service_healthy",
                      REDIS: "service_healthy"}
            for dep, cond in wanted.items():
                got = deps.get(dep, {}).get("condition") if isinstance(deps, dict) else None
                if got != cond:
                    out.append(f"{name}: must depend on {dep} with {cond}")
        for key, value in (svc.get("environment") or {}).items() if isinstance(
                svc.get("environment"), dict) else []:
            refs = referenced_vars(value)
            if SECRET_WORDS.search(key) and key != "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE":
                if not refs or any(op not in (":?", "?") for _, op in refs):
                    out.append(f"{name}: {key} must come from a required ${{VAR:?}} with no default")
    worker = services.get(WORKER, {})
    if "container_name" in worker or any(":" in str(p) for p in worker.get("ports", [])):
        out.append(f"{WORKER}: must not set container_name or publish ports (--scale)")
    catchers = [n for n, s in services.items() if TRIAL_PROFILE in (s.get("profiles") or [])]
    if not catchers:
        out.append(f"no mail catcher in the {TRIAL_PROFILE!r} profile")
    return out


# --- tests -------------------------------------------------------------------
@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    compose = load_compose()
    commands = sorted({command_text(s) for s in compose["services"].values()} | set(COMPONENTS.values())
                      | {"celery wrker"})
    return Project(
        root=ROOT,
        env_example=read_env_file(),
        dockerfile=dockerfile_instructions(),
        requirements=requirement_pins(REQUIREMENTS) if REQUIREMENTS.exists() else None,
        lock=requirement_pins(LOCK) if LOCK.exists() else None,
        env_reads=code_env_reads(),
        airflow=probe_airflow(commands, tmp_path_factory.mktemp("airflow_probe")),
    )


def test_code_env_reads_are_found_in_the_source(project):
    reads = project.env_reads
    # the four roots wcreport.core.settings / wcreport.core.programme document, read as paths
    for var in ("REPORT_INBOX", "REPORT_OUTPUT", "REPORT_EXPECTATIONS", "REPORT_PROGRAMMES_DIR"):
        assert var in reads and reads[var].is_path, sorted(reads)


def test_compose_agrees_with_dockerfile_requirements_and_code(project):
    assert compose_problems(load_compose(), project) == []


def test_requirements_and_lock_exist(project):
    assert project.requirements is not None, "requirements.txt is missing"
    assert project.lock is not None, "requirements.lock is missing"
    assert project.lock.get("apache-airflow") == project.requirements.get("apache-airflow")


def _volumes_without(svc: dict, target: str) -> list:
    return [v for v in svc["volumes"]
            if (v.get("target") if isinstance(v, dict) else v.split(":")[1]) != target]


def _set_mode(svc: dict, target: str, mode: str) -> None:
    svc["volumes"] = [":".join(v.split(":")[:2] + [mode]) if v.split(":")[1] == target else v
                      for v in svc["volumes"]]


def _env(svc: dict) -> dict:
    svc["environment"] = dict(svc["environment"])   # un-share the YAML anchor
    return svc["environment"]


MUTATIONS = {
    "worker loses the output mount": (
        lambda c: c["services"][WORKER].update(
            volumes=_volumes_without(c["services"][WORKER], "/opt/airflow/data/output")),
        "airflow-worker: quarter output"),
    "worker gets the output read-only": (
        lambda c: _set_mode(c["services"][WORKER], "/opt/airflow/data/output", "ro"),
        "mounted read-only"),
    "dag-processor loses include/": (
        lambda c: c["services"]["airflow-dag-processor"].update(
            volumes=_volumes_without(c["services"]["airflow-dag-processor"], "/opt/airflow/include")),
        "airflow-dag-processor: REPORT_PROGRAMMES_DIR"),
    "scheduler loses the inbox mount": (
        lambda c: c["services"]["airflow-scheduler"].update(
            volumes=_volumes_without(c["services"]["airflow-scheduler"], "/opt/airflow/data/inbox")),
        "airflow-scheduler: REPORT_INBOX"),
    "inbox becomes writable": (
        lambda c: _set_mode(c["services"][WORKER], "/opt/airflow/data/inbox", "rw"),
        "inbox must be mounted read-only"),
    "api-server forgets REPORT_OUTPUT": (
        lambda c: _env(c["services"][APISERVER]).pop("REPORT_OUTPUT"),
        "airflow-apiserver: REPORT_OUTPUT is not set"),
    "REPORT_PROGRAMMES_DIR points off the include mount": (
        lambda c: _env(c["services"][WORKER]).update(REPORT_PROGRAMMES_DIR="/srv/programmes"),
        "programme_path_for"),
    "worker runs a command Airflow does not have": (
        lambda c: c["services"][WORKER].update(command="celery wrker"),
        "not an Airflow CLI command"),
    "a misspelt Airflow option": (
        lambda c: _env(c["services"]["airflow-triggerer"]).update(AIRFLOW__CORE__EXECUTER="x"),
        "not an Airflow configuration option"),
    "a default secret": (
        lambda c: _env(c["services"][WORKER]).update(AIRFLOW__CORE__FERNET_KEY="${AIRFLOW_FERNET_KEY:-abc}"),
        "must come from a required"),
    "worker pinned by container_name": (
        lambda c: c["services"][WORKER].update(container_name="worker"),
        "--scale"),
    "scheduler without healthcheck": (
        lambda c: c["services"]["airflow-scheduler"].pop("healthcheck"),
        "airflow-scheduler: needs a healthcheck"),
    "worker depends on the trial mail catcher": (
        lambda c: c["services"][WORKER]["depends_on"].update(mailpit={"condition": "service_started"}),
        "only runs in a profile"),
    "execution API pointed elsewhere": (
        lambda c: _env(c["services"][WORKER]).update(
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://localhost:8080/execution/"),
        "EXECUTION_API_SERVER_URL"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_check_fails_on_a_broken_copy(project, mutation):
    change, expected = MUTATIONS[mutation]
    # YAML anchors are shared objects (deepcopy keeps the sharing): the mutations replace,
    # never edit in place, what they change in one service.
    broken = copy.deepcopy(load_compose())
    change(broken)
    problems = compose_problems(broken, project)
    assert any(expected in p for p in problems), problems


def test_mutating_a_copy_leaves_the_real_file_alone(project):
    assert compose_problems(load_compose(), project) == []
