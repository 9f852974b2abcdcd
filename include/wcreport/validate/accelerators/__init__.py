"""Speed-ups of the validate stage, each behind the plain path and off with ``REPORT_ACCELERATORS=off``.

- ``context_cache``: GX projects kept open per process instead of opened per file;
- ``jinja_cache``: one compiled-template cache for GX's Data Docs views (a monkeypatch of GX);
- ``batch`` (with ``folding`` and ``split``): a quarter's files validated in one GX run per suite;
- ``prevalidated``: the batch's outcomes kept in an SQLite store for each unit's ingest.

Only ``validate.outcome`` switches them on; nothing of the plain path imports them. The
equivalence tests (``tests/validate/test_accelerators.py``, ``test_batch.py``,
``test_prevalidated.py``) hold the two paths to the same findings, pages and unit results.
"""
