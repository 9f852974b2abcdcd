"""Reusable loopback SMTP server fixture (aiosmtpd), storing every received message.

Use from any test module::

    from deliver.smtp_server import smtp_server  # noqa: F401  (pytest fixture)

    def test_x(smtp_server):
        ...  # smtp_server.port, smtp_server.messages (EmailMessage, policy.default),
             # smtp_server.envelopes (mail_from, rcpt_tos, raw), .stop(), .start()

The server is ``wcreport_testing.smtp_sink.SmtpSink`` (the same sink ``make demo`` runs), so it
also writes each message as an .eml file under the test's tmp_path/maildir.
``stop()`` then ``start()`` restarts it on the same port, keeping received messages.
"""
from __future__ import annotations

import pytest
from wcreport_testing.smtp_sink import SmtpSink

from wcreport.deliver.smtp import SmtpSettings

SENDER = "report-bot@zb.example.cn"


@pytest.fixture
def smtp_server(tmp_path):
    sink = SmtpSink(maildir=tmp_path / "maildir").start()
    try:
        yield sink
    finally:
        sink.stop()


def settings_for(sink: SmtpSink, **overrides) -> SmtpSettings:
    """Plain loopback settings: no SSL, no STARTTLS, no login."""
    values = dict(host=sink.host, port=sink.port, sender=SENDER, timeout=5)
    values.update(overrides)
    return SmtpSettings(**values)
