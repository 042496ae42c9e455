"""S202: the weights under a level-1 block add up to the weight in its label."""

from ..catalog import make_finding
from .common import fmt, short_refs, split_ref

_KEYS = ["_book", "_table", "level1@cell"]


def check(ctx):
    ind = ctx.batch.indicators
    if ind.empty:
        return
    keyed = ind[ind["level1_weight"].notna()]
    blocks = keyed.assign(w=keyed["weight"].fillna(0), bad=keyed["weight@status"].eq("invalid")).groupby(_KEYS, sort=False).agg(
        total=("w", "sum"), label=("level1_weight", "first"), unreadable=("bad", "any"))
    # A block with an unreadable weight is left to R007, which says which cell to fix.
    wrong = blocks[~blocks["unreadable"] & ((blocks["total"] - blocks["label"]).abs() > 1e-6)]
    for (book, table, l1cell), r in wrong.iterrows():
        rows = keyed[(keyed["_book"] == book) & (keyed["_table"] == table) & (keyed["level1@cell"] == l1cell)]
        first = rows.iloc[0]
        sheet, cell = split_ref(l1cell)
        yield make_finding("S202", first["_file"], sheet, cell, expected=fmt(r["label"]), actual=fmt(r["total"]),
                           unit=first["_unit"], field=f"{table}:{first['level1']}", label=first["level1"],
                           cells=short_refs(list(rows["weight@cell"]), sheet))
