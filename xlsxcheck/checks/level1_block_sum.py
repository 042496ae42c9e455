"""S202: the weights under a labelled block add up to the weight in its label: the level-3
weights under a level-1 block ("产出指标(40分)"), and the level-1 blocks under the label
that weighs the whole indicator part ("绩效指标(90分)", "年度绩效目标(80分)")."""

import pandas as pd

from ..catalog import make_finding
from .common import fmt, short_refs, split_ref

FIELDS = ("indicators.weight", "indicators.label")  # table fields this rule reads (the batch frames hold only declared fields)
_KEYS = ["_book", "_table", "level1@cell"]


def check(ctx):
    ind = ctx.batch.indicators
    if ind.empty:
        return
    keyed = ind[ind["level1_weight"].notna()]
    # A block with an unreadable weight is left to R007, which says which cell to fix; a
    # template without a 分值 column (weights only in the labels) has nothing to add up.
    blocks = keyed.assign(w=keyed["weight"].fillna(0), bad=keyed["weight@status"].eq("invalid"),
                          filed=keyed["weight@status"].eq("ok")).groupby(_KEYS, sort=False).agg(
        total=("w", "sum"), label=("level1_weight", "first"), unreadable=("bad", "any"), filed=("filed", "any"))
    wrong = blocks[~blocks["unreadable"] & blocks["filed"] & ((blocks["total"] - blocks["label"]).abs() > 1e-6)]
    for (book, table, l1cell), r in wrong.iterrows():
        rows = keyed[(keyed["_book"] == book) & (keyed["_table"] == table) & (keyed["level1@cell"] == l1cell)]
        first = rows.iloc[0]
        sheet, cell = split_ref(l1cell)
        yield make_finding("S202", first["_file"], sheet, cell, expected=fmt(r["label"]), actual=fmt(r["total"]),
                           unit=first["_unit"], field=f"{table}:{first['level1']}", label=first["level1"],
                           cells=short_refs(list(rows["weight@cell"]), sheet))
    yield from _whole_block(ctx, ind)


def _whole_block(ctx, ind: pd.DataFrame):
    """The whole indicator part against its label: the level-1 labels' weights where every
    block has one, else the level-3 weights."""
    by_table = None  # the indicators of each table, grouped once (not filtered table by table)
    for frame in ctx.batch.tables.values():
        if frame.empty or "indicators.weight" not in frame:
            continue
        for _, t in frame[frame["indicators.weight@status"] == "ok"].iterrows():
            if by_table is None:
                by_table = {key: rows for key, rows in ind.groupby(["_book", "_table"], sort=False)}
            rows = by_table.get((t["_book"], t["_table"]))
            if rows is None:
                continue
            blocks = rows.drop_duplicates("level1@cell")
            if blocks["level1_weight"].notna().all():
                total, cells = blocks["level1_weight"].sum(), list(blocks["level1@cell"])
            elif rows["weight@status"].eq("ok").any() and not rows["weight@status"].eq("invalid").any():
                total, cells = rows["weight"].fillna(0).sum(), list(rows["weight@cell"])
            else:
                continue
            if abs(total - t["indicators.weight"]) > 1e-6:
                sheet, cell = split_ref(ctx.batch.cell(t, "indicators.weight"))
                yield make_finding("S202", t["_file"], sheet, cell, expected=fmt(t["indicators.weight"]), actual=fmt(total),
                                   unit=t["_unit"], field=f"{t['_table']}:indicators.weight", label=t["indicators.label"],
                                   cells=short_refs(cells, sheet))
