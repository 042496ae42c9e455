"""Per-file summaries shared by every reporter: unit, counts, total score, grade."""

from __future__ import annotations

from typing import Any

from ..checks.grade_matches_score import grade_of
from ..pipeline import RunResult

__all__ = ["file_summaries"]


def _total_score(book) -> float | None:
    for t in book.of_kind("overall"):
        v = t.fields.get("score_total.score")
        if v is not None and v.present:
            return v.value
    return None


def file_summaries(result: RunResult) -> list[dict[str, Any]]:
    out = []
    for book in result.books:
        c = result.counts(book.file)
        score = _total_score(book)
        out.append({
            "file": book.file,
            "unit": book.unit,
            "year": book.year,
            "profile": book.profile,
            "readable": book.readable,
            "tables": len(book.tables),
            "projects": len(book.of_kind("project")),
            "errors": c["error"],
            "warnings": c["warning"],
            "waived": c["waived"],
            "total_score": score,
            "grade": grade_of(score) if score is not None else None,
        })
    return out
