"""Intake: find the quarter's files, archive them, read workbooks, locate the form, identify the unit."""
