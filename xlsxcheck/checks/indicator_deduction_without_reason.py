"""I304: points deducted with no reason (an unmet target without reason is I302 instead)."""

from ..catalog import make_finding
from .common import fmt, reason_ref
from .targets import unmet


def check(ctx):
    ind = ctx.batch.indicators
    if ind.empty:
        return
    deducted = (ind["score@status"] == "ok") & (ind["weight@status"] == "ok") & (ind["score"] < ind["weight"] - 1e-9)
    for _, r in ind[deducted & (ind["reason@status"] != "ok") & ~unmet(ctx)].iterrows():
        yield make_finding("I304", r["_file"], *reason_ref(r), expected=fmt(r["weight"]),
                           actual=fmt(r["score"]), unit=r["_unit"], field=f"{r['_table']}:{r['level3']}", label=r["level3"] or r["level2"])
