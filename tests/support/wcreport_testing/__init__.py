"""Development-only support for tests, benchmarks and `make demo`/`make ui`: a loopback SMTP sink,
a private Dovecot, Chinese mail samples, stamped-copy samples and dashboard fixtures.

Installed into the development venv only (`make venv`); never part of the product or its image.
"""
