"""All workbooks of a run as a few dataframes, one per table kind, so that every check runs
once over the whole batch instead of once per workbook.

A field ``f`` of a table becomes the columns ``f`` (the parsed value), ``f@tol`` and
``f@status`` (ok | blank | invalid; missing where the table lacks it), kept only for the
fields some rule reads: as arrays (``Batch.columns``, what the declarative rules read) and,
for the fields rule modules declare (FIELDS) or R014 requires, in the frames
(``Batch.tables``). Where a field was read (``Batch.cell``) and what it showed
(``Batch.raw``) are looked up only for a finding. Every row carries ``_file``, ``_sheet``,
``_table``, ``_unit`` and ``_book`` (its workbook's position). The indicator and scored
frames hold the columns some rule reads, references (``f@cell``) included."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from .model import Indicator, Table, Value, Workbook, shown, table_name
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
    columns: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # kind -> tables[kind]'s columns as arrays
    sources: dict[str, list[tuple[Workbook, Table]]] = field(default_factory=dict)  # kind -> the table of each row of tables[kind]

    def _values(self, kind: str, i: int, name: str) -> Value | list[Value] | None:
        """The cell (or, for a sum, the cells) behind field ``name`` of row ``i`` of a table
        frame; None for a constant or a part the table lacks."""
        book, table = self.sources[kind][i]
        sums = _sums(book, table)  # as in the frame, a sum stands over a field of its name
        return sums[name] if name in sums else table.fields.get(name)

    def cell_at(self, kind: str, i: int, name: str) -> str:
        """Where the field was read, "Sheet!A1" (a sum: its cells joined by ", "); "" if nowhere."""
        v = self._values(kind, i, name)
        if isinstance(v, list):
            return ", ".join(f"{x.sheet}!{x.cell}" for x in v)
        return f"{v.sheet}!{v.cell}" if v is not None and v.cell else ""

    def raw_at(self, kind: str, i: int, name: str) -> str:
        """The field's cell as the reports show it ("" for a sum or a constant)."""
        v = self._values(kind, i, name)
        return _raw(v) if isinstance(v, Value) else ""

    def cell(self, row: pd.Series, name: str) -> str:
        """cell_at for a row of a table frame (``row.name`` is its position there)."""
        return self.cell_at(row["_kind"], row.name, name)

    def raw(self, row: pd.Series, name: str) -> str:
        return self.raw_at(row["_kind"], row.name, name)


_NAN = float("nan")


def _raw(v: Value) -> str:
    if v.kind == "rate" and v.status == "ok" and type(v.raw) in (int, float):
        return f"{v.value * 100:.2f}".rstrip("0").rstrip(".") + "%"  # as Excel shows it
    return shown(v)


def _sums(book: Workbook, table: Table) -> dict[str, list[Value]]:
    """The fields that add up several cells: the items of 项目支出, the indicators' weights
    and scores, the project tables' execution of a unit."""
    out = {}
    if table.kind == "base":
        for col in ("prev_final", "budget", "final"):
            items = [it.columns[col] for it in table.base_items if it.parent == "project" and col in it.columns]
            if items:
                out[f"project_items.{col}"] = items
    if table.kind in ("overall", "project") and table.indicators:
        out["indicators.weight_sum"] = [ind.weight for ind in table.indicators]
        out["indicators.score_sum"] = [ind.score for ind in table.indicators]
    if table.kind in ("base", "overall"):
        executed = [t.fields["funds_total.executed"] for t in book.of_kind("project") if "funds_total.executed" in t.fields]
        if executed:
            out["projects.executed"] = executed
    return out


_META = ("_book", "_file", "_sheet", "_table", "_unit", "_year", "_kind", "_profile", "_first_row", "_anchor", "_name_zh", "_name_en")
_CONSTANTS = ("profile.total_weight", "profile.funds_weight")


