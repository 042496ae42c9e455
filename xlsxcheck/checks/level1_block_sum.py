"""S202: the weights under a level-1 block add up to the weight in its label."""

from ..catalog import make_finding
from .common import fmt, short_refs, split_ref


def check(ctx):
    ind = ctx.batch.indicators
    if ind.empty:
        return
    keyed = ind[ind["level1_weight"].notna()]
    for (_, _, l1cell), block in keyed.groupby(["_book", "_table", "level1@cell"], sort=False):
        if (block["weight@status"] == "invalid").any():
            continue  # R007 already says which weight cannot be read
        total = block["weight"].fillna(0).sum()
        label_weight = block["level1_weight"].iloc[0]
        if abs(total - label_weight) > 1e-6:
            first = block.iloc[0]
            sheet, cell = split_ref(l1cell)
            yield make_finding("S202", first["_file"], sheet, cell, expected=fmt(label_weight), actual=fmt(total),
                               unit=first["_unit"], field=f"{first['_table']}:{first['level1']}", label=first["level1"],
                               cells=short_refs(list(block["weight@cell"]), sheet))
