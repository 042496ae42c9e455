"""Per-file summaries shared by every reporter: unit, counts, total score, grade."""

from __future__ import annotations

from typing import Any

from ..checks.grade_matches_score import grade_of
from ..pipeline import RunResult

__all__ = ["file_summaries"]


def file_summaries(result: RunResult) -> list[dict[str, Any]]:
    out = []
    for book in result.books:
        c = result.counts(book.file)
        score = book.total_score
        out.append({
            "file": book.file,
            "unit": book.unit,
            "year": book.year,
            "profile": book.profile,
            "readable": book.readable,
            "tables": book.tables,
            "projects": book.projects,
            "errors": c["error"],
            "warnings": c["warning"],
            "waived": c["waived"],
            "total_score": score,
            "grade": grade_of(score) if score is not None else None,
            "superseded_by": book.superseded_by or None,  # the later filing of the same unit and year that counts instead
        })
    return out
