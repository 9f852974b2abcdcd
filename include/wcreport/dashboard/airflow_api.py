"""The dashboard's actions, done through Airflow's own REST API as the signed-in user.

Every call carries the user's own JWT (the ``_token`` cookie the Airflow UI holds, or
the Authorization header of an API client), so Airflow checks that user's permissions:
a user who may not trigger or clear runs gets Airflow's 403, passed on as it is.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from wcreport.core.quarter import Quarter

REPORT_DAG = "quarterly_report"
REMINDER_DAG = "quarterly_reminders"
INGEST_TASK = "ingest_unit"
MERGE_TASK = "merge"
REMINDER_TASK = "send_reminders"     # returns the reminder run's RunSummary


class AirflowApiError(Exception):
    def __init__(self, status: int, message: str, detail=None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


@dataclass
class AirflowApi:
    """A thin async client of /api/v2 for one user's token."""

    base_url: str                      # e.g. http://127.0.0.1:8080 (no trailing slash)
    token: str
    transport: httpx.AsyncBaseTransport | None = None
    timeout: float = 20.0

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, transport=self.transport, timeout=self.timeout,
                                 headers={"Authorization": f"Bearer {self.token}"})

    async def _call(self, method: str, path: str, **kwargs) -> dict:
        async with self._client() as client:
            try:
                response = await client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise AirflowApiError(502, f"无法连接 Airflow 接口：{exc.__class__.__name__}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:500]
            raise AirflowApiError(response.status_code, _message_for(response.status_code), detail)
        return response.json() if response.content else {}

    # --- runs of a quarter ----------------------------------------------------
    async def latest_run_of_quarter(self, quarter: str) -> dict | None:
        """The most recent quarterly_report run whose quarter is ``quarter``."""
        data = await self._call("GET", f"/api/v2/dags/{REPORT_DAG}/dagRuns",
                                params={"order_by": "-run_after", "limit": 100})
        for run in data.get("dag_runs", []):
            if run_quarter(run) == quarter:
                return run
        return None

    async def task_instance(self, run_id: str, map_index: int, task_id: str = INGEST_TASK) -> dict:
        path = f"/api/v2/dags/{REPORT_DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
        return await self._call("GET", path if map_index < 0 else f"{path}/{map_index}")

    async def run(self, dag_id: str, run_id: str) -> dict:
        return await self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    async def return_value(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1):
        """A task's return value (its ``return_value`` XCom), or None when it has none."""
        try:
            entry = await self._call(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
                       "/xcomEntries/return_value", params={"map_index": map_index})
        except AirflowApiError as exc:
            if exc.status == 404:
                return None
            raise
        value = entry.get("value")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        return value

    async def is_paused(self, dag_id: str) -> bool:
        return bool((await self._call("GET", f"/api/v2/dags/{dag_id}")).get("is_paused"))

    async def unpause(self, dag_id: str) -> None:
        await self._call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    async def set_note(self, dag_id: str, run_id: str, note: str) -> None:
        await self._call("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}",
                         params={"update_mask": "note"}, json={"note": note[:1000]})

    # --- actions ---------------------------------------------------------------
    async def remind(self, quarter: str, unit: str, unit_name: str) -> dict:
        """Trigger quarterly_reminders for one unit; the run id names the quarter and the unit."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        body = {"dag_run_id": f"manual__{quarter}__remind_{unit}__{stamp}", "logical_date": None,
                "conf": {"quarter": quarter, "units": [unit]}, "note": f"季度报送看板：提醒 {unit_name}"}
        return await self._call("POST", f"/api/v2/dags/{REMINDER_DAG}/dagRuns", json=body)

    async def rerun(self, quarter: str, map_index: int) -> dict:
        run = await self.latest_run_of_quarter(quarter)
        if run is None:
            raise AirflowApiError(404, f"没有找到 {quarter} 的 {REPORT_DAG} 运行记录，无法重跑。")
        body = {
            "dry_run": False,
            "dag_run_id": run["dag_run_id"],
            "task_ids": [[INGEST_TASK, map_index]],
            "include_downstream": True,
            "include_upstream": False,
            "only_failed": False,
            "reset_dag_runs": True,
        }
        cleared = await self._call("POST", f"/api/v2/dags/{REPORT_DAG}/clearTaskInstances", json=body)
        ti = await self.task_instance(run["dag_run_id"], map_index)
        return {"dag_run_id": run["dag_run_id"], "map_index": map_index,
                "cleared": cleared.get("total_entries", len(cleared.get("task_instances", []))),
                "state": ti.get("state"), "try_number": ti.get("try_number")}


def run_quarter(run: dict) -> str | None:
    """The quarter a quarterly_report run is for: conf/params first, else its data interval.

    Mirrors wcreport.orchestration.tasks.resolve_run: an explicit ``quarter`` wins; otherwise the
    quarter of the data interval's start, read in Asia/Shanghai.
    """
    from wcreport.core.quarter import quarter_of_data_interval

    conf = run.get("conf") or {}
    if isinstance(conf, dict) and conf.get("quarter"):
        try:
            return str(Quarter.parse(str(conf["quarter"])))
        except ValueError:
            return None
    start = run.get("data_interval_start") or run.get("logical_date")
    if not start:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return str(quarter_of_data_interval(moment))


def _message_for(status: int) -> str:
    return {
        401: "登录已失效，请重新登录 Airflow。",
        403: "您的 Airflow 账号没有执行此操作的权限。",
        404: "Airflow 中找不到对应的 DAG、运行或任务实例。",
        409: "操作与当前运行状态冲突，请稍后再试。",
    }.get(status, f"Airflow 接口返回错误（HTTP {status}）。")
