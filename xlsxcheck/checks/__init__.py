"""The check engine: declarative rules (rules/checks_*.yaml with `assert`), pandera schemas
and one small module per rule that needs more than an expression (`impl`).

Rules of one workbook run once over the frames of a chunk of workbooks (see batch.py), in
the worker processes; rules across workbooks (scope: batch) run once over all summaries.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
from dataclasses import dataclass, field
from typing import Callable

from typing import TYPE_CHECKING

from ..catalog import load_catalog
from ..model import Finding
from ..values import normalize

if TYPE_CHECKING:  # pandas stays out of the parent process, which only merges results
    from ..batch import Batch

__all__ = ["Context", "BatchContext", "Registry", "run_checks", "runners", "fields_used", "frame_fields"]


@dataclass
class Registry:
    """The 单位名录: unit name -> (主管部门, 上级单位). Names match after normalize()
    (full-width forms and white space folded), wherever the registry is consulted."""

    units: dict[str, tuple[str, str]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        self._by_key = {normalize(u): u for u in self.units}

    def entry(self, unit: str) -> tuple[str, str] | None:
        name = self._by_key.get(normalize(unit))
        return self.units[name] if name is not None else None

    def compare(self, books) -> tuple[list[tuple[str, str]], list]:
        """Registry units that did not file (name, 主管部门), and filings of units not in it
        (one workbook per unit)."""
        filed: dict[str, object] = {}
        for book in books:
            if book.tables and not book.superseded_by:  # a unit's kept filing stands for it
                filed.setdefault(normalize(book.unit), book)
        missing = [(name, self.units[name][0]) for key, name in self._by_key.items() if key not in filed]
        extra = [book for key, book in filed.items() if key not in self._by_key]
        return missing, extra


@dataclass
class Context:
    """What the rules of one workbook (scope "book") see: the frames of a chunk of workbooks."""

    batch: "Batch"
    registry: Registry | None = None
    today: dt.date = field(default_factory=dt.date.today)
    profiles: tuple = ()  # every profile loaded: what holds whatever the template


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


@functools.cache
def fields_used() -> frozenset[str]:
    """Every table field some rule reads: the fields of the assert expressions (foreach
    expanded, read as arrays: Batch.columns) and those of frame_fields()."""
    from .declarative import expand, fill
    from .expr import field_names, parse_expression

    used: set[str] = set(frame_fields())
    for rule in load_catalog().values():
        for binding in expand(rule) if rule.assertion else ():
            for expression in filter(None, (rule.assertion, rule.hint.get("assert"))):
                used.update(field_names(parse_expression(fill(expression, binding))))
            for plain in (rule.at, rule.when):
                used.update(fill(plain, binding).split())
    return frozenset(used)


@functools.cache
def frame_fields() -> frozenset[str]:
    """The table fields rules read from the batch's frames (Batch.tables): R014's required
    fields and the FIELDS each rule module declares."""
    used: set[str] = set()
    for rule in load_catalog().values():
        for fields in rule.required.values():
            used.update(fields)
    for _, check in runners("book"):
        used.update(getattr(importlib.import_module(check.__module__), "FIELDS", ()))
    return frozenset(used)


def run_checks(ctx, scope: str = "book") -> list[Finding]:
    return [f for _, check in runners(scope) for f in check(ctx)]


