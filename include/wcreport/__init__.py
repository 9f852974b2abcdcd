"""Quarterly progress-report pipeline for the women-and-children programme.

All domain logic lives here and runs without a scheduler; the DAGs in ``dags/``
only call these functions.
"""
