"""The 季度报送 dashboard: a FastAPI app mounted inside Airflow's API server.

Routes (relative to the mount prefix, ``/wcreport`` by default):

- ``GET /``                       the page (``?quarter=2023Q1&page=2&status=missing``)
- ``GET /api/quarters``           quarters that have a manifest.json
- ``GET /api/grid?quarter=``      the unit × task grid as JSON
- ``GET /files/<path>``           a file under the output root (report, feedback, Data Docs)
- ``GET /ti?quarter=&unit=``      redirect to the unit's ingest_unit task instance in the UI
- ``GET /api/ti?quarter=&unit=``  that task instance's state, as JSON
- ``POST /api/remind``            ``{"quarter", "unit"}``: trigger quarterly_reminders
- ``POST /api/rerun``             ``{"quarter", "unit"}``: clear the unit's ingest_unit (+ downstream)

Every route needs a signed-in Airflow user: the JWT in the ``_token`` cookie that the
Airflow UI sets at sign-in (sent by the browser to this same-origin app, also inside
the UI's iframe), or an ``Authorization: Bearer`` header. The token is checked by the
auth manager Airflow is configured with; actions forward the same token to Airflow's
REST API, so Airflow applies that user's permissions.
"""
from __future__ import annotations

import mimetypes
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
from wcreport.dashboard import view as dv
from wcreport.dashboard.airflow_api import INGEST_TASK, REPORT_DAG, AirflowApi, AirflowApiError
from wcreport.dashboard.safepath import UnsafePath, resolve_download

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
               airflow_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Build the dashboard app.

    output_root: folder holding <quarter>/manifest.json (default: $REPORT_OUTPUT, read per request).
    url_prefix: where the app is mounted in the API server (used for links back into the UI).
    resolve_user: token -> user, raising on a bad token (default: Airflow's auth manager).
    airflow_api_url: base URL of Airflow's REST API for actions (default: $REPORT_AIRFLOW_API_URL,
        else the API server's own listening address).
    """
    app = FastAPI(title="季度报送", docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(str(HERE)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    page_template = env.get_template("dashboard.html")
    refused_template = env.get_template("refused.html")
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

    # --- page --------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    async def page(request: Request, who: SignedIn = Depends(signed_in),
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
            report_dag=REPORT_DAG, ingest_task=INGEST_TASK, quote=quote,
            elapsed_ms=(time.perf_counter() - started) * 1000)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    # --- data --------------------------------------------------------------------
    @app.get("/api/quarters")
    async def quarters(who: SignedIn = Depends(signed_in)):
        return {"quarters": dv.list_quarters(out_root())}

    @app.get("/api/grid")
    async def grid(who: SignedIn = Depends(signed_in), quarter: str = Query(..., max_length=16),
                   page: int = Query(1, ge=1), page_size: int = Query(dv.PAGE_SIZE, ge=1, le=100000)):
        q = quarter_or_400(quarter)
        try:
            return dv.grid_as_dict(dv.build_view(out_root(), q, page=page, page_size=page_size))
        except FileNotFoundError:
            raise HTTPException(404, f"{q} 还没有 manifest.json") from None

    @app.get("/files/{path:path}")
    async def download(path: str, who: SignedIn = Depends(signed_in), download: bool = False):
        try:
            real = resolve_download(out_root(), path)
        except UnsafePath:
            return JSONResponse({"detail": "拒绝访问：文件路径不在输出目录内。"}, status_code=403)
        except (FileNotFoundError, OSError):
            return JSONResponse({"detail": "文件不存在。"}, status_code=404)
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
    @app.get("/ti")
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

    @app.get("/api/ti")
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
        return {"dag_run_id": run["dag_run_id"], "map_index": row.map_index,
                "state": ti.get("state"), "try_number": ti.get("try_number")}

    def require_json(request: Request) -> None:
        # A JSON body cannot be sent cross-site without a CORS preflight, which this app never
        # grants; together with the SameSite=Lax session cookie this blocks CSRF.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "请求须为 application/json")

    @app.post("/api/remind", dependencies=[Depends(signed_in), Depends(require_json)])
    async def remind(body: ActionBody, request: Request, who: SignedIn = Depends(signed_in)):
        q = quarter_or_400(body.quarter)
        _, row = find_unit(q, body.unit)
        run = await client_for(request, who).remind(q, row.unit.unit)
        return {"ok": True, "message": f"已触发提醒：{row.unit.unit_name}（运行 {run.get('dag_run_id')}）",
                "dag_run_id": run.get("dag_run_id"), "state": run.get("state")}

    @app.post("/api/rerun", dependencies=[Depends(signed_in), Depends(require_json)])
    async def rerun(body: ActionBody, request: Request, who: SignedIn = Depends(signed_in)):
        q = quarter_or_400(body.quarter)
        _, row = find_unit(q, body.unit)
        if row.map_index is None:
            raise HTTPException(404, "该单位不在年度计划中，没有对应的任务实例。")
        result = await client_for(request, who).rerun(q, row.map_index)
        result["ok"] = True
        result["message"] = (f"已清除 {row.unit.unit_name} 的入库任务（第 {row.map_index} 个实例）及其下游，"
                             f"当前状态：{_state_zh(result.get('state'))}")
        return result

    return app


def _is_quarter(text: str) -> bool:
    try:
        dv.canonical_quarter(text)
        return True
    except ValueError:
        return False


_STATE_ZH = {None: "待调度", "none": "待调度", "scheduled": "已计划", "queued": "排队中", "running": "运行中",
             "success": "成功", "failed": "失败", "up_for_retry": "等待重试", "restarting": "重启中",
             "upstream_failed": "上游失败", "skipped": "已跳过", "removed": "已移除", "deferred": "已延迟"}


def _state_zh(state: str | None) -> str:
    return _STATE_ZH.get(state, str(state))
