"""Message texts as Jinja templates kept in a ``templates/`` folder beside the code.

``render("wcreport.deliver", "reminder.html.j2", ...)`` renders
``wcreport/deliver/templates/reminder.html.j2``. Templates named ``*.html.j2`` are
autoescaped, so text from a unit's file can never become markup; ``*.txt.j2`` are not.
A missing variable is an error (``StrictUndefined``), not an empty string.
"""
from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, StrictUndefined, select_autoescape

from wcreport.core.labels import returned_summary

TEMPLATE_FOLDER = "templates"


def number(value: float | None, empty: str = "") -> str:
    """A number as people write it: 12, 0.5, 1500 (no trailing .0)."""
    return empty if value is None else f"{value:g}"


def date_zh(day: dt.date) -> str:
    """2023年3月31日"""
    return f"{day.year}年{day.month}月{day.day}日"


def month_day_zh(day: dt.date) -> str:
    """3月31日"""
    return f"{day.month}月{day.day}日"


@cache
def _bytecode_cache() -> FileSystemBytecodeCache | None:
    """Jinja's compiled templates kept between processes (in Jinja's private per-user temp folder).

    Every Airflow task runs in a fresh process; compiling a template costs more than rendering
    it. Jinja checks each cached entry against the template's source, so an edited template is
    compiled again. No usable folder (Jinja refuses one it does not own): compile every time.
    """
    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


@cache
def environment(package: str) -> Environment:
    """One Environment per package, reading ``<package>/templates``."""
    env = Environment(
        loader=PackageLoader(package, TEMPLATE_FOLDER),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters.update(number=number, date_zh=date_zh, month_day_zh=month_day_zh, returned_summary=returned_summary)
    return env


def render(package: str, name: str, **context: Any) -> str:
    """Render the template ``name`` from ``<package>/templates`` with ``context``."""
    return environment(package).get_template(name).render(**context)
