"""S206: every self-evaluation table has at least one output and one benefit indicator."""

from ..catalog import Bi, make_finding
from .common import split_ref

_NAMES = {"output": ("产出指标", "output indicators"), "benefit": ("效益指标", "benefit indicators")}


def check(ctx):
    batch = ctx.batch
    ind = batch.indicators
    have = set() if ind.empty else set(zip(ind["_book"], ind["_table"], ind["level1_key"]))
    for kind in ("overall", "project"):
        frame = batch.tables.get(kind)
        if frame is None or frame.empty:
            continue
        for _, r in frame.iterrows():
            if "score_total.label@status" in r and r["score_total.label@status"] != "ok":
                continue  # no indicator block was read: R006 says so
            for key, (zh, en) in _NAMES.items():
                if (r["_book"], r["_table"], key) not in have:
                    yield make_finding("S206", r["_file"], *split_ref(r["_anchor"]), unit=r["_unit"],
                                       field=f"{r['_table']}:{key}", label=Bi(zh, en), table=Bi(r["_name_zh"], r["_name_en"]))
