"""Who may do what on the 季度报送 page: every capability is one question to Airflow's auth manager.

| capability  | Airflow's question (wcreport.orchestration.auth)        | routes                                   |
| ----------- | -------------------------------------------------------- | ---------------------------------------- |
| `view`      | may read quarterly_report's runs                         | the page, quarters, grid, task instance  |
|             |                                                          | links and state; the workbook, Data Docs,|
|             |                                                          | feedback and manifest of a quarter       |
| `rerun`     | may clear quarterly_report's task instances              | POST /api/rerun                          |
| `remind`    | may trigger quarterly_reminders                          | POST /api/remind, /api/remind/result     |
| `raw_files` | the custom permission "Wcreport Raw Files" (admins)      | every other file under the output folder:|
|             |                                                          | unit mails (.eml), the mailbox ledger,   |
|             |                                                          | the mail ledger, the archive, units/ ... |

Every capability needs `view` too: the actions and files are the page's. The questions are
the ones Airflow's REST API asks before the same action, so the page offers a button exactly
when Airflow would carry it out. Files are an allow-list: what is not named above is raw.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from wcreport.dashboard.airflow_api import REMINDER_DAG, REPORT_DAG

log = logging.getLogger(__name__)

_QUARTER_DIR = re.compile(r"^\d{4}Q[1-4]$")
# Sub-folders of <quarter>/ that viewers may open: what the pipeline writes for readers.
_VIEWER_FOLDERS = frozenset({"data_docs", "feedback"})


class Capability(StrEnum):
    VIEW = "view"
    RERUN = "rerun"
    REMIND = "remind"
    RAW_FILES = "raw_files"


REFUSED_ZH = {
    Capability.VIEW: "无权限查看季度报送：需要在 Airflow 中查看 quarterly_report 运行记录的权限。请联系管理员开通。",
    Capability.RERUN: "无权限重跑：需要在 Airflow 中清除 quarterly_report 任务实例的权限。请联系管理员开通。",
    Capability.REMIND: "无权限发送提醒：需要在 Airflow 中触发 quarterly_reminders 的权限。请联系管理员开通。",
    Capability.RAW_FILES: "无权限打开该文件：原始邮件、收件台账、发信台账等原始文件仅限管理员查看。",
}


class Permissions(Protocol):
    """The auth manager's answers (wcreport.orchestration.auth.AirflowPermissions)."""

    def may_read_runs(self, user: Any, dag_id: str) -> bool: ...

    def may_clear(self, user: Any, dag_id: str) -> bool: ...

    def may_trigger(self, user: Any, dag_id: str) -> bool: ...

    def may_read_raw_files(self, user: Any) -> bool: ...


@dataclass(frozen=True)
class Access:
    """What one signed-in user may do here; the page shows only what this allows."""

    view: bool = False
    rerun: bool = False
    remind: bool = False
    raw_files: bool = False

    def allows(self, capability: Capability) -> bool:
        return bool(getattr(self, capability.value))


class Refused(Exception):
    """A signed-in user asked for something the auth manager does not allow them (HTTP 403)."""

    def __init__(self, capability: Capability) -> None:
        super().__init__(capability.value)
        self.capability = capability
        self.message = REFUSED_ZH[capability]


def access_of(permissions: Permissions, user: Any) -> Access:
    if not permissions.may_read_runs(user, REPORT_DAG):
        return Access()
    return Access(view=True,
                  rerun=permissions.may_clear(user, REPORT_DAG),
                  remind=permissions.may_trigger(user, REMINDER_DAG),
                  raw_files=permissions.may_read_raw_files(user))


def airflow_permissions() -> Permissions:
    """The configured auth manager's (imported on first use: the package stays cheap to import)."""
    from wcreport.orchestration.auth import AirflowPermissions

    return AirflowPermissions()


def is_viewer_file(path: str, report_of: Callable[[str], str | None]) -> bool:
    """Whether ``path`` (relative to the output root, '/'-separated) is one viewers may open.

    The quarter's manifest, its workbook (``report_of(quarter)``: the path its manifest
    names, asked only for a well-formed quarter folder), and anything in its data_docs/ or
    feedback/ folders. Everything else is raw.
    """
    parts = path.split("/")
    if len(parts) < 2 or not _QUARTER_DIR.match(parts[0]):
        return False
    if len(parts) == 2:
        return parts[1] == "manifest.json" or path == report_of(parts[0])
    return parts[1] in _VIEWER_FOLDERS
