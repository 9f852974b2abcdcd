"""The environment settings' specs: each ``REPORT_*`` variable, its default and allowed range,
and the checks that read one (``value_of``), read at call time.

The DAG files read their few parse-time settings (the schedule, the event-intake interval)
from here, without building the ``Settings`` and ``QuarterPaths`` every task uses
(``core.settings``): a DAG processor parses these files again and again. The README's
configuration table is generated from ``SETTINGS`` and a test keeps the two equal.
"""
from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wcreport.core.faults import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parents[3]
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True)
class Setting:
    """One environment variable: its default, what it is, and the values it accepts.

    ``kind`` is text, path (relative to the project folder), int, number, bytes (a whole
    number of bytes, or with a K/M/G suffix), switch (on/off), time (HH:MM) or timezone.
    ``minimum``/``maximum`` bound int, number and bytes; ``allowed`` is the README's
    wording of the range.
    """

    env: str
    default: str
    description: str
    kind: str = "text"
    minimum: float | None = None
    maximum: float | None = None
    allowed: str = ""


def _size(n: float) -> str:
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= factor and n % factor == 0:
            return f"{int(n // factor)} {unit}"
    return f"{int(n)} bytes"


SETTINGS: tuple[Setting, ...] = (
    Setting("REPORT_INBOX", "data/inbox", "inbox root: `<root>/<quarter>/` (DAG param `inbox` overrides)", "path"),
    Setting("REPORT_OUTPUT", "data/output",
            "output root: reports, manifest, archive, ledgers (DAG param `output` overrides)", "path"),
    Setting("REPORT_PROGRAMMES_DIR", "include/programmes", "folder of the programme files `<year>.yaml`", "path"),
    Setting("REPORT_EXPECTATIONS", "expectations", "the Great Expectations project (the reviewed rules)", "path"),
    Setting("REPORT_MAX_FILE_BYTES", str(20 * MIB), "largest inbox file read, in bytes", "bytes",
            64 * KIB, GIB),
    Setting("REPORT_MAX_UNCOMPRESSED_BYTES", str(200 * MIB), "largest declared unpacked size of a zip-based workbook",
            "bytes", MIB, 16 * GIB),
    Setting("REPORT_OPS_EMAIL", "", "ops addresses for failure alerts (else Airflow Variable `report_ops_email`)",
            "emails", allowed="addresses separated by `,` or `;`"),
    Setting("REPORT_CLERK_EMAIL", "", "the clerk's addresses, told when a correction waits for review "
            "(Airflow Variable `report_clerk_email` wins)", "emails", allowed="addresses separated by `,` or `;`"),
    Setting("REPORT_SCHEDULE_AT", "17:00", "time of day the quarterly run fires (HH:MM)", "time",
            allowed="`00:00`–`23:59`"),
    Setting("REPORT_SCHEDULE_WORKDAY_OFFSET", "0", "working days before (-) or after (+) the quarter's last working day",
            "int", -20, 20),
    Setting("REPORT_SCHEDULE_TIMEZONE", "Asia/Shanghai", "time zone of the schedule", "timezone",
            allowed="an IANA time zone name"),
    Setting("REPORT_AIRFLOW_API_URL", "", "Airflow REST API base the dashboard calls (default: its own API server)",
            "url", allowed="empty or an `http://` / `https://` URL"),
    Setting("REPORT_OCR_TIMEOUT_SECONDS", "180",
            "time limit for reading one stamped copy (rasterising and OCR of all its pages), in seconds", "number",
            1, 3600),
    Setting("REPORT_OCR_DPI", "200", "resolution stamped-copy pages are rasterised and OCR'd at", "int", 72, 400),
    Setting("REPORT_SCAN_MAX_PAGES", "20",
            "most pages a stamped copy may have; longer files are refused before any page is rendered", "int", 1, 200),
    Setting("REPORT_STAMPED_AGREEMENT_MIN", "0.75",
            "agreement of a stamped copy's text with the workbook below which the unit is warned", "number", 0, 1),
    Setting("REPORT_PARSE_TIMEOUT_SECONDS", "60",
            "time limit for parsing one file's structure (a workbook into cells, a PDF's pages and text layer) "
            "in its child process, in seconds", "number", 1, 3600),
    Setting("REPORT_PARSE_MEMORY_BYTES", str(GIB),
            "address space of the child process that parses one file; a file needing more is refused", "bytes",
            256 * MIB, 16 * GIB),
    Setting("REPORT_ACCELERATORS", "on",
            "`off` runs the plain path only: no caches, no quarter-wide batch validation, a fresh child "
            "process per parse (same results, slower)",
            "switch", allowed="`on` or `off`"),
    Setting("REPORT_YEAR_TO_DATE", "off",
            "`on`: the first three quarters' workbooks open with the year so far (年度总结, 年度, 年度指标) as the "
            "fourth quarter's always does", "switch", allowed="`on` or `off`"),
    Setting("REPORT_EVENT_INTAKE_SECONDS", "5",
            "seconds between the event-driven intake's listings of the shared folder (`unit_intake`; the mailbox is "
            "watched by IMAP IDLE); `0` switches event-driven intake off (the hourly mail poll and the quarter-end "
            "run stay)", "int", 0, 300),
)
_BY_ENV = {s.env: s for s in SETTINGS}


