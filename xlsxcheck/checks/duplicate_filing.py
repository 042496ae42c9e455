"""D601: one unit and year filed more than once in the batch."""

from ..catalog import make_finding
from ..values import normalize


def duplicates(books) -> dict[int, int]:
    """Position of each repeated workbook -> position of the first one filed."""
    first: dict[tuple[str, object], int] = {}
    out: dict[int, int] = {}
    for pos, book in sorted(enumerate(books), key=lambda pb: pb[1].file):
        if not book.tables:
            continue
        key = (normalize(book.unit), book.year)
        if key in first:
            out[pos] = first[key]
        else:
            first[key] = pos
    return out


def check(ctx):
    books = ctx.books
    for pos, orig in duplicates(books).items():
        book = books[pos]
        yield make_finding("D601", book.file, None, None, unit=book.unit, year=book.year or "?", other=books[orig].file)