class _TableColumns:
    """The frame of one table kind, filled column by column: ``rows`` rows; a field's
    three columns are made when the field is first met, NaN where a table lacks it."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.meta: list[list] = [[] for _ in _META]
        self.constants: list[list] = [[] for _ in _CONSTANTS]
        self.fields: dict[str, tuple[list, list, list]] = {}

    def field(self, name: str) -> tuple[list, list, list]:
        cols = self.fields.get(name)
        if cols is None:
            n = self.rows
            cols = self.fields[name] = ([_NAN] * n, [_NAN] * n, [_NAN] * n)
        return cols

    def add(self, i: int, pos: int, book: Workbook, table: Table, profile: Profile, keep: frozenset[str]) -> None:
        """Row ``i``: the table's fields that some rule reads, the profile's constants and the sums."""
        fields = table.fields
        title = fields.get("title")
        meta = (pos, book.file, table.sheet, table.table_id, book.unit, book.year, table.kind, profile.id, table.first_row,
                f"{table.sheet}!{title.cell}" if title is not None else f"{table.sheet}!A{table.first_row + 1}",
                table_name(table, "zh"), table_name(table, "en"))
        for col, x in zip(self.meta, meta):
            col.append(x)
        for col, x in zip(self.constants, (profile.total_weight, profile.funds_weight)):
            col.append(x)
        columns = self.fields
        for name, v in fields.items():
            if name in keep:
                value, tol, status = columns.get(name) or self.field(name)
                if v.status == "ok":
                    value[i] = v.value
                elif v.kind not in _NUMERIC_KINDS:
                    value[i] = None
                tol[i], status[i] = v.tol, v.status
        for name, values in _sums(book, table).items():
            value, tol, status = self.field(name)
            total, spread, filed, invalid = 0, 0, False, False  # added in cell order, as sum() would
            for v in values:
                if v.status == "ok":
                    total, spread, filed = total + v.value, spread + v.tol, True
                elif v.status == "invalid":
                    invalid = True
            if filed:
                value[i] = total
            tol[i] = spread
            status[i] = "invalid" if invalid else ("ok" if filed else "blank")

    def arrays(self) -> dict[str, np.ndarray]:
        n = self.rows
        lists: dict[str, Any] = dict(zip(_META, self.meta))
        for name, col in zip(_CONSTANTS, self.constants):
            lists[name], lists[f"{name}@tol"], lists[f"{name}@status"] = col, [0.0] * n, ["ok"] * n
        for name, (value, tol, status) in self.fields.items():
            lists[name], lists[f"{name}@tol"], lists[f"{name}@status"] = value, tol, status
        return _arrays(lists, n)


_INDICATOR_COLUMNS = [
    "_book", "_file", "_sheet", "_table", "_unit", "_kind", "_row", "level1_key", "level1_weight",
    "level1", "level1@cell", "level2", "level3",
    "target", "target.cmp", "target.num", "target.unit", "target.status",
    "actual", "actual@cell", "actual.cmp", "actual.num", "actual.unit", "actual.status",
    "weight", "weight@status", "weight@cell", "score", "score@status", "score@cell", "score@raw", "reason@status", "reason@cell",
]


def _value(v: Value) -> Any:
    return v.value if v.status == "ok" else (_NAN if v.kind in _NUMERIC_KINDS else None)


def _ref(v: Value) -> str:
    return f"{v.sheet}!{v.cell}" if v.cell else ""


def _indicator_lists(books: list[Workbook]) -> dict[str, list]:
    """The indicator frame's columns, in the order of _INDICATOR_COLUMNS: one list per
    column over every indicator of the batch (the largest frame), with what some rule reads."""
    inds: list[Indicator] = []
    heads: list[tuple] = []
    for pos, book in enumerate(books):
        for table in book.tables:
            if table.indicators:
                inds += table.indicators
                heads += [(pos, book.file, table.sheet, table.table_id, book.unit, table.kind)] * len(table.indicators)
    targets, actuals = [i.target_parsed for i in inds], [i.actual_parsed for i in inds]
    weights, scores = [i.weight for i in inds], [i.score for i in inds]
    columns = [
        *(list(c) for c in (zip(*heads) if heads else [()] * 6)),
        [i.row for i in inds], [i.level1_key for i in inds], [_NAN if i.level1_weight is None else i.level1_weight for i in inds],
        [shown(i.level1) for i in inds], [f"{i.level1.sheet}!{i.level1.cell}" for i in inds],
        [shown(i.level2) for i in inds], [shown(i.level3) for i in inds],
        [t.text for t in targets], [t.comparator for t in targets], [_NAN if t.number is None else t.number for t in targets],
        [t.unit for t in targets], [t.status for t in targets],
        [a.text for a in actuals], [f"{i.actual.sheet}!{i.actual.cell}" for i in inds], [a.comparator for a in actuals],
        [_NAN if a.number is None else a.number for a in actuals], [a.unit for a in actuals], [a.status for a in actuals],
        [_value(w) for w in weights], [w.status for w in weights], [_ref(w) for w in weights],
        [_value(v) for v in scores], [v.status for v in scores], [_ref(v) for v in scores], [_raw(v) for v in scores],
        [i.reason.status for i in inds], [_ref(i.reason) for i in inds],
    ]
    return dict(zip(_INDICATOR_COLUMNS, columns))


def _funds_scored_rows(pos: int, book: Workbook, table: Table) -> list[tuple]:
    """(分值, 得分) of the funds rows, which join the indicators' in the scored frame: one
    tuple per row, in the order of _SCORED_COLUMNS."""
    rows = []
    for key in _FUNDS_ROWS:
        weight, score = table.fields.get(f"{key}.weight"), table.fields.get(f"{key}.score")
        if weight is None or score is None or not (weight.present or score.present):
            continue  # a header may lack either column; an empty row has nothing to check
        rows.append((pos, book.file, table.sheet, table.table_id, book.unit, table.kind, shown(table.fields[f"{key}.label"]),
                     _value(weight), weight.status, _value(score), score.status, _ref(score), _raw(score)))
    return rows


_SCORED_COLUMNS = ["_book", "_file", "_sheet", "_table", "_unit", "_kind", "label",
                   "weight", "weight@status", "score", "score@status", "score@cell", "score@raw"]


_NUMERIC_INFERRED = frozenset({"floating", "integer", "mixed-integer-float", "decimal", "empty"})


def _frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    """A frame of tuples, one per row in the order of ``columns``."""
    lists = dict(zip(columns, zip(*rows))) if rows else dict.fromkeys(columns, ())
    return _frame_of(_arrays(lists, len(rows)), len(rows))


def _arrays(lists: dict[str, Any], n: int) -> dict[str, np.ndarray]:
    """Columns as arrays: whole numbers as int64 (when complete), other numbers as float64,
    the rest (text, dates, NaN for a part a row lacks) as objects."""
    out = {}
    for name, values in lists.items():
        if n and name.endswith("@tol"):
            out[name] = np.array(values, np.float64)  # numbers and NaN
            continue
        col = np.empty(n, object)
        col[:] = values
        if n and name.endswith("@status"):
            out[name] = col  # text, and NaN where a row lacks the field (a column is made for a field some row has)
            continue
        kind = infer_dtype(col, skipna=True)
        if kind == "integer" and not pd.isna(col).any():
            col = col.astype(np.int64)
        elif kind in _NUMERIC_INFERRED:
            col = col.astype(np.float64)
        out[name] = col
    return out


def _frame_of(arrays: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    """A frame of three blocks: text (object), whole numbers (int64) and other numbers
    (float64). pandas 3 would give each text column an array of its own, and every filter
    over a wide frame would then cost one take per column."""
    groups: dict[np.dtype, list[str]] = {}
    for name, col in arrays.items():
        groups.setdefault(col.dtype, []).append(name)
    index = pd.RangeIndex(n)
    parts = []
    for dtype, names in groups.items():
        block = np.empty((n, len(names)), dtype)
        for j, name in enumerate(names):
            block[:, j] = arrays[name]
        parts.append(pd.DataFrame(block, columns=names, index=index, dtype=dtype))
    return pd.concat(parts, axis=1)[list(arrays)] if len(parts) > 1 else parts[0]


def _scored_frame(indicators: pd.DataFrame, funds: list[tuple]) -> pd.DataFrame:
    """Every (分值, 得分) pair for the score-within-weight schema: the indicators' own
    columns (not built a second time) and the funds rows."""
    parts = [_frame(funds, _SCORED_COLUMNS)]
    if not indicators.empty:
        filed = (indicators["weight@status"] == "ok") | (indicators["score@status"] == "ok")
        ind = indicators[filed].assign(label=indicators["level3"].where(indicators["level3"] != "", indicators["level2"]))
        parts.insert(0, ind[_SCORED_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def build_batch(books: list[Workbook], profiles: list[Profile]) -> Batch:
    from .checks import fields_used, frame_fields  # the checks package imports this module

    keep, framed = fields_used(), frame_fields()
    batch = Batch(books=books, profiles=profiles)
    count = {"base": 0, "overall": 0, "project": 0}
    for book in books:
        for table in book.tables:
            count[table.kind] += 1
    by_kind = {kind: _TableColumns(n) for kind, n in count.items()}
    batch.sources = {kind: [] for kind in count}
    funds: list[tuple] = []
    for pos, (book, profile) in enumerate(zip(books, profiles)):
        for table in book.tables:
            rows = batch.sources[table.kind]
            by_kind[table.kind].add(len(rows), pos, book, table, profile, keep)
            rows.append((book, table))
            funds.extend(_funds_scored_rows(pos, book, table))
    batch.columns = {kind: cols.arrays() for kind, cols in by_kind.items()}
    batch.tables = {kind: _frame_of({name: col for name, col in arrays.items() if name.partition("@")[0] in framed or name[0] == "_"}, count[kind])
                    if count[kind] else pd.DataFrame([], dtype=object)  # a kind no workbook holds
                    for kind, arrays in batch.columns.items()}
    lists = _indicator_lists(books)
    n = len(lists["_book"])
    batch.indicators = _frame_of(_arrays(lists, n), n)
    batch.scored = _scored_frame(batch.indicators, funds)
    return batch
