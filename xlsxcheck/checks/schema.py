"""S201 and R014 as pandera schemas, validated lazily over the frames of all workbooks at
once (pandera costs milliseconds per validation, so never per workbook); every failure
case is mapped back to its file, sheet and cell."""

from __future__ import annotations

import functools
from typing import Iterator

import numpy as np
import pandas as pd

from ..catalog import Bi, load_catalog, make_finding
from ..model import KIND_NAMES, Finding
from .common import fmt, split_ref

__all__ = ["check", "FIELD_LABELS"]

FIELD_LABELS = {
    "project_name": ("项目支出名称", "project name"),
    "unit_name": ("预算部门（单位）名称", "unit name"),
    "funds_total.budget": ("年度资金总额 全年预算数", "total funds, full-year budget"),
    "funds_total.executed": ("年度资金总额 全年执行数", "total funds, execution"),
    "score_total.score": ("总分 得分", "total score"),
    "date": ("填报日期", "filing date"),
    "staff.authorized": ("编制数", "authorised posts"),
    "staff.actual": ("实际在职人数", "actual staff"),
    "actual": ("实际完成值", "actual value"),
    "score": ("得分", "score"),
}


def _failures(schema, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The failure cases of the schema over ``columns`` of the frame (all it reads: pandera
    copies what it is given, and the batch frames are wide)."""
    import pandera.pandas as pa

    try:
        schema.validate(frame[[c for c in columns if c in frame]], lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return cases[cases["check"].isin(["S201", "R014"])]
    return pd.DataFrame(columns=["column", "check", "index"])


@functools.cache  # made once per process, not per chunk
def _score_schema():
    import pandera.pandas as pa

    def within(df: pd.DataFrame) -> pd.Series:
        both = (df["score@status"] == "ok") & (df["weight@status"] == "ok")
        return ~(both & ((df["score"] > df["weight"] + 1e-9) | (df["score"] < 0)))

    return pa.DataFrameSchema(checks=[pa.Check(within, name="S201")])


@functools.cache
def _required_schema():
    import pandera.pandas as pa

    return pa.DataFrameSchema({"status": pa.Column(None, pa.Check(lambda s: s != "blank", name="R014"), nullable=True)})


def _weighted(frame: pd.DataFrame) -> np.ndarray:
    """Positions of the indicators (or scored rows) that carry a weight (分值 > 0)."""
    weight = pd.to_numeric(frame["weight"], errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        return np.flatnonzero((frame["weight@status"].to_numpy() == "ok") & (weight > 0))


def _required_cells(batch) -> tuple[pd.DataFrame, list[tuple[str, str, pd.DataFrame, np.ndarray]]]:
    """The status of every cell R014 requires, as one column (one pandera check for all,
    not one per table kind and field: each costs about a millisecond), and the segments it
    is made of: (kind, field, frame, the frame's rows), in the order of the catalog."""
    parts, segments = [], []
    for kind, fields in load_catalog()["R014"].required.items():
        if kind in ("indicator", "scored"):
            frame = batch.indicators if kind == "indicator" else batch.scored
            if frame.empty:
                continue
            rows = _weighted(frame)
        else:
            frame = batch.tables.get(kind)
            if frame is None or frame.empty:
                continue
            rows = np.arange(len(frame))
        for field in fields:
            if kind == "indicator" and field == "actual":
                # a template without an 实际完成值 column is not asked for one
                cells = frame["actual@cell"].to_numpy()[rows]
                status = np.array([None if c.endswith("!") else s for c, s in zip(cells, frame["actual.status"].to_numpy()[rows])], object)
            elif f"{field}@status" in frame:
                status = frame[f"{field}@status"].to_numpy()[rows]
            else:
                continue
            parts.append(status)
            segments.append((kind, field, frame, rows))
    column = np.concatenate(parts) if parts else np.empty(0, object)
    return pd.DataFrame({"status": column.astype(object)}), segments


def check(ctx) -> Iterator[Finding]:
    batch = ctx.batch
    scored = batch.scored
    if not scored.empty:
        cases = _failures(_score_schema(), scored, ["weight", "score", "weight@status", "score@status"])
        for index in sorted(set(cases["index"].dropna().astype(int))):
            row = scored.loc[index]
            sheet, cell = split_ref(row["score@cell"])
            yield make_finding(
                "S201", row["_file"], sheet, cell, expected=fmt(row["weight"]), actual=row["score@raw"],
                unit=row["_unit"], field=f"{row['_table']}:{row['label']}", label=row["label"],
            )
    cells, segments = _required_cells(batch)
    if cells.empty:
        return
    cases = _failures(_required_schema(), cells, ["status"])
    starts = np.cumsum([0] + [len(rows) for *_, rows in segments])
    for index in sorted(set(cases["index"].dropna().astype(int))):
        s = int(np.searchsorted(starts, index, side="right")) - 1
        kind, field, frame, rows = segments[s]
        i = int(rows[index - starts[s]])
        row = frame.iloc[i]
        sheet, cell = split_ref(row[f"{field}@cell"] if kind in ("indicator", "scored") else batch.cell_at(kind, i, field))
        zh, en = FIELD_LABELS.get(field, (field, field))
        table = Bi(row["_name_zh"], row["_name_en"]) if kind not in ("indicator", "scored") else Bi(*KIND_NAMES[row["_kind"]])
        if kind in ("indicator", "scored"):
            name = row["label"] if kind == "scored" else row["level3"] or row["level2"]
            zh, en = f"{name} {zh}", f"{name}: {en}"
        yield make_finding(
            "R014", row["_file"], sheet, cell, expected="", actual="", unit=row["_unit"],
            field=f"{row['_table']}:{field}", label=Bi(zh, en), table=table,
        )
