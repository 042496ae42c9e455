"""D601 and D604: one unit and year filed more than once in the batch.

A unit that corrects its workbook sends it again; the latest filing wins. Latest is decided
by the criteria of ``supersede`` in order (configurable): the 填报日期 written in the tables,
then the file's modification time (whole seconds), then a 更正/修改 mark in the file name.
The others are superseded (D604, info; their own findings are dropped by the pipeline).
When no criterion tells two filings apart, the first by file name is kept and the other
gets D601 (error): the bureau has to say which one counts.

Two workbooks of one unit and year are two versions of one filing only when they overlap:
both hold the whole-unit or the base table, or both hold a project of the same name. A unit
that files each project in a workbook of its own sends parts of one filing, not versions.
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
    for unit_year in groups.values():
        for group in _versions(unit_year):
            _keep_latest(group, criteria)


def _versions(books: list) -> list[list]:
    """The books of one unit and year in groups of versions of the same filing (overlapping
    tables), each group in file-name order."""
    def parts(book) -> set[str]:
        return {k for k in book.kinds if k != "project"} | {"project:" + normalize(p.name) for p in book.project_rows}

    groups: list[tuple[set[str], list]] = []
    for book in sorted(books, key=lambda b: b.file):
        mine = parts(book) or {""}  # a workbook whose parts are unknown overlaps any other
        joined = [g for g in groups if g[0] & mine or "" in g[0] or mine == {""}]
        merged = (set(mine), [book])
        for g in joined:
            merged[0].update(g[0])
            merged[1].extend(g[1])
            groups.remove(g)
        groups.append(merged)
    return [sorted(members, key=lambda b: b.file) for _, members in groups if len(members) > 1]


def _keep_latest(group: list, criteria) -> None:
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
