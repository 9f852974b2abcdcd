"""Deliver: the leaders' mail and its ledger, reminders, blank forms."""
