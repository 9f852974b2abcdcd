"""Where things live: inbox, output and programme roots, from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from wcreport.quarter import Quarter

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def inbox_root() -> Path:
    return _env_path("REPORT_INBOX", PROJECT_ROOT / "data" / "inbox")


def output_root() -> Path:
    return _env_path("REPORT_OUTPUT", PROJECT_ROOT / "data" / "output")


def expectations_root() -> Path:
    return _env_path("REPORT_EXPECTATIONS", PROJECT_ROOT / "expectations")


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
