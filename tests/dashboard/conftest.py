"""Fixtures of the dashboard tests: a quarter on disk, real JWTs, a recording REST stand-in."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from wcreport_testing.dashboard_fixtures import write_programme_quarter

from wcreport.dashboard import create_app
from wcreport.dashboard import view as dv

SECRET = "dashboard-unit-test-secret"
AUDIENCE = "urn:airflow.apache.org:task"


@pytest.fixture
def output_root(tmp_path, programme) -> Path:
    root = tmp_path / "output"
    write_programme_quarter(programme, "2023Q1", root)
    write_programme_quarter(programme, "2023Q2", root)
    dv.clear_caches()
    return root


@dataclass
class Tokens:
    """Real HS512 JWTs, signed and validated with Airflow's own JWT classes."""

    def make(self, sub: str = "clerk", role: str = "admin", secret: str = SECRET, valid_for: float = 600) -> str:
        from airflow.api_fastapi.auth.tokens import JWTGenerator

        gen = JWTGenerator(secret_key=secret, valid_for=valid_for, audience=AUDIENCE, issuer=None,
                           algorithm="HS512")
        return gen.generate({"sub": sub, "role": role})

    async def resolve(self, token: str):
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
        from airflow.api_fastapi.auth.tokens import JWTValidator

        validator = JWTValidator(secret_key=SECRET, audience=AUDIENCE, issuer=None, algorithm=["HS512"], leeway=0)
        claims = await validator.avalidated_claims(token)
        return SimpleAuthManagerUser(username=claims["sub"], role=claims["role"])


@pytest.fixture(autouse=True)
def simple_auth_manager(monkeypatch):
    """Airflow's default auth manager as the API server's own: the dashboard asks it each route."""
    from airflow.api_fastapi import app as airflow_app
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    manager = SimpleAuthManager()
    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", manager)
    return manager


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens()


@dataclass
class FakeAirflow:
    """Stand-in for Airflow's /api/v2 that records each call (the real one runs in the browser test)."""

    calls: list[dict] = field(default_factory=list)
    forbid: bool = False
    paused: set[str] = field(default_factory=set)                 # dag ids that are paused
    run_states: dict[str, str] = field(default_factory=dict)      # run id -> state (default success)
    ti_states: dict[str, str | None] = field(default_factory=dict)  # task id -> state (default None)
    xcoms: dict[str, object] = field(default_factory=dict)        # task id -> return value
    runs: list[dict] = field(default_factory=lambda: [
        {"dag_run_id": "manual__2023Q2", "conf": {"quarter": "2023Q2"}, "state": "success"},
        {"dag_run_id": "manual__2023Q1_b", "conf": {"quarter": "2023Q1"}, "state": "success"},
        {"dag_run_id": "manual__2023Q1_a", "conf": {"quarter": "2023Q1"}, "state": "success"},
    ])

    def app(self) -> FastAPI:
        api = FastAPI()

        async def record(request: Request) -> dict:
            body = await request.body()
            call = {"method": request.method, "path": request.url.path, "query": dict(request.query_params),
                    "auth": request.headers.get("authorization"),
                    "json": json.loads(body) if body else None}
            self.calls.append(call)
            return call

        @api.get("/api/v2/dags/{dag_id}")
        async def dag(request: Request, dag_id: str):
            await record(request)
            return {"dag_id": dag_id, "is_paused": dag_id in self.paused}

        @api.patch("/api/v2/dags/{dag_id}")
        async def patch_dag(request: Request, dag_id: str):
            call = await record(request)
            if self.forbid:
                return JSONResponse({"detail": "Forbidden"}, status_code=403)
            if call["json"].get("is_paused") is False:
                self.paused.discard(dag_id)
            return {"dag_id": dag_id, "is_paused": dag_id in self.paused}

        @api.get("/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        async def run(request: Request, dag_id: str, run_id: str):
            await record(request)
            return {"dag_id": dag_id, "dag_run_id": run_id, "state": self.run_states.get(run_id, "success")}

        @api.patch("/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        async def patch_run(request: Request, dag_id: str, run_id: str):
            call = await record(request)
            return {"dag_id": dag_id, "dag_run_id": run_id, "note": call["json"].get("note")}

        @api.get("/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")
        async def xcom(request: Request, dag_id: str, run_id: str, task_id: str, key: str):
            await record(request)
            if task_id not in self.xcoms:
                return JSONResponse({"detail": "XCom entry not found"}, status_code=404)
            return {"key": key, "task_id": task_id, "value": self.xcoms[task_id]}

        @api.get("/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        async def unmapped_ti(request: Request, dag_id: str, run_id: str, task_id: str):
            await record(request)
            return {"task_id": task_id, "dag_run_id": run_id, "map_index": -1,
                    "state": self.ti_states.get(task_id)}

        @api.get("/api/v2/dags/{dag_id}/dagRuns")
        async def runs(request: Request, dag_id: str):
            await record(request)
            return {"dag_runs": self.runs, "total_entries": len(self.runs)}

        @api.post("/api/v2/dags/{dag_id}/dagRuns")
        async def trigger(request: Request, dag_id: str):
            call = await record(request)
            if self.forbid:
                return JSONResponse({"detail": "Forbidden"}, status_code=403)
            return {"dag_run_id": call["json"].get("dag_run_id") or "manual__remind", "dag_id": dag_id,
                    "state": "queued", "conf": call["json"]["conf"]}

        @api.post("/api/v2/dags/{dag_id}/clearTaskInstances")
        async def clear(request: Request, dag_id: str):
            await record(request)
            if self.forbid:
                return JSONResponse({"detail": "Forbidden"}, status_code=403)
            return {"task_instances": [{"task_id": "ingest_unit"}, {"task_id": "merge"}], "total_entries": 2}

        @api.get("/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}")
        async def ti(request: Request, dag_id: str, run_id: str, task_id: str, map_index: int):
            await record(request)
            return {"task_id": task_id, "dag_run_id": run_id, "map_index": map_index,
                    "state": self.ti_states.get(task_id), "try_number": 1}

        return api


@pytest.fixture
def fake_airflow() -> FakeAirflow:
    return FakeAirflow()


@pytest.fixture
def client(output_root, tokens, fake_airflow):
    from fastapi.testclient import TestClient

    app = create_app(output_root=output_root, resolve_user=tokens.resolve,
                     airflow_api_url="http://airflow.test",
                     airflow_transport=httpx.ASGITransport(app=fake_airflow.app()))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def signed_in(client, tokens):
    client.cookies.set("_token", tokens.make())
    return client
