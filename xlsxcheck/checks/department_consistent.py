"""X506: the project tables of a unit name one supervising department (主管部门).

The reference is the name most project tables give, not counting tables that give the
unit's own name; with a registry, the registry's department wins."""

from collections import Counter

from ..catalog import make_finding
from ..values import normalize
from .common import split_ref

FIELDS = ('department',)  # table fields this rule reads (the batch frames hold only declared fields)


def check(ctx):
    batch = ctx.batch
    columns = batch.columns.get("project")
    if not batch.sources.get("project") or "department" not in columns:
        return
    by_book: dict[int, list[int]] = {}  # a workbook's project tables that name a department
    for i, (status, pos) in enumerate(zip(columns["department@status"].tolist(), columns["_book"].tolist())):
        if status == "ok":
            by_book.setdefault(pos, []).append(i)
    names = columns["department"]
    registry = ctx.registry
    for pos in sorted(by_book):
        rows = by_book[pos]
        if registry is None and len({normalize(names[i]) for i in rows}) <= 1:
            continue  # only units whose project tables disagree need a closer look
        book = batch.books[pos]
        entry = registry.entry(book.unit) if registry else None
        reference = entry[0] if entry and entry[0] else None
        if reference is None:
            others = Counter(names[i] for i in rows if normalize(names[i]) != normalize(book.unit))
            if not others:
                continue
            reference = others.most_common(1)[0][0]
        for i in rows:
            if normalize(names[i]) != normalize(reference):
                sheet, cell = split_ref(batch.cell_at("project", i, "department"))
                yield make_finding("X506", columns["_file"][i], sheet, cell, expected=reference, actual=names[i], unit=book.unit,
                                   field=f"{columns['_table'][i]}:department")
