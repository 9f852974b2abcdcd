"""Airflow glue for the quarter's flow (``wcreport.flow``): one function per DAG task.

Each takes and returns XCom values (small dicts and lists), turns them into the flow's
typed values, reads what only Airflow holds (the SMTP connection, Variables, the API's base
URL, the clerk's answer) and turns faults no retry can fix into ``AirflowFailException``
(``fail_fast``). The steps themselves live in ``wcreport.flow``; each is imported by the
function that runs it, so a task process loads only its own step (a unit's ingest does not
load the workbook writer).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from wcreport.core.programme import Programme
from wcreport.core.settings import QuarterPaths
from wcreport.core.unit_results import load_unit_result  # noqa: F401 - part of this module's interface
from wcreport.flow.run import QuarterRun, ReminderRun
from wcreport.flow.run import resolve_run as resolve
from wcreport.flow.summaries import MailPlan, MergeSummary, StageOutcome, UnitSummary
from wcreport.orchestration.connections import SMTP_CONN_ID, json_variable, smtp_settings
from wcreport.orchestration.failures import fail_fast
from wcreport.orchestration.review_answers import REVIEW_SEND, review_timeout_hours, send_on_timeout

if TYPE_CHECKING:
    from wcreport.deliver.reminders import RunSummary
    from wcreport.flow.mail import CardRef
    from wcreport.flow.summaries import ReviewRequest


def quarter_run(run: dict[str, Any] | QuarterRun) -> QuarterRun:
    return run if isinstance(run, QuarterRun) else QuarterRun.model_validate(run)


def paths_of(run: dict[str, Any] | QuarterRun) -> QuarterPaths:
    return quarter_run(run).paths


def programme_of(run: dict[str, Any] | QuarterRun) -> Programme:
    return quarter_run(run).programme


@fail_fast
def resolve_run(quarter: str | None, inbox: str | None, output: str | None,
                interval_start: dt.datetime | None = None) -> dict[str, Any]:
    return resolve(quarter, inbox, output, interval_start).model_dump()


@fail_fast
def gather(run: dict[str, Any]) -> list[str]:
    from wcreport.flow.gather import gather as gather_step
    from wcreport.orchestration.alerts import notify_ops_of_problem

    return gather_step(quarter_run(run), alert_ops=notify_ops_of_problem)


@fail_fast
def validate_quarter(run: dict[str, Any]) -> StageOutcome:
    from wcreport.flow.validate_quarter import validate_quarter as validate_step

    return validate_step(quarter_run(run))


@fail_fast
def ingest(run: dict[str, Any], unit_key: str, conn_id: str = SMTP_CONN_ID) -> UnitSummary:
    from wcreport.flow.ingest_unit import ingest_unit

    return ingest_unit(quarter_run(run), unit_key, lambda: smtp_settings(conn_id), _unit_emails_variable)


@fail_fast
def merge(run: dict[str, Any]) -> MergeSummary:
    from wcreport.flow.merge import merge as merge_step

    return merge_step(quarter_run(run))


@fail_fast
def plan_mail(run: dict[str, Any], merged: MergeSummary, requested_by: str = "") -> MailPlan:
    from wcreport.flow.mail import plan_mail as plan

    return plan(quarter_run(run), merged, requested_by=requested_by)


@fail_fast
def review_cards(run: dict[str, Any], run_id: str) -> list[CardRef]:
    """The run's approval cards (``review_correction`` is mapped over them); only the last is current."""
    from wcreport.flow.mail import review_cards as cards

    return cards(quarter_run(run), run_id)


def review_card(run: dict[str, Any], review_id: str, params: dict[str, Any] | None) -> ReviewRequest | None:
    """The card's subject and body, built now from the ledger; None when the review no longer waits."""
    from wcreport.flow.mail import review_card as card

    return card(quarter_run(run), review_id, base_url=_api_base_url(), timeout_hours=review_timeout_hours(params),
                send_on_timeout=send_on_timeout(params))


