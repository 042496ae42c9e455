"""S203: level-1 weights and the budget-execution weight are those of the workbook's profile.

Not applied where no profile matched (R013 already says the template is unknown), except to
the budget-execution weight when every profile sets the same one (10 in all known templates)."""

import numpy as np

from ..catalog import Bi, make_finding
from .common import fmt, split_ref

FIELDS = ('funds_total.weight',)  # table fields this rule reads (the batch frames hold only declared fields)


def _profile_rows(batch, frame):
    """The profile of each row, and whether its workbook's profile was detected or forced."""
    profiles = [batch.profiles[pos] for pos in frame["_book"]]
    judged = np.array([batch.books[pos].profile_source != "default" for pos in frame["_book"]], bool)
    return profiles, judged


def check(ctx):
    batch = ctx.batch
    ind = batch.indicators
    if not ind.empty:
        blocks = ind[ind["level1_weight"].notna() & (ind["level1_key"] != "")].drop_duplicates(["_book", "_table", "level1@cell"])
        profiles, judged = _profile_rows(batch, blocks)
        judged &= np.array([bool(p.level1) for p in profiles], bool)  # a profile may leave them free
        want = np.array([p.level1.get(k, np.nan) for p, k in zip(profiles, blocks["level1_key"])], float)
        wrong = judged & ~(np.abs(want - blocks["level1_weight"].to_numpy(float)) < 1e-6)
        for (_, r), p, w in zip(blocks[wrong].iterrows(), [p for p, x in zip(profiles, wrong) if x], want[wrong]):
            sheet, cell = split_ref(r["level1@cell"])
            yield make_finding("S203", r["_file"], sheet, cell, expected=fmt(w) if not np.isnan(w) else Bi("（无此一级指标）", "(no such block)"),
                               actual=fmt(r["level1_weight"]), unit=r["_unit"], field=f"{r['_table']}:{r['level1']}",
                               label=r["level1"], profile=Bi(p.name_zh, p.name_en))
    for kind in ("overall", "project"):
        frame = batch.tables.get(kind)
        if frame is None or frame.empty or "funds_total.weight" not in frame:
            continue
        rows = frame[frame["funds_total.weight@status"] == "ok"]
        profiles, judged = _profile_rows(batch, rows)
        if len({p.funds_weight for p in ctx.profiles}) == 1:
            judged = np.ones(len(rows), bool)
        want = np.array([p.funds_weight for p in profiles], float)
        wrong = judged & (np.abs(rows["funds_total.weight"].to_numpy(float) - want) > 1e-6)
        for (_, r), p in zip(rows[wrong].iterrows(), [p for p, x in zip(profiles, wrong) if x]):
            sheet, cell = split_ref(batch.cell(r, "funds_total.weight"))
            yield make_finding("S203", r["_file"], sheet, cell, expected=fmt(p.funds_weight), actual=fmt(r["funds_total.weight"]),
                               unit=r["_unit"], field=f"{r['_table']}:funds_total.weight",
                               label=Bi("预算执行率", "budget execution"), profile=Bi(p.name_zh, p.name_en))
