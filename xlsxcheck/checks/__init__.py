"""The check engine: declarative rules (rules/checks_*.yaml with `assert`), pandera schemas
and one small module per rule that needs more than an expression (`impl`).

Rules of one workbook run once over the frames of a chunk of workbooks (see batch.py), in
the worker processes; rules across workbooks (scope: batch) run once over all summaries.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Callable

from ..batch import Batch
from ..catalog import load_catalog
from ..model import Finding

__all__ = ["Context", "BatchContext", "Registry", "run_checks", "runners"]


@dataclass
class Registry:
    """The 单位名录: unit name -> (主管部门, 上级单位)."""

    units: dict[str, tuple[str, str]] = field(default_factory=dict)
    source: str = ""


@dataclass
class Context:
    """What the rules of one workbook (scope "book") see: the frames of a chunk of workbooks."""

    batch: Batch
    registry: Registry | None = None
    today: dt.date = field(default_factory=dt.date.today)


@dataclass
class BatchContext:
    """What the rules across workbooks (scope "batch": duplicates, registry) see."""

    books: list  # BookSummary of every file
    registry: Registry | None = None


def runners(scope: str = "book") -> list[tuple[str, Callable]]:
    """(name, check) of every rule module of a scope; "declarative" runs all rules with an assert."""
    out: list[tuple[str, Callable]] = []
    if scope == "book":
        from .declarative import run_declarative

        out.append(("declarative", run_declarative))
    for impl in sorted({r.impl for r in load_catalog().values() if r.impl and r.scope == scope}):
        out.append((impl, importlib.import_module(f"{__name__}.{impl}").check))
    return out


def run_checks(ctx, scope: str = "book") -> list[Finding]:
    return [f for _, check in runners(scope) for f in check(ctx)]


