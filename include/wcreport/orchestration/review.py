"""The clerk's approval of a 更正版: Airflow's human-in-the-loop operator, configured per run.

``CorrectionReview`` is a ``HITLOperator`` with two answers, 发送更正版 and 不发送. The
request's subject and body come from ``plan_mail`` (``orchestration.tasks``) through XCom;
how long it waits and what happens when nobody answers come from the run's params
(``review_timeout_hours``, ``review_timeout_action``), which a plain operator could only
take at parse time.

On Airflow 3.3 the task does not defer: it parks in the ``awaiting_input`` state, an
answer through the UI (Required Actions) or the REST API
(``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails``)
resumes it, and the scheduler applies the default answer once the timeout has passed.
Under ``airflow dags test`` there is no scheduler: the run waits until an answer arrives
from an API server on the same metadata database, and the timeout is not applied.
"""
from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.hitl import HITLOperator

from wcreport.orchestration.review_answers import (
    DEFAULT_REVIEW_TIMEOUT_HOURS,
    REVIEW_HOLD,
    REVIEW_SEND,
    review_timeout_hours,
    send_on_timeout,
)


class CorrectionReview(HITLOperator):
    """Approve or hold the quarter's pending correction; timeout and its answer from the run's params."""

    ui_color = "#fde9d9"

    def __init__(self, **kwargs) -> None:
        super().__init__(options=[REVIEW_SEND, REVIEW_HOLD], defaults=[REVIEW_HOLD], multiple=False,
                         response_timeout=dt.timedelta(hours=DEFAULT_REVIEW_TIMEOUT_HOURS), **kwargs)

    def execute(self, context):
        params = context["params"]
        hours = review_timeout_hours(params)
        self.response_timeout = dt.timedelta(hours=hours) if hours else None
        self.defaults = [REVIEW_SEND if send_on_timeout(params) else REVIEW_HOLD]
        return super().execute(context)
