"""xlsxcheck: check and consolidate budget performance self-evaluation workbooks.

The public API is small; heavy modules load only when these are first used.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "run", "Options", "RunResult", "Finding", "Workbook", "extract_workbook"]


def __getattr__(name: str):
    if name in ("run", "Options", "RunResult"):
        from . import pipeline

        return getattr(pipeline, name)
    if name in ("Finding", "Workbook"):
        from . import model

        return getattr(model, name)
    if name == "extract_workbook":
        from .extract import extract_workbook

        return extract_workbook
    raise AttributeError(f"module 'xlsxcheck' has no attribute {name!r}")
