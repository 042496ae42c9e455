"""I303: a target not met, scored the full weight."""

from ..catalog import make_finding
from .common import fmt, split_ref
from .targets import unmet


def check(ctx):
    ind = ctx.batch.indicators
    if ind.empty:
        return
    full = (ind["score@status"] == "ok") & (ind["weight@status"] == "ok") & (ind["score"] >= ind["weight"])
    for _, r in ind[unmet(ctx) & full].iterrows():
        yield make_finding("I303", r["_file"], *split_ref(r["score@cell"]), expected=r["target"],
                           actual=r["actual"], unit=r["_unit"], field=f"{r['_table']}:{r['level3']}",
                           label=r["level3"] or r["level2"], score=fmt(r["score"]))
