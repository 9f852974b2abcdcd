"""Reading docker-compose.yaml and .env the way Compose does (a subset), for the tests.

Shared by tests/deploy/test_compose.py (static checks) and
tests/integration/test_celery_quarter.py (which runs the compose configuration natively).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def referenced_vars(value) -> list[tuple[str, str | None]]:
    """(name, operator) of every ${VAR...} in a compose value; operator is ':-', ':?', ... or None."""
    found = []
    for m in _VAR.finditer(str(value)):
        if m.group(0) != "$$":
            found.append((m.group(1) or m.group(4), m.group(2)))
    return found


def interpolate(value, env: dict[str, str]) -> str:
    """Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}."""
    def repl(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        val = env.get(name)
        if op in (":-", ":?") and not val or op in ("-", "?") and val is None:
            if op.endswith("?"):
                raise KeyError(f"${{{name}}} is required ({arg})")
            return arg
        return val or ""
    return _VAR.sub(repl, str(value))


def service_env(service: dict, env: dict[str, str]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {k: interpolate("" if v is None else v, env) for k, v in raw.items()}


@dataclass(frozen=True)
class Mount:
    source: str            # host path, ./relative path or named volume
    target: PurePosixPath
    read_only: bool

    @property
    def is_named(self) -> bool:
        return not self.source.startswith((".", "/", "~", "$"))


def service_mounts(service: dict, env: dict[str, str]) -> list[Mount]:
    mounts = []
    for item in service.get("volumes") or []:
        if isinstance(item, dict):
            mounts.append(Mount(interpolate(item.get("source", ""), env),
                                PurePosixPath(item["target"]), bool(item.get("read_only"))))
            continue
        parts = interpolate(item, env).split(":")
        mode = parts[2] if len(parts) > 2 else "rw"
        mounts.append(Mount(parts[0], PurePosixPath(parts[1]), "ro" in mode.split(",")))
    return mounts


def mount_of(path: PurePosixPath, mounts: list[Mount]) -> Mount | None:
    """The most specific mount that holds ``path``."""
    holding = [m for m in mounts if path == m.target or m.target in path.parents]
    return max(holding, key=lambda m: len(m.target.parts), default=None)
