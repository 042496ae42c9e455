"""All workbooks of a run as a few dataframes, one per table kind, so that every check runs
once over the whole batch instead of once per workbook.

A field ``f`` of a table becomes the columns ``f`` (the parsed value), ``f@tol``,
``f@status`` (ok | blank | invalid | absent), ``f@cell`` and ``f@raw``. Every row carries
``_file``, ``_sheet``, ``_table``, ``_unit`` and ``_book`` (its workbook's position).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pandas.api.types import infer_dtype

from .model import Table, Value, Workbook, shown, table_name
from .profiles import Profile

__all__ = ["Batch", "build_batch"]

_NUMERIC_KINDS = ("amount", "amount_yuan", "rate", "score", "count")
_FUNDS_ROWS = ("funds_total", "fiscal", "grants", "carryover", "special", "unit_funds", "other")


@dataclass
class Batch:
    books: list[Workbook]
    profiles: list[Profile]  # the profile of each workbook, by position
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # kind -> one row per table
    indicators: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per indicator
    scored: pd.DataFrame = field(default_factory=pd.DataFrame)  # every (分值, 得分) pair


_KEYS: dict[str, tuple[str, str, str, str, str]] = {}
_NAN = float("nan")


def _parts(v: Value) -> tuple[Any, float, str, str, str]:
    """A value as its five columns: parsed value, @tol, @status, @cell and @raw."""
    status, raw = v.status, v.raw
    present = status == "ok"
    if v.kind == "rate" and present and type(raw) in (int, float):
        shown_raw = f"{v.value * 100:.2f}".rstrip("0").rstrip(".") + "%"  # as Excel shows it
    else:
        shown_raw = shown(v)
    return (v.value if present else (_NAN if v.kind in _NUMERIC_KINDS else None), v.tol, status,
            f"{v.sheet}!{v.cell}" if v.cell else "", shown_raw)


def _columns(name: str) -> tuple[str, str, str, str, str]:
    keys = _KEYS.get(name)
    if keys is None:
        keys = _KEYS[name] = (name, f"{name}@tol", f"{name}@status", f"{name}@cell", f"{name}@raw")
    return keys


def _put(row: dict[str, Any], name: str, v: Value) -> None:
    row.update(zip(_columns(name), _parts(v)))


def _derived(row: dict[str, Any], name: str, values: list[Value]) -> None:
    """A sum over several cells (the items of 项目支出, the project tables of a unit)."""
    ok = [v for v in values if v.present]
    row[name] = sum(v.value for v in ok) if ok else float("nan")
    row[f"{name}@tol"] = sum(v.tol for v in ok)
    invalid = any(v.status == "invalid" for v in values)
    row[f"{name}@status"] = "invalid" if invalid else ("ok" if ok else "blank")
    row[f"{name}@cell"] = ", ".join(f"{v.sheet}!{v.cell}" for v in values)
    row[f"{name}@raw"] = ""


def _table_row(pos: int, book: Workbook, table: Table, profile: Profile) -> dict[str, Any]:
    row: dict[str, Any] = {
        "_book": pos, "_file": book.file, "_sheet": table.sheet, "_table": table.table_id,
        "_unit": book.unit, "_year": book.year, "_kind": table.kind, "_profile": profile.id,
        "_first_row": table.first_row,
        "_anchor": f"{table.sheet}!{table.fields['title'].cell}" if "title" in table.fields else f"{table.sheet}!A{table.first_row + 1}", "_name_zh": table_name(table, "zh"), "_name_en": table_name(table, "en"),
    }
    from .checks import fields_used  # the checks package imports this module

    keep = fields_used()
    for name, v in table.fields.items():
        if name in keep:
            _put(row, name, v)
    const = {"profile.total_weight": profile.total_weight, "profile.funds_weight": profile.funds_weight}
    for name, x in const.items():
        row[name], row[f"{name}@tol"], row[f"{name}@status"], row[f"{name}@cell"], row[f"{name}@raw"] = x, 0.0, "ok", "", ""
    if table.kind == "base":
        for col in ("prev_final", "budget", "final"):
            items = [i.columns[col] for i in table.base_items if i.parent == "project" and col in i.columns]
            if items:
                _derived(row, f"project_items.{col}", items)
    if table.kind in ("overall", "project") and table.indicators:
        _derived(row, "indicators.weight_sum", [i.weight for i in table.indicators])
        _derived(row, "indicators.score_sum", [i.score for i in table.indicators])
    if table.kind in ("base", "overall"):
        executed = [t.fields["funds_total.executed"] for t in book.of_kind("project") if "funds_total.executed" in t.fields]
        if executed:
            _derived(row, "projects.executed", executed)
    return row


_INDICATOR_COLUMNS = [
    "_book", "_file", "_sheet", "_table", "_unit", "_kind", "_row", "level1_key", "level1_weight",
    "level1", "level1@cell", "level2", "level3",
    *(f"{name}{part}" for name in ("target", "actual") for part in ("", "@cell", ".cmp", ".num", ".unit", ".status")),
    *(column for name in ("weight", "score", "reason") for column in _columns(name)),
]


def _indicator_rows(pos: int, book: Workbook, table: Table) -> list[tuple]:
    """One tuple per indicator, in the order of _INDICATOR_COLUMNS (the largest frame of a
    batch: tuples become an array much faster than dicts)."""
    head = (pos, book.file, table.sheet, table.table_id, book.unit, table.kind)
    rows = []
    for ind in table.indicators:
        t, a = ind.target_parsed, ind.actual_parsed
        rows.append((
            *head, ind.row, ind.level1_key, _NAN if ind.level1_weight is None else ind.level1_weight,
            shown(ind.level1), f"{ind.level1.sheet}!{ind.level1.cell}", shown(ind.level2), shown(ind.level3),
            t.text, f"{ind.target.sheet}!{ind.target.cell}", t.comparator, _NAN if t.number is None else t.number, t.unit, t.status,
            a.text, f"{ind.actual.sheet}!{ind.actual.cell}", a.comparator, _NAN if a.number is None else a.number, a.unit, a.status,
            *_parts(ind.weight), *_parts(ind.score), *_parts(ind.reason),
        ))
    return rows


def _funds_scored_rows(pos: int, book: Workbook, table: Table) -> list[dict[str, Any]]:
    """(分值, 得分) of the funds rows, which join the indicators' in the scored frame."""
    rows = []
    for key in _FUNDS_ROWS:
        weight, score = table.fields.get(f"{key}.weight"), table.fields.get(f"{key}.score")
        if weight is None or score is None or not (weight.present or score.present):
            continue  # a header may lack either column; an empty row has nothing to check
        row = {"_book": pos, "_file": book.file, "_sheet": table.sheet, "_table": table.table_id, "_unit": book.unit,
               "_kind": table.kind, "label": shown(table.fields[f"{key}.label"])}
        _put(row, "weight", weight)
        _put(row, "score", score)
        rows.append(row)
    return rows


