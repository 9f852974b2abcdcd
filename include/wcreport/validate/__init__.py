"""Validate: Great Expectations suites, results into Chinese findings, feedback pages.

The stage's calls are in ``validate.outcome``: ``validate_file``, ``validate_quarter_batch``
and ``build_data_docs_index``. Read ``suites`` first (the plain path); the speed-ups are in
``accelerators`` and can all be switched off (``REPORT_ACCELERATORS=off``).
"""