def allowed_values(spec: Setting) -> str:
    """The README's (and the errors') wording of what ``spec`` accepts."""
    if spec.allowed:
        return spec.allowed
    if spec.kind == "path":
        return "a folder (relative to the project folder, or absolute)"
    if spec.kind == "bytes":
        return (f"bytes, {_size(spec.minimum or 0)}–{_size(spec.maximum or 0)}; "
                "suffixes `K`/`KB`/`KiB`, `M`/`MB`/`MiB`, `G`/`GB`/`GiB` (all ×1024), e.g. `20MB`")
    if spec.kind in ("int", "number"):
        low, high = spec.minimum, spec.maximum
        word = "a whole number" if spec.kind == "int" else "a number"
        return f"{word}, {low:g} to {high:g}"
    return "any text"


# --- parsing and checking one value ------------------------------------------
def _raw(name: str, environ: Mapping[str, str]) -> str:
    value = environ.get(name, "")
    return value.strip() if value.strip() else _BY_ENV[name].default


def _refuse(spec: Setting, raw: str, why: str) -> SettingsError:
    return SettingsError(f"environment variable {spec.env}={raw!r} {why}; allowed: {allowed_values(spec)}",
                         f"correct {spec.env} in the workers' environment (or unset it for the default "
                         f"{spec.default!r}), then clear the task")


def _in_range(spec: Setting, raw: str, value: float) -> None:
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise _refuse(spec, raw, "is out of range")


_BYTES_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:([KMG])(?:iB|B)?|B)?$", re.IGNORECASE)
_FACTORS = {"": 1, "K": KIB, "M": MIB, "G": GIB}


def _bytes(spec: Setting, raw: str) -> int:
    match = _BYTES_RE.match(raw)
    suffix = (match.group(2) or "").upper() if match else ""
    if not match or (not suffix and "." in match.group(1)):
        raise _refuse(spec, raw, "is not a size in bytes")
    value = int(float(match.group(1)) * _FACTORS[suffix])
    if spec.minimum is not None and 0 < value < spec.minimum and not suffix:
        # "20" meant as megabytes: say what to write instead.
        number = match.group(1)
        raise _refuse(spec, raw, f"is below the minimum {_size(spec.minimum)}: the unit is bytes, "
                                 f"for {number} MB write {value * MIB} or {number}MB")
    _in_range(spec, raw, value)
    return value


