"""The correction review's answers and timeout, read from the run's params.

Kept apart from ``tasks`` so the DAG file (through ``review``) does not import the pipeline
at parse time."""
from __future__ import annotations

REVIEW_SEND = "发送更正版"          # the clerk's two answers, as the Airflow UI shows them
REVIEW_HOLD = "不发送"
DEFAULT_REVIEW_TIMEOUT_HOURS = 72.0


def review_timeout_hours(params: dict | None) -> float | None:
    """Hours the review waits for an answer (DAG param ``review_timeout_hours``); None: no limit."""
    value = (params or {}).get("review_timeout_hours", DEFAULT_REVIEW_TIMEOUT_HOURS)
    return float(value) if value else None


def send_on_timeout(params: dict | None) -> bool:
    """DAG param ``review_timeout_action``: ``hold`` (default: do not send) or ``send``."""
    return (params or {}).get("review_timeout_action") == "send"
