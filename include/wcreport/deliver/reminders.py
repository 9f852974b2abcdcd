"""Reminders to units that have not yet given a valid file for the quarter.

On working days during the last N days before the quarter's deadline (N =
``programme.report.reminder_days``), each unit whose result is not accepted gets one
polite Chinese mail a day:

* missing: the reminder with the unit's blank form attached
  (``wcreport.deliver.forms.write_unit_template``);
* rejected: why its file was rejected, with its feedback file attached.

The mail text (HTML and plain text) is in ``templates/reminder.html.j2`` and
``templates/reminder.txt.j2``; only the subject lines are built here.

Unit states are read from ``<output>/<quarter>/units/<key>.json`` (``UnitResult``, the
same files quarterly_report's ingest writes; the reminders DAG refreshes them first by
running the pipeline's gather and ingest). Addresses: the Airflow Variable
``report_unit_emails`` (JSON ``{unit_key: email}``) wins over ``Unit.email`` in the
programme file. The ledger ``<output root>/reminder_ledger.json`` records every reminder
sent, so a unit gets at most one a day even when the DAG is run again.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from wcreport.core import workdays
from wcreport.core.io import locked_json, write_json_atomic
from wcreport.core.labels import REMINDER_KIND_ZH, STAMPED_ZH, stamped_state
from wcreport.core.model import UnitResult
from wcreport.core.programme import Programme, ProgrammeError, programme_for_year
from wcreport.core.quarter import TZ, Quarter
from wcreport.core.settings import QuarterPaths
from wcreport.core.templating import month_day_zh, render
from wcreport.deliver.address_book import UNIT_EMAILS_VARIABLE, address_book

log = logging.getLogger(__name__)

LEDGER_NAME = "reminder_ledger.json"
ReminderKind = Literal["missing", "rejected", "stamped"]
# A unit whose data passed still owes the stamped copy in these states (a greyscale scan,
# "unknown", is for a person to check, not a reason to remind).
STAMPED_REMINDED = frozenset({"missing", "unreadable", "no_seal"})


# --- when --------------------------------------------------------------------
def today_in_shanghai(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(TZ)).astimezone(TZ).date()


def due_quarter(today: dt.date, load: Callable[[int], Programme] = programme_for_year
                ) -> tuple[Quarter, Programme] | None:
    """The quarter whose reminder window contains ``today`` (a working day), if any."""
    if not workdays.is_workday(today):
        return None
    here = Quarter.containing(today)
    for quarter in (here, here.previous()):   # a deadline may fall after its quarter ends
        try:
            programme = load(quarter.year)
        except (ProgrammeError, FileNotFoundError):
            continue
        deadline = programme.deadline(quarter.number)
        if workdays.is_reminder_day(today, deadline, programme.report.reminder_days):
            return quarter, programme
    return None


# --- who ---------------------------------------------------------------------
@dataclass
class UnitState:
    unit: str
    unit_name: str
    status: str                         # submitted / missing / rejected
    reasons: list[str] = field(default_factory=list)
    feedback: Path | None = None
    stamped: str = "missing"            # a key of labels.STAMPED_ZH

    @property
    def owes_stamped_copy(self) -> bool:
        """Data accepted, but no readable stamped copy or one without a visible seal."""
        return self.status == "submitted" and self.stamped in STAMPED_REMINDED


def unit_states(paths: QuarterPaths, programme: Programme) -> list[UnitState]:
    """Every expected unit's state from units/<key>.json; no file means missing."""
    states = []
    for unit in programme.units:
        path = paths.units / f"{unit.key}.json"
        if not path.exists():
            states.append(UnitState(unit.key, unit.name, "missing"))
            continue
        result = UnitResult.model_validate_json(path.read_text(encoding="utf-8"))
        states.append(UnitState(unit.key, unit.name, result.status,
                                reasons=_reasons(result),
                                feedback=_resolve(paths.output_root, result.feedback),
                                stamped=stamped_state(result.stamped_copy, 0.0)))
    return states


def _reasons(result: UnitResult) -> list[str]:
    reasons: list[str] = []
    for record in result.files:
        if record.status == "rejected":
            reasons.extend(record.reasons or [f.as_text() for f in record.findings
                                              if f.severity == "error"])
    return list(dict.fromkeys(reasons))[:10]


def _resolve(root: Path, relative: str | None) -> Path | None:
    if not relative:
        return None
    path = Path(relative)
    return path if path.is_absolute() else root / path


def unit_addresses(programme: Programme, variable: Mapping[str, object] | None = None
                   ) -> dict[str, str]:
    """unit key -> the address a reminder goes to (``deliver.address_book``)."""
    return address_book(programme, variable).first()


# --- what --------------------------------------------------------------------
@dataclass
class Reminder:
    unit: str
    unit_name: str
    kind: ReminderKind
    to: str
    subject: str
    html: str
    attachment: Path | None
    text: str = ""

    @property
    def kind_zh(self) -> str:
        return REMINDER_KIND_ZH[self.kind]


