"""Airflow connections and Variables, read in one place and handed on as plain values.

Domain code never reads Airflow state itself: it takes ``SmtpSettings``, address maps
and the like as arguments. These readers follow the providers' conventions so an
existing ``smtp_default`` connection works unchanged.

Importing this module is cheap (stdlib only): ``alerts`` takes ``SMTP_CONN_ID`` from here while
DAG files are parsed, so the SMTP module is imported by ``smtp_settings`` when it runs.
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wcreport.deliver.smtp import SmtpSettings

log = logging.getLogger(__name__)

# The one Airflow connection all outgoing mail goes through (the SMTP provider's default name).
SMTP_CONN_ID = "smtp_default"


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def smtp_settings(conn_id: str = SMTP_CONN_ID) -> SmtpSettings:
    """Read an Airflow connection the way the SMTP provider's SmtpHook does.

    SSL and STARTTLS are on unless the extras ``disable_ssl`` / ``disable_tls`` say
    otherwise; STARTTLS is only used without SSL. The sender is ``from_email`` or,
    failing that, the login.
    """
    from airflow.sdk import BaseHook  # imported here: keep DAG parsing light

    from wcreport.deliver.smtp import MailConfigError, SmtpSettings

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    use_ssl = not _flag(extra.get("disable_ssl", False))
    starttls = (not _flag(extra.get("disable_tls", False))) and not use_ssl
    port = conn.port or (465 if use_ssl else 587 if starttls else 25)
    sender = extra.get("from_email") or conn.login or ""
    if not conn.host:
        raise MailConfigError(f"Airflow connection {conn_id!r} has no host: set it (Admin → Connections)")
    if not sender:
        raise MailConfigError(f"Airflow connection {conn_id!r} has neither extra from_email nor a login: "
                              "set extra {\"from_email\": \"...\"}")
    return SmtpSettings(host=conn.host, port=int(port), user=conn.login or "",
                        password=conn.password or "", use_ssl=use_ssl, starttls=starttls,
                        sender=sender, timeout=float(extra.get("timeout", 30)))


def variable(name: str) -> str | None:
    """An Airflow Variable, or None when unset or the store cannot be reached (logged)."""
    try:
        from airflow.sdk import Variable

        return Variable.get(name, default=None)
    except Exception:  # no Airflow runtime, or the Variable store is unreachable
        log.exception("Could not read Airflow Variable %s", name)
        return None


def json_variable(name: str) -> dict:
    """A Variable holding a JSON object; {} when unset or not an object (logged)."""
    raw = variable(name)
    if not raw:
        return {}
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        log.error("Variable %s is not JSON", name)
        return {}
    if not isinstance(data, dict):
        log.error("Variable %s is not a JSON object", name)
        return {}
    return data
