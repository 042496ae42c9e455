"""Reporters: the terminal list, JSON and CSV, and annotated copies of the workbooks."""
