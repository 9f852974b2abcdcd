"""季度报送 dashboard: a FastAPI app for the Airflow UI (see plugins/dashboard_plugin.py).

Importing this package is cheap: FastAPI, Jinja2 and pydantic only; Airflow's auth
manager is imported lazily on the first request.
"""
from wcreport.dashboard.app import DEFAULT_PREFIX, create_app

__all__ = ["DEFAULT_PREFIX", "create_app"]
