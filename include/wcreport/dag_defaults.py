"""STUB (owned by the operations developer): default_args and callbacks shared by the DAGs."""
from __future__ import annotations

import datetime as dt


def default_args() -> dict:
    return {"owner": "qunTuanKe-ops", "retries": 2, "retry_delay": dt.timedelta(minutes=1)}
