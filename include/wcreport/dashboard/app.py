"""The 季度报送 dashboard: a FastAPI app mounted inside Airflow's API server.

Routes (relative to the mount prefix, ``/wcreport`` by default):

- ``GET /``                       the page (``?quarter=2023Q1&page=2&status=missing``)
- ``GET /api/quarters``           quarters that have a manifest.json
- ``GET /api/grid?quarter=``      the unit × task grid as JSON
- ``GET /files/<path>``           a file under the output root (report, feedback, Data Docs)
- ``GET /ti?quarter=&unit=``      redirect to the unit's ingest_unit task instance in the UI
- ``GET /api/ti?quarter=&unit=``  that task instance's state, the unit's new result and the
                                  merge's state, worded for the page (a rerun's progress)
- ``POST /api/remind``            ``{"quarter", "unit", "unpause"}``: trigger quarterly_reminders
- ``POST /api/remind/result``     ``{"quarter", "unit", "dag_run_id"}``: that reminder run's state
                                  and, once it ended, what happened to the unit (also put in the
                                  run's note)
- ``POST /api/rerun``             ``{"quarter", "unit", "unpause"}``: clear the unit's ingest_unit
                                  (+ downstream)

A paused DAG is reported (HTTP 409, ``"paused": true``) instead of triggering or clearing
into a run that would never start; the page offers ``unpause`` (one click) in answer.

Every route needs a signed-in Airflow user: the JWT in the ``_token`` cookie that the
Airflow UI sets at sign-in (sent by the browser to this same-origin app, also inside
the UI's iframe), or an ``Authorization: Bearer`` header. The token is checked by the
auth manager Airflow is configured with, and that auth manager decides each route
(wcreport.dashboard.access: viewers see, operators rerun and remind, admins open raw
files); a refusal is HTTP 403 with a Chinese reason, and the page offers only what the
user may do. Actions forward the same token to Airflow's REST API, which checks again.
"""
from __future__ import annotations

import logging
import mimetypes
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from wcreport.core.settings import output_root as default_output_root
from wcreport.core.settings import settings
from wcreport.dashboard import outcomes
from wcreport.dashboard import view as dv
from wcreport.dashboard.access import Access, Capability, Permissions, Refused, access_of, airflow_permissions, is_viewer_file
from wcreport.dashboard.airflow_api import (
    INGEST_TASK,
    MERGE_TASK,
    REMINDER_DAG,
    REMINDER_TASK,
    REPORT_DAG,
    AirflowApi,
    AirflowApiError,
)
from wcreport.dashboard.safepath import UnsafePath, resolve_download

log = logging.getLogger(__name__)

COOKIE_NAME = "_token"   # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
DEFAULT_PREFIX = "/wcreport"
HERE = Path(__file__).resolve().parent

# Served inline (viewable in the browser, e.g. Data Docs); everything else downloads.
_INLINE = {".html", ".htm", ".css", ".js", ".json", ".png", ".svg", ".jpg", ".jpeg", ".gif",
           ".ico", ".txt", ".md", ".woff", ".woff2"}

TokenResolver = Callable[[str], Awaitable[Any]]


class NotSignedIn(Exception):
    pass


@dataclass
class SignedIn:
    user: Any
    token: str

    @property
    def name(self) -> str:
        for attr in ("get_name", "get_id"):
            fn = getattr(self.user, attr, None)
            if callable(fn):
                try:
                    return str(fn())
                except Exception:
                    continue
        return "?"


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quarter: str = Field(max_length=16)
    unit: str = Field(max_length=100)
    unpause: bool = False          # unpause the DAG first (the page's answer to "paused")


class ResultBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quarter: str = Field(max_length=16)
    unit: str = Field(max_length=100)
    dag_run_id: str = Field(max_length=250)


class DagPaused(Exception):
    def __init__(self, dag_id: str, message: str) -> None:
        super().__init__(message)
        self.dag_id = dag_id
        self.message = message


