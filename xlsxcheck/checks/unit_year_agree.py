"""X504: every table of a workbook names the same unit and fiscal year."""

from ..catalog import Bi, make_finding
from ..values import normalize
from .common import split_ref

FIELDS = ('unit_name', 'title_unit', 'year')  # table fields this rule reads (the batch frames hold only declared fields)

_WHAT = {"unit_name": Bi("单位名称", "The unit name"), "title_unit": Bi("表头单位名称", "The unit in the title")}


def check(ctx):
    batch = ctx.batch
    books = batch.books
    units: dict[int, str] = {}  # a workbook's unit, normalized once
    for kind, columns in batch.columns.items():
        if not batch.sources[kind]:
            continue
        at = columns["_book"].tolist()
        for field, what in _WHAT.items():
            if field not in columns:
                continue
            for i, (status, value) in enumerate(zip(columns[f"{field}@status"].tolist(), columns[field].tolist())):
                if status != "ok":
                    continue
                pos = at[i]
                unit = units.get(pos)
                if unit is None:
                    unit = units[pos] = normalize(books[pos].unit)
                if normalize(value) != unit:
                    sheet, cell = split_ref(batch.cell_at(kind, i, field))
                    book = books[pos]
                    yield make_finding("X504", columns["_file"][i], sheet, cell, expected=book.unit, actual=value, unit=book.unit,
                                       field=f"{columns['_table'][i]}:{field}", what=what)
        if "year" in columns:
            for i, (status, value) in enumerate(zip(columns["year@status"].tolist(), columns["year"].tolist())):
                book = books[at[i]]
                if status == "ok" and book.year is not None and value != book.year:
                    sheet, cell = split_ref(batch.cell_at(kind, i, "year"))
                    yield make_finding("X504", columns["_file"][i], sheet, cell, expected=str(book.year), actual=str(int(value)),
                                       unit=book.unit, field=f"{columns['_table'][i]}:year", what=Bi("年度", "The year"))
