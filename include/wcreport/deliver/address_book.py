"""One address book for every mail to a unit (reminders, feedback, notices).

A unit's addresses are the programme file's (``units[].email``/``emails``), unless the Airflow
Variable ``report_unit_emails`` (``{"unit_key": "a@x.cn"}``, or several addresses separated by
commas or semicolons) names the unit: the Variable is where ops put an address mid-year without
editing the programme file, so it wins.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

from wcreport.core.programme import Programme

log = logging.getLogger(__name__)

UNIT_EMAILS_VARIABLE = "report_unit_emails"
# Shown wherever a mail to a unit could not go out: where an address is set.
WHERE_TO_SET_AN_ADDRESS = (f"请在实事配置文件 include/programmes/<年份>.yaml 的 units[].email，"
                           f"或 Airflow 变量 {UNIT_EMAILS_VARIABLE} 中为该单位配置邮箱")
_SEPARATORS = re.compile(r"[,;，；\s]+")


@dataclass(frozen=True)
class AddressBook:
    """unit key → its addresses, in the order mail is sent to them: the Variable's for the units
    it names (``overrides``), else the programme file's. A unit's addresses are looked up when
    asked for, so one unit's mail does not read every unit's, and the Variable is read (from
    ``variable``) only when the first address is asked for: most ingests mail nobody."""

    programme: Programme
    variable: Callable[[], Mapping[str, object] | None] = dict

    @cached_property
    def overrides(self) -> dict[str, tuple[str, ...]]:
        """The units the Variable names, with its addresses for them."""
        overrides: dict[str, tuple[str, ...]] = {}
        for key, value in (self.variable() or {}).items():
            if key not in self.programme.units_by_key:
                log.warning("Variable %s names unknown unit %r", UNIT_EMAILS_VARIABLE, key)
                continue
            addresses = _addresses(value)
            if addresses:
                overrides[key] = addresses
            else:
                log.warning("Variable %s: no address for unit %r in %r", UNIT_EMAILS_VARIABLE, key, value)
        return overrides

    def of(self, unit_key: str) -> list[str]:
        if unit_key in self.overrides:
            return list(self.overrides[unit_key])
        unit = self.programme.units_by_key.get(unit_key)
        return unit.addresses if unit else []

    def first(self) -> dict[str, str]:
        """unit key → its first address (one recipient per reminder)."""
        return {u.key: addresses[0] for u in self.programme.units if (addresses := self.of(u.key))}


def address_book(programme: Programme, variable: Mapping[str, object] | None = None) -> AddressBook:
    """The programme's addresses, each unit the Variable names replaced by the Variable's."""
    return AddressBook(programme, lambda: variable)


def _addresses(value: object) -> tuple[str, ...]:
    parts = value if isinstance(value, list) else _SEPARATORS.split(str(value or ""))
    return tuple(dict.fromkeys(p.strip() for p in parts if isinstance(p, str) and "@" in p))


def addresses_in(value: object) -> list[str]:
    """The addresses in a setting: a list, or one string separated by commas, semicolons or spaces."""
    return list(_addresses(value))
