"""The Airflow UI's language and time zone for a browser that has not chosen any: Chinese, Beijing time.

Airflow 3.3 has no server setting for either. Its UI takes the language from the browser's
localStorage key ``i18nextLng``, else from the browser's own language list, and the time zone
from the key ``timezone`` (JSON), else from the browser's own time zone; the User menu's
choices are stored under those keys. This root middleware (``plugins/ui_defaults_plugin.py``)
puts a small script at the top of the UI's page that stores our defaults under those keys
only where the browser holds no choice yet, before the UI's own script reads them. A choice
made in the User menu stays the browser's choice.

Settings, in our own section of Airflow's config (``AIRFLOW__WCREPORT_UI__…`` in the
environment; ``make ui`` and docker-compose set both):

- ``[wcreport_ui] default_language`` (default ``zh-CN``; empty: the browser's language)
- ``[wcreport_ui] default_timezone`` (default ``Asia/Shanghai``; empty: the browser's zone)
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

SECTION = "wcreport_ui"
DEFAULT_LANGUAGE = "zh-CN"
DEFAULT_TIMEZONE = "Asia/Shanghai"
LANGUAGE_KEY = "i18nextLng"           # i18next's language detector, as the UI configures it
TIMEZONE_KEY = "timezone"             # the UI's TimezoneProvider (a JSON string)
SPA_MARKER = b'<div id="root"'        # only the UI's own page (airflow/ui/dist/index.html)
INJECTED_MARKER = b"data-wcreport-ui-defaults"
MAX_REWRITTEN_BYTES = 256 * 1024      # the UI's page is under 1 KB; larger HTML passes untouched
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class UiDefaults:
    """What a browser without a choice of its own starts with (None: the browser decides)."""

    language: str | None
    timezone: str | None

    def storage(self) -> dict[str, str]:
        """The localStorage entries, in the form the UI reads them."""
        entries = {}
        if self.language:
            entries[LANGUAGE_KEY] = self.language
        if self.timezone:
            entries[TIMEZONE_KEY] = json.dumps(self.timezone)
        return entries


def checked(language: str | None, timezone: str | None) -> UiDefaults:
    """The defaults, each dropped (with a warning) when it is not a language tag / known zone."""
    language = (language or "").strip() or None
    timezone = (timezone or "").strip() or None
    if language and not _LANGUAGE.match(language):
        log.warning("[%s] default_language %r is not a language tag such as zh-CN: not set", SECTION, language)
        language = None
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("[%s] default_timezone %r is not a known time zone: not set", SECTION, timezone)
            timezone = None
    return UiDefaults(language, timezone)


def configured() -> UiDefaults:
    """The defaults from Airflow's config (environment ``AIRFLOW__WCREPORT_UI__…`` included)."""
    from airflow.configuration import conf

    return checked(conf.get(SECTION, "default_language", fallback=DEFAULT_LANGUAGE),
                   conf.get(SECTION, "default_timezone", fallback=DEFAULT_TIMEZONE))


def seed_script(defaults: UiDefaults) -> bytes:
    """The script that stores the defaults where the browser has none (inline, no external address)."""
    entries = json.dumps(defaults.storage(), ensure_ascii=True).replace("<", "\\u003c")
    return ("<script data-wcreport-ui-defaults>(function(){try{var s=window.localStorage,d=" + entries
            + ";for(var k in d){if(s.getItem(k)===null){s.setItem(k,d[k]);}}}catch(e){}})();</script>"
            ).encode("ascii")


def with_defaults(page: bytes, defaults: UiDefaults) -> bytes:
    """The UI's page with the seeding script at the end of <head>; any other page unchanged.

    The UI's own script is a module script, run only after the page is parsed: after this one."""
    if not defaults.storage() or SPA_MARKER not in page or INJECTED_MARKER in page:
        return page
    at = page.find(b"</head>")
    if at < 0:
        return page
    return page[:at] + seed_script(defaults) + page[at:]


class UiDefaultsMiddleware:
    """ASGI middleware: adds the seeding script to the UI's HTML page (GET, text/html, uncompressed)."""

    def __init__(self, app: App, defaults: UiDefaults | None = None) -> None:
        self.app = app
        self.defaults = defaults if defaults is not None else configured()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or not self.defaults.storage():
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _PageRewriter(send, self.defaults).send)


class _PageRewriter:
    """Holds back an HTML response's body to rewrite it; passes every other response through."""

    def __init__(self, send: Send, defaults: UiDefaults) -> None:
        self._send, self._defaults = send, defaults
        self._start: Message | None = None
        self._body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if _is_plain_html(message.get("headers") or []):
                self._start = message
                return
        elif message["type"] == "http.response.body" and self._start is not None:
            self._body += message.get("body", b"")
            if not message.get("more_body"):
                await self._flush()
            elif len(self._body) > MAX_REWRITTEN_BYTES:     # not the UI's page: stream it as it is
                start, self._start = self._start, None
                await self._send(start)
                await self._send({"type": "http.response.body", "body": bytes(self._body), "more_body": True})
            return
        await self._send(message)

    async def _flush(self) -> None:
        assert self._start is not None
        body = with_defaults(bytes(self._body), self._defaults)
        headers = [(k, v) for k, v in self._start.get("headers") or [] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})


def _is_plain_html(headers: list[tuple[bytes, bytes]]) -> bool:
    values = {k.lower(): v.lower() for k, v in headers}
    return values.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in values