def _int(spec: Setting, raw: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", raw):
        raise _refuse(spec, raw, "is not a whole number")
    value = int(raw)
    _in_range(spec, raw, value)
    return value


def _number(spec: Setting, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _refuse(spec, raw, "is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _refuse(spec, raw, "is not a finite number")
    _in_range(spec, raw, value)
    return value


def _switch(spec: Setting, raw: str) -> bool:
    if raw.lower() not in ("on", "off"):
        raise _refuse(spec, raw, "is neither on nor off")
    return raw.lower() == "on"


def _time(spec: Setting, raw: str) -> str:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", raw)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise _refuse(spec, raw, "is not a time of day HH:MM")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _timezone(spec: Setting, raw: str) -> str:
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _refuse(spec, raw, "is not a known time zone") from None
    return raw


def _emails(spec: Setting, raw: str) -> str:
    parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
    bad = [p for p in parts if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", p)]
    if bad:
        raise _refuse(spec, raw, f"has {bad[0]!r}, which is not a mail address")
    return raw


def _url(spec: Setting, raw: str) -> str:
    if raw and not re.match(r"^https?://[^\s/]+", raw):
        raise _refuse(spec, raw, "is not an http(s) URL")
    return raw


def _path_value(spec: Setting, raw: str) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


_PARSERS: dict[str, Callable[[Setting, str], Any]] = {
    "bytes": _bytes, "int": _int, "number": _number, "switch": _switch, "time": _time,
    "timezone": _timezone, "emails": _emails, "url": _url, "path": _path_value,
    "text": lambda spec, raw: raw,
}


def value_of(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting, parsed and checked; SettingsError names it, its value and the allowed range."""
    spec = _BY_ENV[name]
    return _PARSERS[spec.kind](spec, _raw(name, os.environ if environ is None else environ))


def check_settings(environ: Mapping[str, str] | None = None) -> None:
    """Every setting checked at once: one SettingsError listing all that are wrong."""
    env = os.environ if environ is None else environ
    problems = []
    for spec in SETTINGS:
        try:
            value_of(spec.env, env)
        except SettingsError as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise SettingsError(f"{len(problems)} settings are wrong: " + " | ".join(str(p) for p in problems))


def accelerators_on(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the speed-ups behind the stage calls (caches, batched validation) are used."""
    return bool(value_of("REPORT_ACCELERATORS", environ))


def ops_email(environ: Mapping[str, str] | None = None) -> str:
    """The ops addresses alone: a failure alert about another wrong setting still finds them."""
    try:
        return str(value_of("REPORT_OPS_EMAIL", environ))
    except SettingsError:
        return _raw("REPORT_OPS_EMAIL", os.environ if environ is None else environ)


@dataclass(frozen=True)
class ScheduleSettings:
    at: str
    workday_offset: int
    timezone: str


def schedule_settings(environ: Mapping[str, str] | None = None) -> ScheduleSettings:
    """Only the schedule's settings: the DAG file reads them at parse time, and another wrong
    setting must fail the run's first task (with an alert), not the DAG's import."""
    return ScheduleSettings(at=value_of("REPORT_SCHEDULE_AT", environ),
                            workday_offset=value_of("REPORT_SCHEDULE_WORKDAY_OFFSET", environ),
                            timezone=value_of("REPORT_SCHEDULE_TIMEZONE", environ))


def event_intake_seconds(environ: Mapping[str, str] | None = None) -> int:
    """Only this setting: ``dags/unit_intake.py`` reads it at parse time (0: no watchers)."""
    return int(value_of("REPORT_EVENT_INTAKE_SECONDS", environ))


def child_process_environment(**extra: str) -> dict[str, str]:
    """The environment for a child process (an external tool): ours, plus ``extra``."""
    return {**os.environ, **extra}


def use_environment(environ: Mapping[str, str]) -> None:
    """Make ``environ`` this process's environment: a child process (``intake.bounded``) reads
    the settings its caller reads, not those its fork server started with."""
    os.environ.clear()
    os.environ.update(environ)


def settings_table_markdown() -> str:
    """The README's configuration table (kept equal by a test)."""
    lines = ["| Environment variable | Default | What | Allowed |", "| --- | --- | --- | --- |"]
    lines += [f"| `{s.env}` | {('`' + s.default + '`') if s.default else '—'} | {s.description} | "
              f"{allowed_values(s)} |" for s in SETTINGS]
    return "\n".join(lines)
