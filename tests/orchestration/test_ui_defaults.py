"""The Airflow UI opens in Chinese and Beijing time where the browser has chosen neither.

Airflow 3.3 has no server setting for the UI's language or time zone (its UI reads the
browser's localStorage, else the browser's own language and zone); the plugin's middleware
seeds our defaults there. Checked here: the page rewrite, the middleware on a real ASGI app,
the configuration `make ui` (tools/ui_env.sh) and docker-compose give Airflow, and the real
API server's page under `make ui`'s configuration."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import airflow
import yaml
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from wcreport.orchestration.ui_defaults import (
    INJECTED_MARKER,
    UiDefaults,
    UiDefaultsMiddleware,
    checked,
    with_defaults,
)

ROOT = Path(__file__).resolve().parents[2]
UI_PAGE = (Path(airflow.__file__).parent / "ui" / "dist" / "index.html").read_bytes()
BEIJING_CHINESE = UiDefaults("zh-CN", "Asia/Shanghai")
SEEDED = re.compile(r'd=(\{[^}]*\});')


def seeded(page: bytes | str) -> dict | None:
    """The localStorage entries the page's seeding script stores, None without one."""
    text = page.decode() if isinstance(page, bytes) else page
    match = SEEDED.search(text)
    return json.loads(match.group(1)) if match else None


def test_the_ui_page_gets_the_defaults_before_the_uis_own_script():
    page = with_defaults(UI_PAGE, BEIJING_CHINESE)
    assert seeded(page) == {"i18nextLng": "zh-CN", "timezone": '"Asia/Shanghai"'}   # the UI's storage forms
    text = page.decode()
    assert text.index("data-wcreport-ui-defaults") < text.index("</head>")
    assert "getItem(k)===null" in text                     # a browser's own choice is left alone
    assert with_defaults(page, BEIJING_CHINESE) == page    # once only
    assert page.replace(text[text.index("<script data-wcreport"):text.index("</head>")].encode(), b"") == UI_PAGE


def test_other_pages_and_empty_settings_are_left_alone():
    other = b"<html><head><title>x</title></head><body><p>feedback</p></body></html>"
    assert with_defaults(other, BEIJING_CHINESE) == other
    assert with_defaults(UI_PAGE, UiDefaults(None, None)) == UI_PAGE
    assert seeded(with_defaults(UI_PAGE, UiDefaults(None, "Asia/Shanghai"))) == {"timezone": '"Asia/Shanghai"'}


def test_unusable_settings_are_dropped_with_a_warning(caplog):
    assert checked("zh-CN", "Asia/Shanghai") == BEIJING_CHINESE
    assert checked(" ", "") == UiDefaults(None, None)
    assert checked("中文</script>", "Mars/Olympus") == UiDefaults(None, None)
    assert "default_language" in caplog.text and "default_timezone" in caplog.text


def _asgi_app() -> UiDefaultsMiddleware:
    async def ui(request):
        return HTMLResponse(UI_PAGE)

    async def api(request):
        return JSONResponse({"page": UI_PAGE.decode()})

    async def big(request):
        chunk = b"<div>" + b"x" * 65536 + b"</div>"
        return StreamingResponse(iter([UI_PAGE.replace(b"</head>", b"</head>" + chunk)] + [chunk] * 8),
                                 media_type="text/html")

    app = Starlette(routes=[Route("/{path:path}", ui, methods=["GET", "POST"])])
    app.router.routes.insert(0, Route("/api/v2/x", api))
    app.router.routes.insert(0, Route("/big", big))
    return UiDefaultsMiddleware(app, BEIJING_CHINESE)


def test_the_middleware_rewrites_only_the_uis_html_page():
    client = TestClient(_asgi_app())
    for path in ("/", "/dags/quarterly_report/runs/x"):
        response = client.get(path)
        assert response.status_code == 200 and seeded(response.content) is not None
        assert int(response.headers["content-length"]) == len(response.content)
    assert client.get("/api/v2/x").json() == {"page": UI_PAGE.decode()}        # JSON: untouched
    assert INJECTED_MARKER not in client.post("/").content                      # only GET
    big = client.get("/big")
    assert INJECTED_MARKER not in big.content and len(big.content) > 9 * 65536  # large HTML streams through


def _airflow_sees(env: dict[str, str], tmp_path: Path, code: str) -> dict:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
           "AIRFLOW_HOME": str(tmp_path / "airflow_home"), **env}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


