"""Helpers shared by the rule modules: number display and cell references."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt", "split_ref", "short_refs"]


def fmt(x: Any, rate: bool = False, digits: int = 2) -> str:
    """A number as a reviewer reads it: 1962.44, 100, 89.20%."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    x = float(x)
    if rate:
        return f"{x * 100:.{digits}f}%"
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def split_ref(ref: str) -> tuple[str | None, str | None]:
    """"Sheet1!D3" -> ("Sheet1", "D3")."""
    if not ref:
        return None, None
    sheet, _, cell = ref.rpartition("!")
    return (sheet or None), cell


def reason_ref(row) -> tuple[str | None, str | None]:
    """Where a finding about a missing 偏差原因 is pinned: the reason cell, or the score
    cell where the template has no reason column."""
    sheet, cell = split_ref(row["reason@cell"])
    return (sheet, cell) if cell else split_ref(row["score@cell"])


def short_refs(refs: list[str], own_sheet: str | None) -> str:
    """Cell references for a message: without the sheet where it is the finding's own."""
    out = []
    for group in refs:
        for ref in filter(None, (r.strip() for r in group.split(","))):
            sheet, cell = split_ref(ref)
            out.append(cell if sheet == own_sheet else ref)
    return "、".join(dict.fromkeys(out)) or "—"
