"""The quarter's flow: one module per step of the ``quarterly_report`` DAG, read top to bottom.

``run`` (which quarter, which folders) → ``gather`` (list, archive, identify) →
``validate_quarter`` (the quarter's files in one Great Expectations run) → ``ingest_unit``
(one unit: its newest file that passed, its stamped copy, its feedback) → ``merge`` (manifest,
consolidated model, workbook) → ``mail`` (the leaders' mail, a correction's review).
``reminders`` is the reminder DAG's step; ``summaries`` types what the steps hand on as XCom.

This is the only package that combines the stages (``intake``, ``validate``, ``report``,
``deliver``); ``orchestration`` wraps it for Airflow and owns connections and Variables.
No step here reads a cache itself: speed-ups sit behind the stage calls
(``REPORT_ACCELERATORS``).
"""
