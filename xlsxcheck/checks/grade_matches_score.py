"""S207: a stated grade (优/良/中/差) follows the total score."""

from ..catalog import make_finding
from .common import fmt, split_ref

FIELDS = ('grade', 'score_total.score')  # table fields this rule reads (the batch frames hold only declared fields)

GRADES = ((90, "优"), (80, "良"), (60, "中"), (float("-inf"), "差"))


def grade_of(score: float) -> str:
    return next(g for floor, g in GRADES if score >= floor)


def check(ctx):
    for kind in ("overall", "project"):
        frame = ctx.batch.tables.get(kind)
        if frame is None or frame.empty or "grade" not in frame:
            continue
        rows = frame[(frame["grade@status"] == "ok") & (frame["score_total.score@status"] == "ok")]
        for _, r in rows.iterrows():
            stated = str(r["grade"]).strip()[:1]
            want = grade_of(r["score_total.score"])
            if stated in "优良中差" and stated != want:
                sheet, cell = split_ref(ctx.batch.cell(r, "grade"))
                yield make_finding("S207", r["_file"], sheet, cell, expected=want, actual=ctx.batch.raw(r, "grade"), unit=r["_unit"],
                                   field=f"{r['_table']}:grade", score=fmt(r["score_total.score"]))
