"""S203: level-1 weights and the budget-execution weight are those of the workbook's profile.

Not applied where no profile matched (R013 already says the template is unknown), except to
the budget-execution weight when every profile sets the same one (10 in all known templates)."""

import math

import numpy as np
import pandas as pd

from ..catalog import Bi, make_finding
from .common import fmt, split_ref

FIELDS = ('funds_total.weight',)  # table fields this rule reads (the batch frames hold only declared fields)


def check(ctx):
    batch = ctx.batch
    judged = [b.profile_source != "default" for b in batch.books]  # its profile was detected or forced
    ind = batch.indicators
    if not ind.empty:
        weights = ind["level1_weight"].to_numpy(float)
        keyed = np.flatnonzero(~np.isnan(weights) & (ind["level1_key"].to_numpy() != ""))
        # each level-1 block once: the first row of each (book, table, level-1 cell)
        block = ind["_book"].to_numpy()[keyed].astype(np.int64)
        for name in ("_table", "level1@cell"):
            codes, uniques = pd.factorize(ind[name].to_numpy()[keyed])
            block = block * len(uniques) + codes
        firsts = keyed[np.unique(pd.factorize(block)[0], return_index=True)[1]]
        profiles = [batch.profiles[pos] for pos in ind["_book"].to_numpy()[firsts].tolist()]
        want = np.array([p.level1.get(key, math.nan) for p, key in zip(profiles, ind["level1_key"].to_numpy()[firsts].tolist())], float)
        judged_here = np.array([judged[pos] for pos in ind["_book"].to_numpy()[firsts].tolist()], bool) & \
            np.array([bool(p.level1) for p in profiles], bool)  # a profile may leave them free
        for k in np.flatnonzero(judged_here & ~(np.abs(want - weights[firsts]) < 1e-6)):
            j, p, want_k = firsts[k], profiles[k], float(want[k])
            r = ind.iloc[j]
            sheet, cell = split_ref(r["level1@cell"])
            yield make_finding("S203", r["_file"], sheet, cell, expected=fmt(want_k) if not math.isnan(want_k) else Bi("（无此一级指标）", "(no such block)"),
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