_SCORED_COLUMNS = ["_book", "_file", "_sheet", "_table", "_unit", "_kind", "label"] + [
    f"{name}{suffix}" for name in ("weight", "score") for suffix in ("", "@tol", "@status", "@cell", "@raw")]


_NUMERIC_INFERRED = frozenset({"floating", "integer", "mixed-integer-float", "decimal", "empty"})


def _frame(rows: list[dict[str, Any]] | list[tuple], columns: list[str] | None = None) -> pd.DataFrame:
    """A frame of three blocks: text (object), whole numbers (int64, when complete) and
    other numbers (float64). pandas 3 would give each text column an array of its own, and
    every filter over a wide frame would then cost one take per column."""
    wide = pd.DataFrame(rows, columns=columns, dtype=object)
    cells = wide.to_numpy()
    groups: dict[str, list[int]] = {"object": [], "int64": [], "float64": []}
    for i in range(cells.shape[1]):
        col = cells[:, i]
        kind = infer_dtype(col, skipna=True)
        if kind == "integer" and not pd.isna(col).any():
            groups["int64"].append(i)
        elif kind in _NUMERIC_INFERRED:
            groups["float64"].append(i)
        else:
            groups["object"].append(i)
    parts = [pd.DataFrame(cells[:, idx].astype(dtype), columns=wide.columns[idx], index=wide.index, dtype=dtype)
             for dtype, idx in groups.items() if idx]
    return pd.concat(parts, axis=1)[wide.columns] if len(parts) > 1 else (parts[0] if parts else wide)


def _scored_frame(indicators: pd.DataFrame, funds: list[dict[str, Any]]) -> pd.DataFrame:
    """Every (分值, 得分) pair for the score-within-weight schema: the indicators' own
    columns (not built a second time) and the funds rows."""
    parts = [_frame(funds, _SCORED_COLUMNS)]
    if not indicators.empty:
        filed = (indicators["weight@status"] == "ok") | (indicators["score@status"] == "ok")
        ind = indicators[filed].assign(label=indicators["level3"].where(indicators["level3"] != "", indicators["level2"]))
        parts.insert(0, ind[_SCORED_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def build_batch(books: list[Workbook], profiles: list[Profile]) -> Batch:
    batch = Batch(books=books, profiles=profiles)
    by_kind: dict[str, list[dict[str, Any]]] = {"base": [], "overall": [], "project": []}
    indicators: list[tuple] = []
    funds: list[dict[str, Any]] = []
    for pos, (book, profile) in enumerate(zip(books, profiles)):
        for table in book.tables:
            by_kind[table.kind].append(_table_row(pos, book, table, profile))
            indicators.extend(_indicator_rows(pos, book, table))
            funds.extend(_funds_scored_rows(pos, book, table))
    batch.tables = {kind: _frame(rows) for kind, rows in by_kind.items()}
    batch.indicators = _frame(indicators, _INDICATOR_COLUMNS)
    batch.scored = _scored_frame(batch.indicators, funds)
    return batch
