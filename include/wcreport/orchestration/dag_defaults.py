"""default_args shared by the DAGs: owner, retries with exponential backoff, timeouts, alerts.

A task that still fails after its retries e-mails ops through ``smtp_default``
(``wcreport.orchestration.alerts.notify_ops_of_failure``): DAG, unit (the mapped instance's name),
reason and log URL. Importing this module is cheap (stdlib only), as DAG files need: the
alert's module (settings, SMTP, templates) is imported when a task fails, not at parse time.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

OWNER = "qunTuanKe-ops"
RETRIES = 2
RETRY_DELAY = dt.timedelta(minutes=2)
BACKOFF_MULTIPLIER = 2.0            # 2 min, then ~4 min (Airflow adds jitter), capped below
MAX_RETRY_DELAY = dt.timedelta(minutes=30)
EXECUTION_TIMEOUT = dt.timedelta(minutes=30)


def notify_ops_of_failure(context: Mapping[str, Any]) -> None:
    """The failure callback: ``alerts.notify_ops_of_failure``, imported when it is called."""
    from wcreport.orchestration.alerts import notify_ops_of_failure as notify

    notify(context)


def default_args(**overrides) -> dict:
    """default_args for every DAG of the project; keyword arguments override entries."""
    args = {
        "owner": OWNER,
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        # A multiplier in Airflow 3 (True would mean 1.0, i.e. no backoff at all).
        "retry_exponential_backoff": BACKOFF_MULTIPLIER,
        "max_retry_delay": MAX_RETRY_DELAY,
        "execution_timeout": EXECUTION_TIMEOUT,
        "on_failure_callback": [notify_ops_of_failure],
    }
    args.update(overrides)
    return args
