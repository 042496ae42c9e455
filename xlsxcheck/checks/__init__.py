"""The check engine: declarative rules (rules/checks_*.yaml with `assert`), pandera schemas
and one small module per rule that needs more than an expression (`impl`).

Everything runs once over the batch frames of all workbooks (see batch.py).
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field

from ..batch import Batch
from ..catalog import load_catalog
from ..model import Finding

__all__ = ["Context", "Registry", "run_checks"]


@dataclass
class Registry:
    """The 单位名录: unit name -> (主管部门, 上级单位)."""

    units: dict[str, tuple[str, str]] = field(default_factory=dict)
    source: str = ""


@dataclass
class Context:
    batch: Batch
    registry: Registry | None = None
    today: dt.date = field(default_factory=dt.date.today)


def run_checks(ctx: Context) -> list[Finding]:
    from .declarative import run_declarative

    findings: list[Finding] = list(run_declarative(ctx))
    for impl in sorted({r.impl for r in load_catalog().values() if r.impl}):
        module = importlib.import_module(f"{__name__}.{impl}")
        findings.extend(module.check(ctx))
    return findings


