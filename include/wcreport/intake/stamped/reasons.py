"""Why a stamped copy could not be read or is in doubt: catalogued codes, Chinese sentences.

The codes (``stamped.<what>``) and their messages live in core/findings_catalogue.py
with every other finding; each sentence says what is wrong and what the unit should do,
in the words of the notice (报表加盖公章后报送).
"""
from __future__ import annotations

from wcreport.core.findings_catalogue import CATALOGUE, message

PREFIX = "stamped."
# code without the prefix -> message template (for tests and documentation)
MESSAGES: dict[str, str] = {code.removeprefix(PREFIX): spec.message
                            for code, spec in CATALOGUE.items() if code.startswith(PREFIX)}


class ScanRefused(Exception):
    """A stamped copy that cannot be looked at. ``code`` is a catalogued ``stamped.*`` code, ``reason`` Chinese."""

    def __init__(self, code: str, **params: object):
        self.code = code
        self.reason = message(code, **params)
        super().__init__(f"{code}: {self.reason}")
