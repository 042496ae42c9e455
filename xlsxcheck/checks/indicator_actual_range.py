"""I301: 实际完成值 written as a range ("≥588万") instead of the value reached."""

from ..catalog import make_finding
from .common import fmt, split_ref


def check(ctx):
    ind = ctx.batch.indicators
    if ind.empty:
        return
    ranged = ind[ind["actual.cmp"].isin([">=", "<=", ">", "<"]) & (ind["actual.status"] == "ok")]
    for _, r in ranged.iterrows():
        example = f"{fmt(r['actual.num'])}{r['actual.unit']}"
        yield make_finding("I301", r["_file"], *split_ref(r["actual@cell"]), expected=example, actual=r["actual"],
                           unit=r["_unit"], field=f"{r['_table']}:{r['level3']}", label=r["level3"] or r["level2"])
