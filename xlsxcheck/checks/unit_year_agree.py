"""X504: every table of a workbook names the same unit and fiscal year."""

from ..catalog import Bi, make_finding
from ..values import normalize
from .common import split_ref

FIELDS = ('unit_name', 'title_unit', 'year')  # table fields this rule reads (the batch frames hold only declared fields)

_WHAT = {"unit_name": Bi("单位名称", "The unit name"), "title_unit": Bi("表头单位名称", "The unit in the title")}


def check(ctx):
    books = ctx.batch.books
    for frame in ctx.batch.tables.values():
        if frame.empty:
            continue
        unit = frame["_book"].map(lambda pos: normalize(books[pos].unit))
        for field, what in _WHAT.items():
            if field not in frame:
                continue
            ok = frame[f"{field}@status"] == "ok"
            differs = ok & (frame[field].where(ok, "").map(normalize) != unit)
            for _, r in frame[differs].iterrows():
                sheet, cell = split_ref(ctx.batch.cell(r, field))
                book = books[r["_book"]]
                yield make_finding("X504", r["_file"], sheet, cell, expected=book.unit, actual=r[field], unit=book.unit,
                                   field=f"{r['_table']}:{field}", what=what)
        if "year" in frame:
            year = frame["_book"].map(lambda pos: books[pos].year)
            differs = (frame["year@status"] == "ok") & year.notna() & (frame["year"] != year)
            for _, r in frame[differs].iterrows():
                sheet, cell = split_ref(ctx.batch.cell(r, "year"))
                book = books[r["_book"]]
                yield make_finding("X504", r["_file"], sheet, cell, expected=str(book.year), actual=str(int(r["year"])),
                                   unit=book.unit, field=f"{r['_table']}:year", what=Bi("年度", "The year"))
