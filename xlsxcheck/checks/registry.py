"""D602 and D603: filings against the unit registry (单位名录), when one is given."""

from ..catalog import make_finding
from ..values import normalize


def check(ctx):
    if ctx.registry is None:
        return
    filed = {normalize(b.unit): b for b in ctx.books if b.tables}
    known = {normalize(u): u for u in ctx.registry.units}
    for key, unit in known.items():
        if key not in filed:
            yield make_finding("D602", ctx.registry.source, None, None, unit=unit, department=ctx.registry.units[unit][0] or "—")
    for key, book in filed.items():
        if key not in known:
            yield make_finding("D603", book.file, None, None, unit=book.unit)
