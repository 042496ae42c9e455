"""D601 and D604: one unit and year filed more than once in the batch.

A unit that corrects its workbook sends it again; the latest filing wins. Latest is decided
by the criteria of ``supersede`` in order (configurable): the 填报日期 written in the tables,
then the file's modification time (whole seconds), then a 更正/修改 mark in the file name.
The others are superseded (D604, info; their own findings are dropped by the pipeline).
When no criterion tells two filings apart, the first by file name is kept and the other
gets D601 (error): the bureau has to say which one counts.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from ..catalog import Bi, make_finding
from ..values import normalize

__all__ = ["CRITERIA", "supersede", "duplicates", "check"]

CRITERIA = ("date", "mtime", "mark")
_MARK = re.compile(r"更正|修改|修正|更新|修订|corrected|revised", re.I)
_WHY = {
    "date": lambda b: Bi(f"填报日期 {b.filed} 较晚", f"later 填报日期 {b.filed}"),
    "mtime": lambda b: Bi("文件修改时间较晚", "the file was saved later"),
    "mark": lambda b: Bi("文件名标明更正", "its name marks a correction"),
}


def _rank(book, criteria) -> tuple:
    key = []
    for c in criteria:
        if c == "date":
            key.append(book.filed.toordinal() if book.filed else 0)
        elif c == "mtime":
            try:
                key.append(int(os.stat(book.path).st_mtime))
            except OSError:
                key.append(0)
        elif c == "mark":
            key.append(1 if _MARK.search(Path(book.file).stem) else 0)
    return tuple(key)


def supersede(books, criteria=CRITERIA) -> None:
    """Mark every filing of a unit and year but the latest as superseded (in place)."""
    unknown = set(criteria) - set(CRITERIA)
    if unknown:
        raise ValueError(f"supersede: unknown criteria {', '.join(sorted(unknown))} (use {', '.join(CRITERIA)})")
    groups: dict[tuple[str, object], list] = defaultdict(list)
    for book in books:
        if book.tables:
            groups[(normalize(book.unit), book.year)].append(book)
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda b: b.file)
        ranks = {id(b): _rank(b, criteria) for b in group}
        kept = max(group, key=lambda b: ranks[id(b)])  # the first by name among equals
        for book in group:
            if book is kept:
                continue
            book.superseded_by = kept.file
            differs = next((c for c, mine, theirs in zip(criteria, ranks[id(book)], ranks[id(kept)]) if mine != theirs), None)
            book.superseded_why = differs or ""


def check(ctx):
    by_file = {b.file: b for b in ctx.books}
    for book in ctx.books:
        if not book.superseded_by:
            continue
        if book.superseded_why:
            yield make_finding("D604", book.file, None, None, unit=book.unit, year=book.year or "?", other=book.superseded_by,
                               why=_WHY[book.superseded_why](by_file[book.superseded_by]))
        else:
            yield make_finding("D601", book.file, None, None, unit=book.unit, year=book.year or "?", other=book.superseded_by)



def duplicates(books) -> dict[int, int]:
    """Position of each superseded filing -> position of the filing kept (what the rollup leaves out)."""
    position = {b.file: i for i, b in enumerate(books)}
    return {i: position[b.superseded_by] for i, b in enumerate(books) if b.superseded_by}
