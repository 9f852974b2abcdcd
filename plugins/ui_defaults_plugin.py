"""Airflow plugin: the UI opens in Chinese and Beijing time for a browser that has chosen neither.

Airflow 3.3 has no server setting for the UI's language or time zone; this root middleware
stores our defaults in the browser where it holds no choice yet (wcreport.orchestration.ui_defaults;
settings ``[wcreport_ui] default_language`` / ``default_timezone``).
"""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from wcreport.orchestration.ui_defaults import UiDefaultsMiddleware


class WcreportUiDefaultsPlugin(AirflowPlugin):
    name = "wcreport_ui_defaults"
    fastapi_root_middlewares = [
        {"middleware": UiDefaultsMiddleware, "args": [], "kwargs": {}, "name": "UI 默认语言与时区"},
    ]