async def _airflow_resolve_user(token: str):
    """Validate a JWT with Airflow's configured auth manager (signature, expiry, revocation)."""
    from wcreport.orchestration.auth import resolve_user_from_token

    return await resolve_user_from_token(token)


def _token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.cookies.get(COOKIE_NAME) or None


def create_app(*, output_root: Path | Callable[[], Path] | None = None,
               url_prefix: str = DEFAULT_PREFIX,
               resolve_user: TokenResolver | None = None,
               airflow_api_url: str | None = None,
               airflow_transport: httpx.AsyncBaseTransport | None = None,
               permissions: Permissions | None = None) -> FastAPI:
    """Build the dashboard app.

    output_root: folder holding <quarter>/manifest.json (default: $REPORT_OUTPUT, read per request).
    url_prefix: where the app is mounted in the API server (used for links back into the UI).
    resolve_user: token -> user, raising on a bad token (default: Airflow's auth manager).
    airflow_api_url: base URL of Airflow's REST API for actions (default: $REPORT_AIRFLOW_API_URL,
        else the API server's own listening address).
    permissions: who may do what (default: the auth manager Airflow is configured with).
    """
    app = FastAPI(title="季度报送", docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(str(HERE)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    page_template = env.get_template("dashboard.html")
    refused_template = env.get_template("refused.html")
    forbidden_template = env.get_template("forbidden.html")
    resolver = resolve_user or _airflow_resolve_user

    def out_root() -> Path:
        if callable(output_root):
            return Path(output_root())
        return Path(output_root) if output_root else default_output_root()

    def airflow_root(request: Request) -> str:
        """Path of the Airflow UI root as seen by the browser ('' or e.g. '/airflow')."""
        root = request.scope.get("root_path", "")
        return root[: -len(url_prefix)] if url_prefix and root.endswith(url_prefix) else ""

    def api_base(request: Request) -> str:
        configured = airflow_api_url or settings().airflow_api_url
        if configured:
            return configured.rstrip("/")
        # The server's own socket address, never the client's Host header: the user's token
        # must only ever be sent back to this API server.
        host, port = request.scope.get("server") or ("127.0.0.1", 8080)
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}{airflow_root(request)}"

    async def signed_in(request: Request) -> SignedIn:
        token = _token_of(request)
        if not token:
            raise NotSignedIn()
        try:
            user = await resolver(token)
        except Exception as exc:
            raise NotSignedIn() from exc
        if user is None:
            raise NotSignedIn()
        return SignedIn(user, token)

    @app.exception_handler(NotSignedIn)
    async def _refuse(request: Request, exc: NotSignedIn):
        login = f"{airflow_root(request)}/auth/login?next={quote(str(request.url), safe='')}"
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(refused_template.render(login_url=login), status_code=401,
                                headers={"Cache-Control": "no-store"})
        return JSONResponse({"detail": "未登录：请先登录 Airflow。", "login_url": login}, status_code=401,
                            headers={"Cache-Control": "no-store"})

    def need(capability: Capability) -> Callable[..., Access]:
        """A route guard: the signed-in user's Access, or Refused unless it allows ``capability``."""
        def guard(request: Request, who: SignedIn = Depends(signed_in)) -> Access:
            # A plain def: FastAPI runs it in a worker thread, as the auth manager may query its DB.
            access = access_of(permissions or airflow_permissions(), who.user)
            if not access.allows(capability):
                log.info("dashboard: %s refused %s on %s", who.name, capability.value, request.url.path)
                raise Refused(capability)
            return access
        return guard

    @app.exception_handler(Refused)
    async def _forbidden(request: Request, exc: Refused):
        headers = {"Cache-Control": "no-store"}
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(forbidden_template.render(message=exc.message), status_code=403, headers=headers)
        return JSONResponse({"detail": exc.message, "refused": exc.capability.value}, status_code=403,
                            headers=headers)

    @app.exception_handler(DagPaused)
    async def _paused(request: Request, exc: DagPaused):
        return JSONResponse({"paused": True, "dag_id": exc.dag_id, "detail": exc.message}, status_code=409)

    @app.exception_handler(AirflowApiError)
    async def _api_error(request: Request, exc: AirflowApiError):
        return JSONResponse({"detail": exc.message, "airflow_detail": exc.detail}, status_code=exc.status)

    def quarter_or_400(quarter: str) -> str:
        try:
            return dv.canonical_quarter(quarter)
        except ValueError:
            raise HTTPException(400, "季度格式应为 2023Q1") from None

    def find_unit(quarter: str, unit: str) -> tuple[dv.QuarterView, dv.Row]:
        try:
            view = dv.build_view(out_root(), quarter, page_size=10**9)
        except FileNotFoundError:
            raise HTTPException(404, f"{quarter} 还没有 manifest.json") from None
        for row in view.rows:
            if row.unit.unit == unit:
                return view, row
        raise HTTPException(404, f"{quarter} 的清单中没有单位 {unit}")

    def client_for(request: Request, who: SignedIn) -> AirflowApi:
        return AirflowApi(api_base(request), who.token, transport=airflow_transport)

    async def ensure_running(api: AirflowApi, dag_id: str, unpause: bool, what: str) -> bool:
        """Unpause ``dag_id`` if asked; raise DagPaused if it is paused otherwise. True: unpaused now."""
        if not await api.is_paused(dag_id):
            return False
        if not unpause:
            raise DagPaused(dag_id, outcomes.paused_message(dag_id, what))
        await api.unpause(dag_id)
        return True

    # --- page --------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    async def page(request: Request, who: SignedIn = Depends(signed_in), can: Access = Depends(need(Capability.VIEW)),
                   quarter: str | None = Query(None, max_length=16),
                   page: int = Query(1, ge=1, le=100000),
                   status: str | None = Query(None, max_length=16),
                   size: int = Query(dv.PAGE_SIZE, ge=1, le=5000)):
        started = time.perf_counter()
        root = out_root()
        quarters = dv.list_quarters(root)
        chosen = dv.canonical_quarter(quarter) if quarter and _is_quarter(quarter) else None
        if chosen is None and quarters:
            chosen = quarters[0]
        view = None
        error = None
        if quarter and not _is_quarter(quarter):
            error = "季度格式应为 2023Q1。"
        elif chosen:
            try:
                view = dv.build_view(root, chosen, page=page, page_size=size, status_filter=status)
            except FileNotFoundError:
                error = f"{chosen} 还没有 manifest.json。"
            except ValueError as exc:
                error = f"{chosen} 的 manifest.json 无法读取：{str(exc)[:200]}"
        html = page_template.render(
            view=view, quarters=quarters, chosen=chosen, error=error, user=who.name,
            statuses=dv.CELL_STATUSES, cell_label=dv.CELL_LABEL_ZH, cell_symbol=dv.CELL_SYMBOL,
            unit_status_zh=dv.UNIT_STATUS_ZH, ui_root=airflow_root(request),
            app_root=request.scope.get("root_path", "").rstrip("/"),
            report_dag=REPORT_DAG, ingest_task=INGEST_TASK, quote=quote, beijing_time=dv.beijing_time, can=can,
            elapsed_ms=(time.perf_counter() - started) * 1000)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    # --- data --------------------------------------------------------------------
    @app.get("/api/quarters", dependencies=[Depends(need(Capability.VIEW))])
    async def quarters():
        return {"quarters": dv.list_quarters(out_root())}

    @app.get("/api/grid", dependencies=[Depends(need(Capability.VIEW))])
    async def grid(quarter: str = Query(..., max_length=16),
                   page: int = Query(1, ge=1), page_size: int = Query(dv.PAGE_SIZE, ge=1, le=100000)):
        q = quarter_or_400(quarter)
        try:
            return dv.grid_as_dict(dv.build_view(out_root(), q, page=page, page_size=page_size))
        except FileNotFoundError:
            raise HTTPException(404, f"{q} 还没有 manifest.json") from None

    def report_of(quarter: str) -> str | None:
        """The workbook the quarter's manifest names (viewers may open it), if any."""
        try:
            return dv.load_manifest(out_root() / quarter / "manifest.json").report
        except (OSError, ValueError):
            return None

    def check_file_access(can: Access, requested: str, real: Path | None) -> None:
        """Raw files only with raw_files; asked of the path as requested (before the disk is
        touched: a refused user learns nothing of what exists) and of the file it resolved to."""
        if can.raw_files:
            return
        if not is_viewer_file(requested, report_of):
            raise Refused(Capability.RAW_FILES)
        if real is not None:
            relative = Path(os.path.relpath(real, os.path.realpath(out_root()))).as_posix()
            if not is_viewer_file(relative, report_of):
                raise Refused(Capability.RAW_FILES)

    @app.get("/files/{path:path}")
    async def download(path: str, can: Access = Depends(need(Capability.VIEW)), download: bool = False):
        try:
            check_file_access(can, path, None)
            real = resolve_download(out_root(), path)
        except UnsafePath:
            return JSONResponse({"detail": "拒绝访问：文件路径不在输出目录内。"}, status_code=403)
        except (FileNotFoundError, OSError):
            return JSONResponse({"detail": "文件不存在。"}, status_code=404)
        check_file_access(can, path, real)
        suffix = real.suffix.lower()
        inline = suffix in _INLINE and not download
        media = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
        if suffix in (".html", ".htm", ".svg"):
            # Data Docs and other HTML render in an opaque origin: no access to the Airflow
            # session or the dashboard's actions, whatever the file contains.
            headers["Content-Security-Policy"] = "sandbox allow-scripts allow-popups allow-downloads"
        return FileResponse(real, media_type=media, filename=real.name, headers=headers,
                            content_disposition_type="inline" if inline else "attachment")

    # --- task instances and actions ----------------------------------------------------
    @app.get("/ti", dependencies=[Depends(need(Capability.VIEW))])
    async def ti_redirect(request: Request, who: SignedIn = Depends(signed_in),
                          quarter: str = Query(..., max_length=16), unit: str = Query(..., max_length=100)):
        q = quarter_or_400(quarter)
        _, row = find_unit(q, unit)
        ui = airflow_root(request)
        run = await client_for(request, who).latest_run_of_quarter(q)
        if run is None or row.map_index is None:
            return RedirectResponse(f"{ui}/dags/{REPORT_DAG}/tasks/{INGEST_TASK}", status_code=303)
        target = (f"{ui}/dags/{REPORT_DAG}/runs/{quote(run['dag_run_id'], safe='')}"
                  f"/tasks/{INGEST_TASK}/mapped/{row.map_index}")
        return RedirectResponse(target, status_code=303)

    @app.get("/api/ti", dependencies=[Depends(need(Capability.VIEW))])
    async def ti_state(request: Request, who: SignedIn = Depends(signed_in),
                       quarter: str = Query(..., max_length=16), unit: str = Query(..., max_length=100)):
        q = quarter_or_400(quarter)
        _, row = find_unit(q, unit)
        if row.map_index is None:
            raise HTTPException(404, "该单位不在年度计划中，没有对应的任务实例。")
        api = client_for(request, who)
        run = await api.latest_run_of_quarter(q)
        if run is None:
            raise HTTPException(404, f"没有找到 {q} 的运行记录。")
        ti = await api.task_instance(run["dag_run_id"], row.map_index)
        state, unit_status, merge_state = ti.get("state"), None, None
        if state == "success":
            summary = await api.return_value(REPORT_DAG, run["dag_run_id"], INGEST_TASK, row.map_index)
            unit_status = summary.get("status") if isinstance(summary, dict) else None
            merge_state = (await api.task_instance(run["dag_run_id"], -1, MERGE_TASK)).get("state")
        done, message = outcomes.rerun_progress(state, unit_status, merge_state)
        return {"dag_run_id": run["dag_run_id"], "map_index": row.map_index, "state": state,
                "try_number": ti.get("try_number"), "label": ti.get("rendered_map_index"),
                "unit_status": unit_status, "merge_state": merge_state, "done": done, "message": message,
                "failed": state in outcomes.FAILED or merge_state in outcomes.FAILED}

    def require_json(request: Request) -> None:
        # A JSON body cannot be sent cross-site without a CORS preflight, which this app never
        # grants; together with the SameSite=Lax session cookie this blocks CSRF.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "请求须为 application/json")

    @app.post("/api/remind", dependencies=[Depends(need(Capability.REMIND)), Depends(require_json)])
    async def remind(body: ActionBody, request: Request, who: SignedIn = Depends(signed_in)):
        q = quarter_or_400(body.quarter)
        _, row = find_unit(q, body.unit)
        if row.unit.status == "submitted":
            raise HTTPException(409, f"{row.unit.unit_name}已报送并通过校验，无需提醒。")
        api = client_for(request, who)
        unpaused = await ensure_running(api, REMINDER_DAG, body.unpause, "现在提醒不会发出")
        run = await api.remind(q, row.unit.unit, row.unit.unit_name)
        return {"ok": True, "dag_run_id": run.get("dag_run_id"), "state": run.get("state"), "unpaused": unpaused,
                "message": ("已启用提醒流程，" if unpaused else "") + outcomes.reminder_progress(run.get("state"))}

    @app.post("/api/remind/result", dependencies=[Depends(need(Capability.REMIND)), Depends(require_json)])
    async def remind_result(body: ResultBody, request: Request, who: SignedIn = Depends(signed_in)):
        q = quarter_or_400(body.quarter)
        _, row = find_unit(q, body.unit)
        api = client_for(request, who)
        run = await api.run(REMINDER_DAG, body.dag_run_id)
        state = run.get("state")
        if state in outcomes.WAITING:
            return {"done": False, "state": state, "message": outcomes.reminder_progress(state)}
        if state != "success":
            return {"done": True, "state": state, "outcome": "run_failed",
                    "message": f"提醒运行{outcomes.state_zh(state)}，未能确认是否发出，请查看运行日志"}
        summary = await api.return_value(REMINDER_DAG, body.dag_run_id, REMINDER_TASK)
        outcome, text = outcomes.reminder_outcome(summary, row.unit.unit)
        await api.set_note(REMINDER_DAG, body.dag_run_id, f"季度报送看板：提醒 {row.unit.unit_name}：{text}")
        return {"done": True, "state": state, "outcome": outcome, "message": text}

    @app.post("/api/rerun", dependencies=[Depends(need(Capability.RERUN)), Depends(require_json)])
    async def rerun(body: ActionBody, request: Request, who: SignedIn = Depends(signed_in)):
        q = quarter_or_400(body.quarter)
        _, row = find_unit(q, body.unit)
        if row.map_index is None:
            raise HTTPException(404, "该单位不在年度计划中，没有对应的任务实例。")
        api = client_for(request, who)
        unpaused = await ensure_running(api, REPORT_DAG, body.unpause, "清除后不会重跑")
        result = await api.rerun(q, row.map_index)
        result.update(ok=True, unpaused=unpaused, message=("已启用流程，" if unpaused else "") +
                      f"已清除 {row.unit.unit_name} 的入库任务及其下游，{outcomes.state_zh(result.get('state'))}…")
        return result

    return app


def _is_quarter(text: str) -> bool:
    try:
        dv.canonical_quarter(text)
        return True
    except ValueError:
        return False

