"""Whether a mail's From address is vouched for by the office's own mail server.

A From header is whatever the sender typed; only the office's receiving server can say
that the address's domain really sent the mail. It says so in ``Authentication-Results``
(RFC 8601), naming itself by its authserv-id. A sender's domain counts as authenticated
when a header of *our* authserv-id (the ``imap_default`` connection's extra
``authserv_id``) reports ``dmarc=pass`` for it (``header.from``), or ``dkim=pass`` for a
signing domain (``header.d``) aligned with it (the same domain or a parent of it).

Headers of any other authserv-id are ignored: anyone can write such a header into a
mail before sending it. The office's server must also remove incoming headers carrying
its own authserv-id (RFC 8601 §5; Postfix with OpenDMARC/OpenDKIM and Exchange Online do).
Without an ``authserv_id`` no sender is authenticated.
"""
from __future__ import annotations

import logging
from email.message import Message

import authres

log = logging.getLogger(__name__)


def _domain(value: str) -> str:
    return value.rsplit("@", 1)[-1].strip().strip(".").lower()


def _passed_domains(header: authres.AuthenticationResultsHeader) -> set[str]:
    found: set[str] = set()
    for result in header.results:
        if (result.result or "").lower() != "pass" or result.method not in ("dmarc", "dkim"):
            continue
        wanted = ("header", "from") if result.method == "dmarc" else ("header", "d")
        for prop in result.properties or []:
            if (prop.type, prop.name) == wanted and prop.value:
                found.add(("dmarc:" if result.method == "dmarc" else "dkim:") + _domain(prop.value))
    return found


def authenticated_domains(msg: Message, authserv_id: str | None) -> frozenset[str]:
    """``dmarc:<domain>`` / ``dkim:<domain>`` that our server reported as passed."""
    if not authserv_id:
        return frozenset()
    found: set[str] = set()
    for value in msg.get_all("authentication-results") or []:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(" ".join(str(value).split()))
        except Exception:  # authres raises its own syntax errors for a hostile header
            log.info("Unparseable Authentication-Results header ignored")
            continue
        if (header.authserv_id or "").lower() == authserv_id.lower():
            found |= _passed_domains(header)
    return frozenset(found)


def address_authenticated(address: str, domains: frozenset[str]) -> bool:
    """Is ``address``'s domain vouched for: DMARC passed for it, or aligned DKIM passed."""
    if not address or "@" not in address:
        return False
    domain = _domain(address)
    if f"dmarc:{domain}" in domains:
        return True
    return any(entry.startswith("dkim:") and (domain == entry[5:] or domain.endswith("." + entry[5:]))
               for entry in domains)
