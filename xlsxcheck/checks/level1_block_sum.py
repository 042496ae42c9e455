"""S202: the weights under a labelled block add up to the weight in its label: the level-3
weights under a level-1 block ("产出指标(40分)"), and the level-1 blocks under the label
that weighs the whole indicator part ("绩效指标(90分)", "年度绩效目标(80分)")."""

import numpy as np
import pandas as pd

from ..catalog import make_finding
from .common import fmt, short_refs, split_ref

FIELDS = ("indicators.weight", "indicators.label")  # table fields this rule reads (the batch frames hold only declared fields)


def _kahan(values) -> float:
    """A sum as pandas' groupby adds its groups (compensated, in row order)."""
    total = compensation = 0.0
    for x in values:
        y = x - compensation
        t = total + y
        compensation = t - total - y
        total = t
    return total


def check(ctx):
    ind = ctx.batch.indicators
    if ind.empty:
        return
    level1_weight = ind["level1_weight"].to_numpy(float)
    keyed = np.flatnonzero(~np.isnan(level1_weight))
    if not len(keyed):
        yield from _whole_block(ctx, ind)
        return
    col = {name: ind[name].to_numpy()[keyed] for name in ("_book", "_table", "level1@cell", "weight@status")}
    # blocks: (book, table, level-1 cell), numbered in order of appearance
    key = col["_book"].astype(np.int64)
    for name in ("_table", "level1@cell"):
        codes, uniques = pd.factorize(col[name])
        key = key * len(uniques) + codes
    block, _ = pd.factorize(key)
    blocks = block.max() + 1
    weight = ind["weight"].to_numpy(float)[keyed]
    weight = np.where(np.isnan(weight), 0.0, weight)  # a blank weight adds nothing
    # A block with an unreadable weight is left to R007, which says which cell to fix; a
    # template without a 分值 column (weights only in the labels) has nothing to add up.
    unreadable = np.bincount(block, col["weight@status"] == "invalid", blocks) > 0
    filed = np.bincount(block, col["weight@status"] == "ok", blocks) > 0
    first = np.full(blocks, len(keyed))
    np.minimum.at(first, block, np.arange(len(keyed)))
    label = level1_weight[keyed][first]
    # candidates by a quick sum, then each one added up as pandas' groupby adds a group
    near = np.abs(np.bincount(block, weight, blocks) - label) > 1e-6 - 1e-9
    for b in np.flatnonzero(near & filed & ~unreadable):
        rows = keyed[block == b]
        total = _kahan(weight[block == b].tolist())
        if abs(total - label[b]) <= 1e-6:
            continue
        r = ind.iloc[rows[0]]
        sheet, cell = split_ref(r["level1@cell"])
        yield make_finding("S202", r["_file"], sheet, cell, expected=fmt(label[b]), actual=fmt(total),
                           unit=r["_unit"], field=f"{r['_table']}:{r['level1']}", label=r["level1"],
                           cells=short_refs(list(ind["weight@cell"].to_numpy()[rows]), sheet))
    yield from _whole_block(ctx, ind)


def _whole_block(ctx, frame):
    """The whole indicator part against its label: the level-1 labels' weights where every
    block has one, else the level-3 weights."""
    by_table = None  # the indicators of each table, grouped once (not filtered table by table)
    batch = ctx.batch
    ind = {name: frame[name].to_numpy() for name in ("_book", "_table", "level1@cell", "level1_weight", "weight", "weight@status", "weight@cell")}
    for kind, columns in batch.columns.items():
        if not len(batch.sources[kind]) or "indicators.weight" not in columns:
            continue
        for i in np.flatnonzero(columns["indicators.weight@status"] == "ok"):
            if by_table is None:
                by_table = {}
                for j, key in enumerate(zip(ind["_book"], ind["_table"])):
                    by_table.setdefault(key, []).append(j)
            rows = by_table.get((columns["_book"][i], columns["_table"][i]))
            if rows is None:
                continue
            firsts = list({ind["level1@cell"][j]: j for j in reversed(rows)}.values())[::-1]  # each block's first row
            status = [ind["weight@status"][j] for j in rows]
            if not np.isnan(ind["level1_weight"][firsts].astype(float)).any():
                total, cells = np.add.reduce(ind["level1_weight"][firsts]), [ind["level1@cell"][j] for j in firsts]
            elif "ok" in status and "invalid" not in status:
                weights = ind["weight"][rows]
                total = np.add.reduce(np.where(np.isnan(weights), 0, weights) if weights.dtype.kind == "f" else weights)
                cells = [ind["weight@cell"][j] for j in rows]
            else:
                continue
            stated = columns["indicators.weight"][i]
            if abs(total - stated) > 1e-6:
                sheet, cell = split_ref(batch.cell_at(kind, i, "indicators.weight"))
                yield make_finding("S202", columns["_file"][i], sheet, cell, expected=fmt(stated), actual=fmt(total),
                                   unit=columns["_unit"][i], field=f"{columns['_table'][i]}:indicators.weight",
                                   label=columns["indicators.label"][i], cells=short_refs(cells, sheet))
