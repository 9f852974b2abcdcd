"""The clerk's approval of a 更正版: Airflow's human-in-the-loop operator, one card per request.

``CorrectionReview`` is a ``HITLOperator`` with two answers, 发送更正版 and 不发送, mapped over
the run's requests (``review_requests``, from the mail ledger): a unit's rerun that changes the
content makes a new request, and Airflow keeps the first try's subject and body for a cleared
instance (its human-in-the-loop detail follows the instance), so each request gets an instance
of its own and every earlier one returns at once, asking nothing. The card's subject and body are built from the ledger
when the instance starts waiting (``tasks.review_card``), the clerk is mailed once per request
(``ClerkNotifier``), and the answer carries which request its card showed, so an approval of
anything but the current request sends nothing (``flow.mail.send_correction``).

How long it waits and what happens when nobody answers come from the run's params
(``review_timeout_hours``, ``review_timeout_action``), which a plain operator could only take
at parse time.

On Airflow 3.3 the task does not defer: it parks in the ``awaiting_input`` state, an
answer through the UI (Required Actions) or the REST API
(``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails``)
resumes it, and the scheduler applies the default answer once the timeout has passed.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from urllib.parse import quote

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import BaseNotifier

from wcreport.orchestration.review_answers import (
    DEFAULT_REVIEW_TIMEOUT_HOURS,
    REVIEW_HOLD,
    REVIEW_SEND,
    review_timeout_hours,
    send_on_timeout,
)

log = logging.getLogger(__name__)

RUN_TASK = "resolve_run"      # whose XCom is the run's paths and programme
PLACEHOLDER_SUBJECT = "审核更正版"


def card_path(ti) -> str:
    """The UI path of one mapped card under Required Actions (the UI's route for a mapped instance;
    ``HITLOperator.generate_link_to_ui`` gives the unmapped route with ``?map_index=``)."""
    return (f"/dags/{quote(ti.dag_id, safe='')}/runs/{quote(ti.run_id, safe='')}/tasks/{quote(ti.task_id, safe='')}"
            f"/mapped/{ti.map_index}/required_actions")


class ClerkNotifier(BaseNotifier):
    """Mails the clerk when a card starts waiting; a failed mail is logged, the card still waits."""

    template_fields = ()

    def __init__(self, run: dict[str, Any], review_id: str) -> None:
        super().__init__()
        self.run, self.review_id = run, review_id

    def notify(self, context) -> None:
        from wcreport.orchestration.tasks import notify_clerk

        path = card_path(context["ti"])
        try:
            outcome = notify_clerk(self.run, self.review_id, path)   # the API server's base URL goes in front
        except Exception:           # the review must not fail because the notice could not go out
            log.exception("Could not mail the clerk about correction %s", self.review_id)
            return
        log.info("Clerk notice for %s: %s", self.review_id, outcome)


class CorrectionReview(HITLOperator):
    """One request's card: asks only if it is the run's current request; timeout from the run's params."""

    ui_color = "#fde9d9"

    def __init__(self, *, card: dict[str, Any] | None = None, **kwargs) -> None:
        super().__init__(subject=PLACEHOLDER_SUBJECT, options=[REVIEW_SEND, REVIEW_HOLD], defaults=[REVIEW_HOLD],
                         multiple=False, response_timeout=dt.timedelta(hours=DEFAULT_REVIEW_TIMEOUT_HOURS),
                         **kwargs)
        self.card = card or {}

    def execute(self, context):
        from wcreport.orchestration.tasks import review_card

        review_id = self.card.get("review_id", "")
        if not self.card.get("current"):
            log.info("Request %s was replaced by a newer one in this run: nothing to ask", review_id)
            return self._not_asked(review_id)
        params = context["params"]
        run = context["ti"].xcom_pull(task_ids=RUN_TASK)
        request = review_card(run, review_id, params)
        if request is None:
            log.info("Request %s no longer waits for an answer: nothing to ask", review_id)
            return self._not_asked(review_id)
        self.subject, self.body = request["subject"], request["body"]
        hours = review_timeout_hours(params)
        self.response_timeout = dt.timedelta(hours=hours) if hours else None
        self.defaults = [REVIEW_SEND if send_on_timeout(params) else REVIEW_HOLD]
        self.notifiers = [ClerkNotifier(run, review_id)]
        log.info("Card for %s: %s", review_id, self.subject)
        return super().execute(context)

    @staticmethod
    def _not_asked(review_id: str) -> dict[str, Any]:
        """An earlier card's result: it asked nothing (success, so send_correction still runs)."""
        return {"chosen_options": [], "params_input": {}, "responded_by_user": None, "not_asked": True,
                "card": {"review_id": review_id}}

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        answer = super().execute_complete(context, event)
        return {**answer, "card": {"review_id": self.card.get("review_id", "")}}
