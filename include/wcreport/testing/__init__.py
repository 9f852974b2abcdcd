"""Loopback SMTP sink, sample submissions and dashboard fixtures for the demo and the tests."""
