"""D602 and D603: filings against the unit registry (单位名录), when one is given."""

from ..catalog import make_finding


def check(ctx):
    if ctx.registry is None:
        return
    missing, extra = ctx.registry.compare(ctx.books)
    for unit, department in missing:
        yield make_finding("D602", ctx.registry.source, None, None, unit=unit, department=department or "—")
    for book in extra:
        yield make_finding("D603", book.file, None, None, unit=book.unit)
