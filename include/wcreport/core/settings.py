"""Every environment setting in one place, read at call time.

All settings are environment variables named ``REPORT_*`` (their specs and checks:
``core.setting_specs``); ``settings()`` reads them when called (never at import), so a test
or a task process sees the environment it runs in. Secrets are not settings: they come from
Airflow connections.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wcreport.core.quarter import Quarter
from wcreport.core.setting_specs import (
    GIB,
    KIB,
    MIB,
    PROJECT_ROOT,
    SETTINGS,
    ScheduleSettings,
    Setting,
    accelerators_on,
    allowed_values,
    check_settings,
    child_process_environment,
    event_intake_seconds,
    ops_email,
    schedule_settings,
    settings_table_markdown,
    use_environment,
    value_of,
)

__all__ = [
    "GIB", "KIB", "MIB", "PROJECT_ROOT", "SETTINGS", "QuarterPaths", "ScheduleSettings", "Setting", "Settings",
    "accelerators_on", "allowed_values", "check_settings", "child_process_environment", "event_intake_seconds",
    "expectations_root", "inbox_root", "ops_email", "output_root", "quarter_paths", "schedule_settings",
    "settings", "settings_table_markdown", "use_environment", "value_of",
]


@dataclass(frozen=True)
class Settings:
    inbox_root: Path
    output_root: Path
    programmes_dir: Path
    expectations_root: Path
    max_file_bytes: int
    max_uncompressed_bytes: int
    ops_email: str
    clerk_email: str
    schedule_at: str
    schedule_workday_offset: int
    schedule_timezone: str
    airflow_api_url: str
    ocr_timeout_seconds: float
    ocr_dpi: int
    scan_max_pages: int
    stamped_agreement_min: float
    parse_timeout_seconds: float
    parse_memory_bytes: int
    accelerators: bool
    event_intake_seconds: int
    year_to_date: bool


_FIELDS = {
    "REPORT_INBOX": "inbox_root", "REPORT_OUTPUT": "output_root", "REPORT_PROGRAMMES_DIR": "programmes_dir",
    "REPORT_EXPECTATIONS": "expectations_root", "REPORT_MAX_FILE_BYTES": "max_file_bytes",
    "REPORT_MAX_UNCOMPRESSED_BYTES": "max_uncompressed_bytes", "REPORT_OPS_EMAIL": "ops_email",
    "REPORT_CLERK_EMAIL": "clerk_email",
    "REPORT_SCHEDULE_AT": "schedule_at", "REPORT_SCHEDULE_WORKDAY_OFFSET": "schedule_workday_offset",
    "REPORT_SCHEDULE_TIMEZONE": "schedule_timezone", "REPORT_AIRFLOW_API_URL": "airflow_api_url",
    "REPORT_OCR_TIMEOUT_SECONDS": "ocr_timeout_seconds", "REPORT_OCR_DPI": "ocr_dpi",
    "REPORT_SCAN_MAX_PAGES": "scan_max_pages", "REPORT_STAMPED_AGREEMENT_MIN": "stamped_agreement_min",
    "REPORT_PARSE_TIMEOUT_SECONDS": "parse_timeout_seconds", "REPORT_PARSE_MEMORY_BYTES": "parse_memory_bytes",
    "REPORT_ACCELERATORS": "accelerators", "REPORT_EVENT_INTAKE_SECONDS": "event_intake_seconds",
    "REPORT_YEAR_TO_DATE": "year_to_date",
}


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings as the environment says now, each checked (SettingsError if any is wrong)."""
    env = os.environ if environ is None else environ
    raw = tuple((spec.env, env.get(spec.env, "")) for spec in SETTINGS)
    return _settings_of(raw, home=os.path.expanduser("~"))     # paths may start with ~


@functools.lru_cache(maxsize=16)
def _settings_of(raw: tuple[tuple[str, str], ...], home: str) -> Settings:
    """Parsed once per set of raw values (and home folder): a unit's task reads them several times."""
    env = dict(raw)
    check_settings(env)
    return Settings(**{field: value_of(name, env) for name, field in _FIELDS.items()})


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
