"""Every environment setting in one place, read at call time.

All settings are environment variables named ``REPORT_*``; ``settings()`` reads them
when called (never at import), so a test or a task process sees the environment it
runs in. The README's configuration table is generated from ``SETTINGS`` and a test
keeps the two equal. Secrets are not settings: they come from Airflow connections.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wcreport.core.quarter import Quarter

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MIB = 1024 * 1024


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    description: str
    kind: str = "text"            # text, path (relative to the project folder), int or number


SETTINGS: tuple[Setting, ...] = (
    Setting("REPORT_INBOX", "data/inbox", "inbox root: `<root>/<quarter>/` (DAG param `inbox` overrides)", "path"),
    Setting("REPORT_OUTPUT", "data/output",
            "output root: reports, manifest, archive, ledgers (DAG param `output` overrides)", "path"),
    Setting("REPORT_PROGRAMMES_DIR", "include/programmes", "folder of the programme files `<year>.yaml`", "path"),
    Setting("REPORT_EXPECTATIONS", "expectations", "the Great Expectations project (the reviewed rules)", "path"),
    Setting("REPORT_MAX_FILE_BYTES", str(20 * MIB), "largest inbox file read, in bytes", "int"),
    Setting("REPORT_MAX_UNCOMPRESSED_BYTES", str(200 * MIB), "largest declared unpacked size of a zip-based workbook", "int"),
    Setting("REPORT_OPS_EMAIL", "", "ops addresses for failure alerts (else Airflow Variable `report_ops_email`)"),
    Setting("REPORT_SCHEDULE_AT", "17:00", "time of day the quarterly run fires (HH:MM)"),
    Setting("REPORT_SCHEDULE_WORKDAY_OFFSET", "0", "working days before (-) or after (+) the quarter's last working day", "int"),
    Setting("REPORT_SCHEDULE_TIMEZONE", "Asia/Shanghai", "time zone of the schedule"),
    Setting("REPORT_AIRFLOW_API_URL", "", "Airflow REST API base the dashboard calls (default: its own API server)"),
    Setting("REPORT_OCR_TIMEOUT_SECONDS", "180",
            "time limit for reading one stamped copy (rasterising and OCR of all its pages), in seconds", "number"),
    Setting("REPORT_OCR_DPI", "200", "resolution stamped-copy pages are rasterised and OCR'd at (72-400)", "int"),
    Setting("REPORT_SCAN_MAX_PAGES", "20",
            "most pages a stamped copy may have; longer files are refused before any page is rendered", "int"),
    Setting("REPORT_STAMPED_AGREEMENT_MIN", "0.75",
            "agreement (0-1) of a stamped copy's text with the workbook below which the unit is warned", "number"),
    Setting("REPORT_ACCELERATORS", "on",
            "`off` runs the plain path only: no caches, no quarter-wide batch validation (same results, slower)"),
)
_BY_ENV = {s.env: s for s in SETTINGS}


def _raw(name: str, environ: Mapping[str, str]) -> str:
    value = environ.get(name, "")
    return value if value.strip() else _BY_ENV[name].default


def _path(name: str, environ: Mapping[str, str]) -> Path:
    path = Path(_raw(name, environ)).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _float(name: str, environ: Mapping[str, str]) -> float:
    raw = _raw(name, environ)
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a number") from None


def _int(name: str, environ: Mapping[str, str]) -> int:
    raw = _raw(name, environ)
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a whole number") from None


def _switch(name: str, environ: Mapping[str, str]) -> bool:
    raw = _raw(name, environ).strip().lower()
    if raw not in ("on", "off"):
        raise ValueError(f"environment variable {name}={raw!r} must be on or off")
    return raw == "on"


def accelerators_on(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the speed-ups behind the stage calls (caches, batched validation) are used."""
    return _switch("REPORT_ACCELERATORS", os.environ if environ is None else environ)


@dataclass(frozen=True)
class Settings:
    inbox_root: Path
    output_root: Path
    programmes_dir: Path
    expectations_root: Path
    max_file_bytes: int
    max_uncompressed_bytes: int
    ops_email: str
    schedule_at: str
    schedule_workday_offset: int
    schedule_timezone: str
    airflow_api_url: str
    ocr_timeout_seconds: float
    ocr_dpi: int
    scan_max_pages: int
    stamped_agreement_min: float
    accelerators: bool


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings as the environment says now."""
    env = os.environ if environ is None else environ
    return Settings(
        inbox_root=_path("REPORT_INBOX", env),
        output_root=_path("REPORT_OUTPUT", env),
        programmes_dir=_path("REPORT_PROGRAMMES_DIR", env),
        expectations_root=_path("REPORT_EXPECTATIONS", env),
        max_file_bytes=_int("REPORT_MAX_FILE_BYTES", env),
        max_uncompressed_bytes=_int("REPORT_MAX_UNCOMPRESSED_BYTES", env),
        ops_email=_raw("REPORT_OPS_EMAIL", env),
        schedule_at=_raw("REPORT_SCHEDULE_AT", env),
        schedule_workday_offset=_int("REPORT_SCHEDULE_WORKDAY_OFFSET", env),
        schedule_timezone=_raw("REPORT_SCHEDULE_TIMEZONE", env),
        airflow_api_url=_raw("REPORT_AIRFLOW_API_URL", env),
        ocr_timeout_seconds=_float("REPORT_OCR_TIMEOUT_SECONDS", env),
        ocr_dpi=_int("REPORT_OCR_DPI", env),
        scan_max_pages=_int("REPORT_SCAN_MAX_PAGES", env),
        stamped_agreement_min=_float("REPORT_STAMPED_AGREEMENT_MIN", env),
        accelerators=_switch("REPORT_ACCELERATORS", env),
    )


def child_process_environment(**extra: str) -> dict[str, str]:
    """The environment for a child process (an external tool): ours, plus ``extra``."""
    return {**os.environ, **extra}


def settings_table_markdown() -> str:
    """The README's configuration table (kept equal by a test)."""
    lines = ["| Environment variable | Default | What |", "| --- | --- | --- |"]
    lines += [f"| `{s.env}` | {('`' + s.default + '`') if s.default else '—'} | {s.description} |" for s in SETTINGS]
    return "\n".join(lines)


def inbox_root() -> Path:
    return settings().inbox_root


def output_root() -> Path:
    return settings().output_root


def expectations_root() -> Path:
    return settings().expectations_root


@dataclass(frozen=True)
class QuarterPaths:
    """All folders of one quarter. Layout is documented in docs/manifest.md."""

    quarter: Quarter
    inbox_root: Path
    output_root: Path

    @property
    def inbox(self) -> Path:
        return self.inbox_root / str(self.quarter)

    @property
    def output(self) -> Path:
        return self.output_root / str(self.quarter)

    @property
    def archive(self) -> Path:
        return self.output_root / "archive" / str(self.quarter)

    @property
    def units(self) -> Path:
        return self.output / "units"

    @property
    def feedback(self) -> Path:
        return self.output / "feedback"

    @property
    def data_docs(self) -> Path:
        return self.output / "data_docs"

    @property
    def manifest(self) -> Path:
        return self.output / "manifest.json"

    @property
    def consolidated(self) -> Path:
        return self.output / "consolidated.json"

    @property
    def mail_ledger(self) -> Path:
        return self.output_root / "mail_ledger.json"


def quarter_paths(quarter: Quarter | str, inbox: str | os.PathLike | None = None,
                  output: str | os.PathLike | None = None) -> QuarterPaths:
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    return QuarterPaths(q, Path(inbox) if inbox else inbox_root(),
                        Path(output) if output else output_root())
