"""X504: every table of a workbook names the same unit and fiscal year."""

from ..catalog import Bi, make_finding
from ..values import normalize
from .common import split_ref


def check(ctx):
    for kind, frame in ctx.batch.tables.items():
        if frame.empty:
            continue
        for _, r in frame.iterrows():
            book = ctx.batch.books[r["_book"]]
            for field, what in (("unit_name", Bi("单位名称", "The unit name")), ("title_unit", Bi("表头单位名称", "The unit in the title"))):
                if r.get(f"{field}@status") == "ok" and normalize(r[field]) != normalize(book.unit):
                    sheet, cell = split_ref(r[f"{field}@cell"])
                    yield make_finding("X504", r["_file"], sheet, cell, expected=book.unit, actual=r[field], unit=book.unit,
                                       field=f"{r['_table']}:{field}", what=what)
            if r.get("year@status") == "ok" and book.year is not None and int(r["year"]) != book.year:
                sheet, cell = split_ref(r["year@cell"])
                yield make_finding("X504", r["_file"], sheet, cell, expected=str(book.year), actual=str(int(r["year"])),
                                   unit=book.unit, field=f"{r['_table']}:year", what=Bi("年度", "The year"))
