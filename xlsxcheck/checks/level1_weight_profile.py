"""S203: level-1 weights and the budget-execution weight are those of the workbook's profile.

Not applied where no profile matched (R013 already says the template is unknown)."""

from ..catalog import Bi, make_finding
from .common import fmt, split_ref


def check(ctx):
    batch = ctx.batch
    ind = batch.indicators
    if not ind.empty:
        blocks = ind[ind["level1_weight"].notna() & (ind["level1_key"] != "")].drop_duplicates(["_book", "_table", "level1@cell"])
        for _, r in blocks.iterrows():
            if batch.books[r["_book"]].profile_source == "default":
                continue
            p = batch.profiles[r["_book"]]
            want = p.level1.get(r["level1_key"])
            if want is not None and abs(want - r["level1_weight"]) < 1e-6:
                continue
            sheet, cell = split_ref(r["level1@cell"])
            yield make_finding("S203", r["_file"], sheet, cell, expected=fmt(want) if want is not None else Bi("（无此一级指标）", "(no such block)"),
                               actual=fmt(r["level1_weight"]), unit=r["_unit"], field=f"{r['_table']}:{r['level1']}",
                               label=r["level1"], profile=Bi(p.name_zh, p.name_en))
    for kind in ("overall", "project"):
        frame = batch.tables.get(kind)
        if frame is None or frame.empty or "funds_total.weight" not in frame:
            continue
        for _, r in frame[frame["funds_total.weight@status"] == "ok"].iterrows():
            if batch.books[r["_book"]].profile_source == "default":
                continue
            p = batch.profiles[r["_book"]]
            if abs(r["funds_total.weight"] - p.funds_weight) > 1e-6:
                sheet, cell = split_ref(r["funds_total.weight@cell"])
                yield make_finding("S203", r["_file"], sheet, cell, expected=fmt(p.funds_weight), actual=fmt(r["funds_total.weight"]),
                                   unit=r["_unit"], field=f"{r['_table']}:funds_total.weight",
                                   label=Bi("预算执行率", "budget execution"), profile=Bi(p.name_zh, p.name_en))
