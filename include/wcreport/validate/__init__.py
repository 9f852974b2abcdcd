"""Validate: Great Expectations suites, results into Chinese findings, the per-unit decision, feedback."""
