"""The leaders' quarter-end mail, by part; this module only names where each part lives.

* ``deliver.report_mail``  plan the mail and send it exactly once (``plan_mail``, ``send_report_once``)
* ``deliver.review``       the clerk's review of a correction (``open_review``, ``answer_review``,
                           ``review_request``)
* ``deliver.compose``      subject, attachment name, bodies and Message-ID
* ``deliver.changes``      the "what changed" lines of a correction
* ``deliver.mail_ledger``  the ledger of sent mail and reviews (``MailLedger``, ``SentMail``, ``Review``)
* ``templates/``           every word of it: ``report_mail.html.j2``, ``report_mail.txt.j2``,
                           ``report_mail_parts.txt.j2`` (subject, attachment name, change lines),
                           ``correction_review.md.j2``

The names below are re-exported for callers that import them from here.
"""
from __future__ import annotations

from wcreport.deliver.changes import describe_changes
from wcreport.deliver.compose import attachment_name_for, compose_html, compose_text, message_id_for, subject_for
from wcreport.deliver.mail_ledger import MailLedger, Review, SentMail, load_ledger
from wcreport.deliver.report_mail import MailPlan, plan_mail, send_report_once
from wcreport.deliver.review import answer_review, open_review, review_request
from wcreport.deliver.smtp import MailError, SmtpSettings

__all__ = [
    "MailError", "MailLedger", "MailPlan", "Review", "SentMail", "SmtpSettings",
    "answer_review", "attachment_name_for", "compose_html", "compose_text", "describe_changes",
    "load_ledger", "message_id_for", "open_review", "plan_mail", "review_request", "send_report_once",
    "subject_for",
]
