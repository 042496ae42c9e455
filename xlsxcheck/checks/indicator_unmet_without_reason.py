"""I302: a target not met with no 偏差原因分析及改进措施."""

from ..catalog import make_finding
from .common import reason_ref
from .targets import unmet


def check(ctx):
    ind = ctx.batch.indicators
    if ind.empty:
        return
    for _, r in ind[unmet(ctx) & (ind["reason@status"] != "ok")].iterrows():
        yield make_finding("I302", r["_file"], *reason_ref(r), expected=r["target"],
                           actual=r["actual"], unit=r["_unit"], field=f"{r['_table']}:{r['level3']}", label=r["level3"] or r["level2"])
