"""Airflow plugin: the 季度报送 page (a FastAPI app shown in the UI through an external view).

The app is mounted in the API server at ``/wcreport``; the external view puts a
"季度报送" entry in the UI's navigation and renders the app in the UI's iframe at
``/plugin/wcreport``. Every route requires a valid Airflow JWT (the UI's session cookie)
and asks the configured auth manager whether its user may use it: see
wcreport.dashboard.access.
"""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from wcreport.dashboard import DEFAULT_PREFIX, create_app

dashboard_app = create_app(url_prefix=DEFAULT_PREFIX)


class WcreportDashboardPlugin(AirflowPlugin):
    name = "wcreport_dashboard"
    fastapi_apps = [
        {"app": dashboard_app, "url_prefix": DEFAULT_PREFIX, "name": "季度报送看板"},
    ]
    external_views = [
        {
            "name": "季度报送",
            # Relative: resolved against the UI's <base href>, so it also works under a sub-path.
            "href": DEFAULT_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "url_route": "wcreport",
            "nav_top_level": True,
        },
    ]
