"""S206: every self-evaluation table has at least one output and one benefit indicator."""

from ..catalog import Bi, make_finding
from .common import split_ref

FIELDS = ('score_total.label',)  # table fields this rule reads (the batch frames hold only declared fields)

_NAMES = {"output": ("产出指标", "output indicators"), "benefit": ("效益指标", "benefit indicators")}


def check(ctx):
    batch = ctx.batch
    ind = batch.indicators
    have = {key: set() if ind.empty else set(zip(*(ind.loc[ind["level1_key"] == key, c] for c in ("_book", "_table")))) for key in _NAMES}
    for kind in ("overall", "project"):
        frame = batch.tables.get(kind)
        if frame is None or frame.empty:
            continue
        if "score_total.label@status" in frame:  # no indicator block was read: R006 says so
            frame = frame[frame["score_total.label@status"] == "ok"]
        keys = list(zip(frame["_book"], frame["_table"]))
        for key, (zh, en) in _NAMES.items():
            for _, r in frame[[k not in have[key] for k in keys]].iterrows():
                yield make_finding("S206", r["_file"], *split_ref(r["_anchor"]), unit=r["_unit"],
                                   field=f"{r['_table']}:{key}", label=Bi(zh, en), table=Bi(r["_name_zh"], r["_name_en"]))
