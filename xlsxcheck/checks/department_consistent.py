"""X506: the project tables of a unit name one supervising department (主管部门).

The reference is the name most project tables give, not counting tables that give the
unit's own name; with a registry, the registry's department wins."""

from collections import Counter

from ..catalog import make_finding
from ..values import normalize
from .common import split_ref

FIELDS = ('department',)  # table fields this rule reads (the batch frames hold only declared fields)


def check(ctx):
    frame = ctx.batch.tables.get("project")
    if frame is None or frame.empty or "department" not in frame:
        return
    rows = frame[frame["department@status"] == "ok"]
    registry = ctx.registry
    if registry is None:
        # Only units whose project tables disagree need a closer look.
        names = rows["department"].map(normalize)
        spread = names.groupby(rows["_book"]).nunique()
        rows = rows[rows["_book"].isin(spread[spread > 1].index)]
    for pos, group in rows.groupby("_book"):
        book = ctx.batch.books[pos]
        entry = registry.entry(book.unit) if registry else None
        reference = entry[0] if entry and entry[0] else None
        if reference is None:
            others = Counter(d for d in group["department"] if normalize(d) != normalize(book.unit))
            if not others:
                continue
            reference = others.most_common(1)[0][0]
        for _, r in group.iterrows():
            if normalize(r["department"]) != normalize(reference):
                sheet, cell = split_ref(ctx.batch.cell(r, "department"))
                yield make_finding("X506", r["_file"], sheet, cell, expected=reference, actual=r["department"], unit=book.unit,
                                   field=f"{r['_table']}:department")