CONFIGURED = ("import json\n"
              "from airflow.configuration import conf\n"
              "from wcreport.orchestration.ui_defaults import configured\n"
              "d = configured()\n"
              "print(json.dumps({'language': d.language, 'timezone': d.timezone,\n"
              "                  'core_timezone': conf.get('core', 'default_timezone')}))\n")


def make_ui_environment(tmp_path: Path, **given: str) -> dict[str, str]:
    """The Airflow settings tools/ui.sh exports (it sources these two files for them), with
    ``given`` in the environment it starts from (e.g. UI_LANGUAGE)."""
    script = ("set -e; ROOT=\"$1\"; export AIRFLOW_HOME=\"$2\"; source \"$1/tools/airflow_env.sh\"; "
              "source \"$1/tools/ui_env.sh\"; env -0")
    out = subprocess.run(["bash", "-c", script, "ui_env", str(ROOT), str(tmp_path / "airflow_home")],
                         capture_output=True, timeout=60, env={"PATH": os.environ["PATH"], **given})
    assert out.returncode == 0, out.stderr
    pairs = (item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith(("AIRFLOW", "REPORT_"))}


def test_make_ui_gives_the_api_server_chinese_and_beijing_time(tmp_path):
    env = make_ui_environment(tmp_path)
    assert "ui_env.sh" in (ROOT / "tools" / "ui.sh").read_text()      # ui.sh takes them from there
    code = CONFIGURED.replace("print(", "from fastapi.testclient import TestClient\n"
                                        "from airflow.api_fastapi.app import create_app\n"
                                        "page = TestClient(create_app()).get('/dags').text\n"
                                        "print(") .replace("'core_timezone'", "'page': page, 'core_timezone'")
    seen = _airflow_sees({**env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}, tmp_path, code)
    assert (seen["language"], seen["timezone"], seen["core_timezone"]) == ("zh-CN", "Asia/Shanghai", "Asia/Shanghai")
    assert seeded(seen["page"]) == {"i18nextLng": "zh-CN", "timezone": '"Asia/Shanghai"'}
    assert (env["AIRFLOW__WCREPORT_UI__DEFAULT_LANGUAGE"], env["AIRFLOW__WCREPORT_UI__DEFAULT_TIMEZONE"]) == \
        ("zh-CN", "Asia/Shanghai")                                   # said where ops read it


def test_make_ui_takes_another_language_and_zone_from_its_environment(tmp_path):
    env = make_ui_environment(tmp_path, UI_LANGUAGE="en", UI_TIMEZONE="UTC")
    seen = _airflow_sees({**env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}, tmp_path, CONFIGURED)
    assert (seen["language"], seen["timezone"]) == ("en", "UTC")


def _compose_value(value: str) -> str:
    """A compose value with ``${VAR:-default}`` as compose resolves it when VAR is not set."""
    assert ":?" not in value, value
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def test_docker_compose_gives_every_airflow_service_chinese_and_beijing_time(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
    wanted = ("AIRFLOW__WCREPORT_UI__DEFAULT_LANGUAGE", "AIRFLOW__WCREPORT_UI__DEFAULT_TIMEZONE",
              "AIRFLOW__CORE__DEFAULT_TIMEZONE")
    airflow_services = {name: s for name, s in compose["services"].items() if name.startswith("airflow-")}
    assert "airflow-apiserver" in airflow_services
    seen_envs = set()
    for name, service in airflow_services.items():
        environment = service["environment"]
        env = {key: _compose_value(environment[key]) for key in wanted}
        seen_envs.add(tuple(sorted(env.items())))
        assert environment["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager"), name
    (env_items,) = seen_envs
    seen = _airflow_sees(dict(env_items), tmp_path, CONFIGURED)
    assert (seen["language"], seen["timezone"], seen["core_timezone"]) == ("zh-CN", "Asia/Shanghai", "Asia/Shanghai")


def test_the_plugin_registers_the_middleware_for_the_api_server(tmp_path):
    code = ("import json\n"
            "from airflow import plugins_manager\n"
            "apps, middlewares = plugins_manager.get_fastapi_plugins()\n"
            "print(json.dumps([m['middleware'].__module__ + '.' + m['middleware'].__name__ for m in middlewares]))\n")
    env = {"AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    assert "wcreport.orchestration.ui_defaults.UiDefaultsMiddleware" in _airflow_sees(env, tmp_path, code)
