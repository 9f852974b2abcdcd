"""Who may do what on the 季度报送 page, decided by the auth manager Airflow runs with.

Under the simple auth manager (its roles viewer, user, op, admin): real JWTs carrying the
claims the simple auth manager itself serializes for each role, resolved by it, and every
route asked through the real app. Under FAB: the real FabAuthManager with FAB's own default
role permissions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote

import httpx
import pytest
from fastapi.testclient import TestClient

from wcreport.core.model import Manifest
from wcreport.dashboard import create_app
from wcreport.dashboard.access import Access, Capability, access_of, is_viewer_file

SECRET = "dashboard-access-test-secret-long-enough-for-hs512-0123456789abcdef"
AUDIENCE = "urn:airflow.apache.org:task"
ROLES = ("viewer", "user", "op", "admin")
ALLOWED = {   # the simple auth manager's answers, as its docs state them per role
    None: set(),
    "viewer": {Capability.VIEW},
    "user": {Capability.VIEW, Capability.RERUN, Capability.REMIND},
    "op": {Capability.VIEW, Capability.RERUN, Capability.REMIND},
    "admin": set(Capability),
}
RAW_TEXT = "RAW-UNIT-MAIL-CONTENT"

# (method, path, JSON body, capability it needs)
ROUTES = [
    ("GET", "/?quarter=2023Q1", None, Capability.VIEW),
    ("GET", "/api/quarters", None, Capability.VIEW),
    ("GET", "/api/grid?quarter=2023Q1", None, Capability.VIEW),
    ("GET", "/ti?quarter=2023Q1&unit=health", None, Capability.VIEW),
    ("GET", "/api/ti?quarter=2023Q1&unit=health", None, Capability.VIEW),
    ("GET", "/files/2023Q1/manifest.json", None, Capability.VIEW),
    ("GET", "/files/2023Q1/feedback/health.txt", None, Capability.VIEW),
    ("GET", "/files/2023Q1/data_docs/index.html", None, Capability.VIEW),
    ("POST", "/api/rerun", {"quarter": "2023Q1", "unit": "health"}, Capability.RERUN),
    ("POST", "/api/remind", {"quarter": "2023Q1", "unit": "health"}, Capability.REMIND),
    ("POST", "/api/remind/result", {"quarter": "2023Q1", "unit": "health", "dag_run_id": "r1"}, Capability.REMIND),
]

# Raw files under the output folder, as the pipeline lays them out (docs/manifest.md).
RAW_FILES = [
    "mailbox/eml/0f3a.eml",                 # a unit's mail, as received
    "mailbox/ledger.json",                  # the mailbox ledger
    "2023Q1/mailbox/ledger.json",
    "mail_ledger.json",                     # the report mail ledger
    "archive/2023Q1/0f3a.xlsx",             # a received file, archived
    "2023Q1/units/health.json",
    "2023Q1/sent/report.eml",
    "2023Q1/consolidated.json",
]


@dataclass
class SimpleTokens:
    """JWTs with the claims the simple auth manager serializes, validated and deserialized by it."""

    manager: object

    def make(self, role: str | None, name: str = "clerk") -> str:
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
        from airflow.api_fastapi.auth.tokens import JWTGenerator

        claims = self.manager.serialize_user(SimpleAuthManagerUser(username=name, role=role))
        return JWTGenerator(secret_key=SECRET, valid_for=600, audience=AUDIENCE, issuer=None,
                            algorithm="HS512").generate(claims)

    async def resolve(self, token: str):
        from airflow.api_fastapi.auth.tokens import JWTValidator

        validator = JWTValidator(secret_key=SECRET, audience=AUDIENCE, issuer=None, algorithm=["HS512"], leeway=0)
        return self.manager.deserialize_user(await validator.avalidated_claims(token))


@pytest.fixture
def raw_files(output_root):
    for path in RAW_FILES:
        target = output_root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"{RAW_TEXT} {path}", encoding="utf-8")
    return output_root


@pytest.fixture
def app_for(raw_files, simple_auth_manager, fake_airflow):
    """role -> a TestClient signed in with that role (no ``permissions``: the configured manager)."""
    tokens = SimpleTokens(simple_auth_manager)
    app = create_app(output_root=raw_files, resolve_user=tokens.resolve, airflow_api_url="http://airflow.test",
                     airflow_transport=httpx.ASGITransport(app=fake_airflow.app()))
    clients = []

    def make(role: str | None) -> TestClient:
        client = TestClient(app)
        client.cookies.set("_token", tokens.make(role))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _request(client: TestClient, method: str, path: str, body: dict | None, **kw):
    return client.request(method, path, json=body, follow_redirects=False, **kw)


# --- the route policy, role by role ---------------------------------------------------------
@pytest.mark.parametrize("role", [*ROLES, None])
@pytest.mark.parametrize(("method", "path", "body", "capability"), ROUTES,
                         ids=[f"{m} {p.split('?')[0]}" for m, p, _, _ in ROUTES])
def test_each_route_asks_the_auth_manager(app_for, fake_airflow, role, method, path, body, capability):
    response = _request(app_for(role), method, path, body)
    if capability in ALLOWED[role]:
        assert response.status_code in (200, 303), (role, path, response.status_code, response.text[:300])
        return
    assert response.status_code == 403, (role, path, response.status_code)
    detail = response.json()["detail"]
    assert detail.startswith("无权限") and response.json()["refused"] == capability.value
    assert "卫生健康事业中心" not in response.text and "cells" not in response.text   # nothing leaks
    assert fake_airflow.calls == []                                                    # Airflow not asked


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", RAW_FILES)
def test_raw_files_only_for_admins(app_for, role, path):
    response = app_for(role).get(f"/files/{path}")
    if role == "admin":
        assert response.status_code == 200 and RAW_TEXT in response.text
    else:
        assert response.status_code == 403, (role, path)
        assert "无权限" in response.json()["detail"] and RAW_TEXT not in response.text


@pytest.mark.parametrize("role", ["viewer", "op"])
def test_a_refused_user_learns_nothing_of_what_exists(app_for, role):
    for path in ("mailbox/eml/0f3a.eml", "mailbox/eml/nothing-here.eml", "archive/2099Q9/x.eml"):
        assert app_for(role).get(f"/files/{path}").status_code == 403, path
    assert app_for("admin").get("/files/mailbox/eml/nothing-here.eml").status_code == 404


def test_a_link_inside_a_viewer_folder_to_a_raw_file_is_refused(app_for, raw_files):
    (raw_files / "2023Q1" / "data_docs" / "mail.eml").symlink_to(raw_files / "mailbox" / "eml" / "0f3a.eml")
    (raw_files / "2023Q1" / "feedback" / "mailbox").symlink_to(raw_files / "mailbox", target_is_directory=True)
    for path in ("2023Q1/data_docs/mail.eml", "2023Q1/feedback/mailbox/ledger.json"):
        refused = app_for("viewer").get(f"/files/{path}")
        assert refused.status_code == 403 and RAW_TEXT not in refused.text, path
        assert app_for("admin").get(f"/files/{path}").status_code == 200, path


def test_viewers_open_the_workbook_the_manifest_names(app_for, raw_files):
    manifest = Manifest.model_validate_json((raw_files / "2023Q1" / "manifest.json").read_text(encoding="utf-8"))
    viewer = app_for("viewer")
    assert viewer.get(f"/files/{manifest.report}?download=1").status_code == 200
    (raw_files / "2023Q1" / "other.xlsx").write_bytes(b"PK\x03\x04 not the report")
    assert viewer.get("/files/2023Q1/other.xlsx").status_code == 403


def test_a_browser_gets_a_chinese_refusal_page(app_for):
    response = app_for(None).get("/?quarter=2023Q1", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert 'id="forbidden"' in response.text and "无权限查看季度报送" in response.text
    assert "卫生健康事业中心" not in response.text


def test_anonymous_is_still_asked_to_sign_in_first(app_for, raw_files):
    client = app_for("viewer")
    client.cookies.clear()
    assert client.get("/files/mailbox/ledger.json").status_code == 401


# --- the page offers only what the user may do ------------------------------------------------
class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.buttons: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        elif tag == "button":
            self.buttons.append(a.get("class") or "")


@pytest.mark.parametrize("role", ROLES)
def test_the_page_offers_only_what_the_role_may_use(app_for, fake_airflow, role):
    client = app_for(role)
    page = Links()
    page.feed(client.get("/?quarter=2023Q1").text)
    allowed = ALLOWED[role]
    assert ("act-rerun" in page.buttons) is (Capability.RERUN in allowed)
    assert ("act-remind" in page.buttons) is (Capability.REMIND in allowed)
    files = {unquote(h.split("/files/", 1)[1].split("?")[0]) for h in page.hrefs if "/files/" in h}
    assert files, "the page links the workbook, Data Docs and feedback"
    for path in sorted(files):
        assert client.get(f"/files/{path}").status_code == 200, (role, path)
    for href in (h for h in page.hrefs if h.startswith("/ti?")):
        assert client.get(href, follow_redirects=False).status_code == 303, href
    assert not any(re.search(r"mailbox|ledger|archive|\.eml", h) for h in page.hrefs)


# --- the policy itself -----------------------------------------------------------------------
@pytest.mark.parametrize(("path", "viewer"), [
    ("2023Q1/manifest.json", True),
    ("2023Q1/report.xlsx", True),                 # the manifest's workbook
    ("2023Q1/data_docs/index.html", True),
    ("2023Q1/data_docs/units/2023Q1-health.html", True),
    ("2023Q1/feedback/health.txt", True),
    ("2023Q1/other.xlsx", False),
    ("2023Q1/consolidated.json", False),
    ("2023Q1/mailbox/ledger.json", False),
    ("2023Q1/units/health.json", False),
    ("mail_ledger.json", False),
    ("mailbox/eml/x.eml", False),
    ("archive/2023Q1/x.xlsx", False),
    ("data_docs/index.html", False),              # not inside a quarter
    ("../2023Q1/manifest.json", False),
    ("2023q1/manifest.json", False),
])
def test_viewer_files_are_an_allow_list(path, viewer):
    asked: list[str] = []

    def report_of(quarter: str) -> str:
        asked.append(quarter)
        return "2023Q1/report.xlsx"

    assert is_viewer_file(path, report_of) is viewer
    assert all(q == "2023Q1" for q in asked)       # the manifest is read only for a real quarter folder


# --- FAB: the production auth manager --------------------------------------------------------
def _fab_user(role_name: str, extra: list[tuple[str, str]] = ()):
    from airflow.providers.fab.auth_manager.models import Action, Permission, Resource, Role, User
    from airflow.providers.fab.auth_manager.security_manager.override import (
        FabAirflowSecurityManagerOverride as SecurityManager,
    )

    perms = {c["role"]: c["perms"] for c in SecurityManager.ROLE_CONFIGS}[role_name]
    role = Role(name=role_name)
    role.permissions = [Permission(action=Action(name=a), resource=Resource(name=r)) for a, r in [*perms, *extra]]
    user = User(username=role_name.lower(), first_name="测试", last_name="用户", email="u@example.invalid")
    user.roles = [role]
    return user


RAW_PERMISSION = ("can_read", "Wcreport Raw Files")


@pytest.mark.parametrize(("role", "extra", "expected"), [
    ("Public", [], Access()),
    ("Viewer", [], Access(view=True)),
    ("User", [], Access(view=True, rerun=True, remind=True)),
    ("Op", [], Access(view=True, rerun=True, remind=True)),
    ("Op", [RAW_PERMISSION], Access(view=True, rerun=True, remind=True, raw_files=True)),  # granted by hand
    ("Viewer", [RAW_PERMISSION], Access(view=True, raw_files=True)),
    ("Admin", [RAW_PERMISSION], Access(view=True, rerun=True, remind=True, raw_files=True)),  # after sync
    ("Admin", [], Access(view=True, rerun=True, remind=True)),      # permission not registered: refused
])
def test_fab_roles(role, extra, expected):
    from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager

    from wcreport.orchestration.auth import AirflowPermissions

    assert access_of(AirflowPermissions(FabAuthManager()), _fab_user(role, extra)) == expected
