"""S203: level-1 weights and the budget-execution weight are those of the workbook's profile.

Not applied where no profile matched (R013 already says the template is unknown), except to
the budget-execution weight when every profile sets the same one (10 in all known templates)."""

import math

import numpy as np

from ..catalog import Bi, make_finding
from .common import fmt, split_ref

FIELDS = ('funds_total.weight',)  # table fields this rule reads (the batch frames hold only declared fields)


def check(ctx):
    batch = ctx.batch
    judged = [b.profile_source != "default" for b in batch.books]  # its profile was detected or forced
    ind = batch.indicators
    if not ind.empty:
        col = {name: ind[name].to_numpy().tolist() for name in ("_book", "level1_key", "level1_weight", "_table", "level1@cell")}
        seen = set()
        for j, (pos, key, weight, table, l1cell) in enumerate(zip(*col.values())):
            if weight != weight or key == "" or (pos, table, l1cell) in seen:  # each level-1 block once
                continue
            seen.add((pos, table, l1cell))
            p = batch.profiles[pos]
            if not judged[pos] or not p.level1:  # a profile may leave them free
                continue
            want = p.level1.get(key, math.nan)
            if abs(want - weight) < 1e-6:
                continue
            r = ind.iloc[j]
            sheet, cell = split_ref(r["level1@cell"])
            yield make_finding("S203", r["_file"], sheet, cell, expected=fmt(want) if not math.isnan(want) else Bi("（无此一级指标）", "(no such block)"),
                               actual=fmt(r["level1_weight"]), unit=r["_unit"], field=f"{r['_table']}:{r['level1']}",
                               label=r["level1"], profile=Bi(p.name_zh, p.name_en))
    same_everywhere = len({p.funds_weight for p in ctx.profiles}) == 1
    for kind in ("overall", "project"):
        columns = batch.columns.get(kind)
        if not batch.sources.get(kind) or "funds_total.weight" not in columns:
            continue
        for i in np.flatnonzero(columns["funds_total.weight@status"] == "ok"):
            pos, weight = columns["_book"][i], columns["funds_total.weight"][i]
            p = batch.profiles[pos]
            if (same_everywhere or judged[pos]) and abs(weight - float(p.funds_weight)) > 1e-6:
                sheet, cell = split_ref(batch.cell_at(kind, i, "funds_total.weight"))
                yield make_finding("S203", columns["_file"][i], sheet, cell, expected=fmt(p.funds_weight), actual=fmt(weight),
                                   unit=columns["_unit"][i], field=f"{columns['_table'][i]}:funds_total.weight",
                                   label=Bi("预算执行率", "budget execution"), profile=Bi(p.name_zh, p.name_en))