def compose(state: UnitState, programme: Programme, quarter: Quarter, today: dt.date,
            to: str, attachment: Path | None) -> Reminder:
    """The reminder for one unit: HTML and plain text from templates/reminder.*.j2."""
    kind: ReminderKind = ("rejected" if state.status == "rejected"
                          else "stamped" if state.owes_stamped_copy else "missing")
    deadline = programme.deadline(quarter.number)
    context = {"kind": kind, "unit_name": state.unit_name, "reasons": state.reasons,
               "quarter_label": quarter.label_zh, "report": programme.report,
               "notice": programme.notice, "deadline": deadline, "today": today, "overdue": today > deadline,
               "has_attachment": attachment is not None,
               "stamped_zh": STAMPED_ZH.get(state.stamped, "")}
    return Reminder(state.unit, state.unit_name, kind, to,
                    reminder_subject(kind, state, quarter, deadline, overdue=today > deadline),
                    render(__package__, "reminder.html.j2", **context), attachment,
                    text=render(__package__, "reminder.txt.j2", **context))


def reminder_subject(kind: ReminderKind, state: UnitState, quarter: Quarter, deadline: dt.date, *,
                     overdue: bool = False) -> str:
    """The reminder's subject; after the deadline it says the deadline has passed instead of naming it."""
    if kind == "rejected":
        return f"【提醒】{state.unit_name}报送的{quarter.label_zh}实事进展情况报表未通过校验，请修改后重新报送"
    if overdue:
        what = "实事进展情况报表的盖章扫描件" if kind == "stamped" else "实事进展情况报表"
        return f"【提醒】报送截止日期已过，请尽快{'补报' if kind == 'stamped' else '报送'}{quarter.label_zh}{what}"
    if kind == "stamped":
        return f"【提醒】请于{month_day_zh(deadline)}前补报{quarter.label_zh}实事进展情况报表的盖章扫描件"
    return f"【提醒】请于{month_day_zh(deadline)}前报送{quarter.label_zh}实事进展情况报表"


# --- ledger ------------------------------------------------------------------
@contextlib.contextmanager
def locked_ledger(output_root: Path) -> Iterator[dict]:
    """Open the reminder ledger under an exclusive lock; changes are saved on exit."""
    path = output_root / LEDGER_NAME
    with locked_json(path, dict) as data:
        data.setdefault("sent", [])
        yield data


def already_sent(ledger: dict, quarter: Quarter, unit: str, day: dt.date) -> bool:
    return any(e["quarter"] == str(quarter) and e["unit"] == unit and e["date"] == day.isoformat()
               for e in ledger["sent"])


# --- the run -----------------------------------------------------------------
@dataclass
class RunSummary:
    quarter: str
    date: str
    sent: list[str] = field(default_factory=list)            # unit keys
    already_sent_today: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def send_reminders(paths: QuarterPaths, programme: Programme, today: dt.date, *,
                   addresses: Mapping[str, str], send: Callable[..., None],
                   only_units: Collection[str] | None = None) -> RunSummary:
    """Send today's reminders for ``paths.quarter``; returns what happened per unit.

    ``only_units`` limits the run to these unit keys ("remind this unit now").

    ``addresses`` maps unit keys to addresses (``unit_addresses``); ``send(to, subject,
    html, text_body=..., files=[...], headers={...})`` sends one mail (orchestration
    binds it to its SMTP connection).
    """
    quarter = paths.quarter
    addresses = dict(addresses)
    summary = RunSummary(str(quarter), today.isoformat())
    with locked_ledger(paths.output_root) as ledger:
        for state in unit_states(paths, programme):
            if only_units is not None and state.unit not in only_units:
                continue
            if state.status == "submitted" and not state.owes_stamped_copy:
                summary.accepted.append(state.unit)
                continue
            if already_sent(ledger, quarter, state.unit, today):
                summary.already_sent_today.append(state.unit)
                continue
            to = addresses.get(state.unit)
            if not to:
                log.warning("No e-mail address for unit %s (%s): set it in the programme file "
                            "or the Variable %s", state.unit, state.unit_name, UNIT_EMAILS_VARIABLE)
                summary.no_address.append(state.unit)
                continue
            try:
                reminder = compose(state, programme, quarter, today, to,
                                   _attachment(state, paths, programme))
                send(reminder.to, reminder.subject, reminder.html, text_body=reminder.text,
                     files=[reminder.attachment] if reminder.attachment else [],
                     headers={"X-Wcreport-Unit": state.unit, "X-Wcreport-Reminder": reminder.kind,
                              "X-Wcreport-Quarter": str(quarter)})
            except Exception:
                log.exception("Reminder to %s (%s) failed", state.unit, to)
                summary.failed.append(state.unit)
                continue
            ledger["sent"].append({"quarter": str(quarter), "unit": state.unit,
                                   "date": today.isoformat(), "kind": reminder.kind, "to": to,
                                   "sent_at": dt.datetime.now(TZ).isoformat(timespec="seconds")})
            write_json_atomic(paths.output_root / LEDGER_NAME, ledger)  # record each at once
            summary.sent.append(state.unit)
            log.info("Reminder (%s) sent to %s <%s>", reminder.kind, state.unit_name, to)
    return summary


def _attachment(state: UnitState, paths: QuarterPaths, programme: Programme) -> Path | None:
    if state.status == "submitted":
        return None  # a stamped-copy reminder: the unit prints and stamps what it already sent
    if state.status == "rejected" and state.feedback and state.feedback.exists():
        return state.feedback
    if state.status == "rejected":
        return None
    from wcreport.deliver.forms import template_filename, write_unit_template

    folder = paths.output / "templates"
    target = folder / template_filename(programme, state.unit, paths.quarter)
    if not target.exists():
        write_unit_template(programme, state.unit, paths.quarter, target)
    return target
