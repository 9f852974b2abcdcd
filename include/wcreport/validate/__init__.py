"""Validate: Great Expectations suites, results into Chinese findings, feedback pages.

The stage's calls are ``validate_file`` and ``validate_quarter_batch`` (``validate.outcome``).
"""
