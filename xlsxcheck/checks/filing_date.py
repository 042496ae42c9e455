"""X505: the filing date lies after the fiscal year's end and not in the future."""

import datetime as dt

from ..catalog import Bi, make_finding
from .common import split_ref

FIELDS = ('date',)  # table fields this rule reads (the batch frames hold only declared fields)


def check(ctx):
    batch = ctx.batch
    books = batch.books
    for kind, columns in batch.columns.items():
        if not batch.sources[kind] or "date" not in columns:
            continue
        for i, (status, day, pos) in enumerate(zip(columns["date@status"].tolist(), columns["date"].tolist(), columns["_book"].tolist())):
            if status != "ok" or not isinstance(day, dt.date):
                continue
            year = books[pos].year
            if year and day <= dt.date(year, 12, 31):
                why = Bi(f"早于{year}年度结束（{year}-12-31），应为年度结束后的报送日期", f"is before the end of fiscal year {year}; it must be after {year}-12-31")
                expected = f"> {year}-12-31"
            elif day > ctx.today:
                why = Bi(f"晚于今天（{ctx.today}）", f"is later than today ({ctx.today})")
                expected = f"<= {ctx.today}"
            else:
                continue
            sheet, cell = split_ref(batch.cell_at(kind, i, "date"))
            yield make_finding("X505", columns["_file"][i], sheet, cell, expected=expected, actual=batch.raw_at(kind, i, "date"),
                               unit=columns["_unit"][i], field=f"{columns['_table'][i]}:date", why=why)
