"""X505: the filing date lies after the fiscal year's end and not in the future."""

import datetime as dt

from ..catalog import Bi, make_finding
from .common import split_ref

FIELDS = ('date',)  # table fields this rule reads (the batch frames hold only declared fields)


def check(ctx):
    books = ctx.batch.books
    for frame in ctx.batch.tables.values():
        if frame.empty or "date" not in frame:
            continue
        rows = frame[frame["date@status"] == "ok"]
        years = [books[pos].year for pos in rows["_book"]]
        suspect = [isinstance(d, dt.date) and ((y and d <= dt.date(y, 12, 31)) or d > ctx.today) for d, y in zip(rows["date"], years)]
        for (_, r), year in zip(rows[suspect].iterrows(), (y for y, s in zip(years, suspect) if s)):
            day = r["date"]
            if year and day <= dt.date(year, 12, 31):
                why = Bi(f"早于{year}年度结束（{year}-12-31），应为年度结束后的报送日期", f"is before the end of fiscal year {year}; it must be after {year}-12-31")
                expected = f"> {year}-12-31"
            else:
                why = Bi(f"晚于今天（{ctx.today}）", f"is later than today ({ctx.today})")
                expected = f"<= {ctx.today}"
            sheet, cell = split_ref(ctx.batch.cell(r, "date"))
            yield make_finding("X505", r["_file"], sheet, cell, expected=expected, actual=ctx.batch.raw(r, "date"), unit=r["_unit"],
                               field=f"{r['_table']}:date", why=why)
