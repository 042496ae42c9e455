"""I305: a numeric target answered with words ("完成", "达成预期指标") instead of the value reached."""

from ..catalog import make_finding
from .common import split_ref


def check(ctx):
    ind = ctx.batch.indicators
    if ind.empty:
        return
    worded = ind[(ind["target.status"] == "ok") & ind["target.num"].notna() & (ind["actual.status"] == "qualitative")]
    for _, r in worded.iterrows():
        yield make_finding("I305", r["_file"], *split_ref(r["actual@cell"]), expected=r["target"], actual=r["actual"],
                           unit=r["_unit"], field=f"{r['_table']}:{r['level3']}", label=r["level3"] or r["level2"])