def notify_clerk(run: dict[str, Any], review_id: str, required_actions: str, conn_id: str = SMTP_CONN_ID) -> str:
    """Mail the clerk that review ``review_id`` waits, once per review; returns what happened."""
    from wcreport.deliver.review_notice import CLERK_EMAIL_VARIABLE
    from wcreport.flow.mail import notify_clerk as notify
    from wcreport.orchestration.alerts import send_mail
    from wcreport.orchestration.connections import variable

    return notify(quarter_run(run), review_id, _absolute(required_actions), variable(CLERK_EMAIL_VARIABLE),
                  lambda to, notice: send_mail(to, notice.subject, notice.html, text_body=notice.text,
                                               headers=notice.headers, conn_id=conn_id),
                  base_url=_api_base_url())


def _absolute(path: str) -> str:
    return path if "://" in path else f"{_api_base_url().rstrip('/')}{path}"


def _api_base_url() -> str:
    try:
        from airflow.configuration import conf

        return conf.get("api", "base_url", fallback="") or ""
    except Exception:          # configuration unavailable: a server-relative link still works in the UI
        return ""


@fail_fast
def send(run: dict[str, Any], merged: MergeSummary, conn_id: str = SMTP_CONN_ID) -> StageOutcome:
    from wcreport.flow.mail import send as send_step

    return send_step(quarter_run(run), merged, smtp_settings(conn_id))


@fail_fast
def send_correction(run: dict[str, Any], plan: MailPlan, answers: Iterable[dict[str, Any] | None],
                    conn_id: str = SMTP_CONN_ID) -> StageOutcome:
    """Act on the answer to the run's current card; an answer to an earlier card sends nothing."""
    from wcreport.flow.mail import CardShown
    from wcreport.flow.mail import send_correction as send_step

    given = [a for a in answers if a and not a.get("not_asked")]
    answer = next((a for a in given if (a.get("card") or {}).get("review_id") == plan["id"]),
                  given[-1] if given else None)
    if answer is None:
        from wcreport.flow.mail import nothing_asked

        return nothing_asked(quarter_run(run), plan)
    approved = list(answer.get("chosen_options") or []) == [REVIEW_SEND]
    responder = (answer.get("responded_by_user") or {}).get("name") or None
    card = answer.get("card") or {}
    shown = CardShown(review_id=card["review_id"]) if card.get("review_id") else None
    return send_step(quarter_run(run), plan, approved, responder,
                     smtp_settings(conn_id) if approved else None, shown)


@fail_fast
def send_reminders(run: dict[str, Any]) -> StageOutcome:
    """Today's reminders for the run's quarter, through ``smtp_default``."""
    from wcreport.flow.reminders import send_reminders as send_step
    from wcreport.orchestration.alerts import send_mail

    return send_step(ReminderRun.model_validate(run), _unit_emails_variable(), send_mail)


def remind_units(paths: QuarterPaths, programme: Programme, today: dt.date, *,
                 only_units: Collection[str] | None = None) -> RunSummary:
    """Reminders with the addresses of the programme file and the Variable report_unit_emails."""
    from wcreport.deliver.reminders import send_reminders as send_all
    from wcreport.deliver.reminders import unit_addresses
    from wcreport.orchestration.alerts import send_mail

    return send_all(paths, programme, today, addresses=unit_addresses(programme, _unit_emails_variable()),
                    send=send_mail, only_units=only_units)


def _unit_emails_variable() -> dict[str, object]:
    """The Variable report_unit_emails (unit key → address, several separated by commas, or a list)."""
    from wcreport.deliver.address_book import UNIT_EMAILS_VARIABLE

    return {str(k): v for k, v in json_variable(UNIT_EMAILS_VARIABLE).items()}


def map_label(summary: UnitSummary) -> str:
    """The ingest_unit instance's name in the Airflow grid (``flow.ingest_unit.map_label``)."""
    from wcreport.flow.ingest_unit import map_label as label

    return label(summary)
