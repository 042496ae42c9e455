"""Fixtures: real workbooks built in tmp_path with the sample generator, and the samples."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from xlsxcheck.extract import extract_workbook
from xlsxcheck.model import Value, Workbook
from xlsxcheck.samples import Canvas, Layout, make_unit, render, unit_canvases

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_workbooks"
SEED_TEXT = (SAMPLES / "seed_tables.txt").read_text(encoding="utf-8")

# Every layout the reader supports, each one a variation a unit has really sent.
LAYOUTS: dict[str, tuple[Layout, str]] = {
    "plain": (Layout(), ".xlsx"),
    "offset-merged-fraction-fullwidth": (Layout(top=3, left=2, merge=True, rate_style="fraction", fullwidth=True, bracket="（{w}分）"), ".xlsx"),
    "numbered-sheets-one-row-headers-text-amounts": (Layout(numbered_sheets=True, split_headers=False, rate_style="number", amounts_as_text=True), ".xlsx"),
    "one-sheet-extra-column-unclosed-bracket": (Layout(one_sheet=True, extra_column=True, bracket="({w}分"), ".xlsx"),
    "legacy-xls-merged": (Layout(merge=True, top=1), ".xls"),
}


def a1_to_rc(ref: str) -> tuple[int, int]:
    m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    assert m, ref
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def locate(book: Workbook, selector: tuple) -> Value:
    """("P1", "funds_total.rate") or ("P1", "ind", 0, "score"): the Value a test edits or expects."""
    table = next(t for t in book.tables if t.table_id == selector[0])
    if selector[1] == "ind":
        _, _, index, name = selector
        ind = table.indicators[index] if isinstance(index, int) else next(i for i in table.indicators if i.level1_key == index)
        return getattr(ind, name)
    return table.fields[selector[1]]


class UnitBuilder:
    """Builds a unit workbook in a layout, then rebuilds it with some cells changed."""

    def __init__(self, tmp_path: Path, layout: Layout, suffix: str, n_projects: int = 3, seed: int = 7) -> None:
        self.tmp_path, self.layout, self.suffix, self.seed = tmp_path, layout, suffix, seed
        self.spec = make_unit(random.Random(seed), "测试市测试服务中心", "测试市住房和城乡建设局", n_projects)
        self.sheets = unit_canvases(self.spec, layout, random.Random(seed))
        self.clean_path = render(self.sheets, tmp_path / f"clean{suffix}")
        self.clean = extract_workbook(self.clean_path)

    def edit(self, edits: list[tuple[tuple, Callable[[Any], Any]]], name: str = "edited") -> Path:
        canvases: dict[str, Canvas] = {n: c for n, c in self.sheets}
        changed = []
        for selector, fn in edits:
            v = locate(self.clean, selector)
            rc = a1_to_rc(v.cell)
            cv = canvases[v.sheet]
            changed.append((cv, rc, cv.cells.get(rc)))
            new = fn(cv.cells.get(rc))
            if new in (None, ""):
                cv.cells.pop(rc, None)
            else:
                cv.cells[rc] = new
        path = render(self.sheets, self.tmp_path / f"{name}{self.suffix}")
        for cv, rc, old in changed:  # leave the clean canvases as they were
            if old is None:
                cv.cells.pop(rc, None)
            else:
                cv.cells[rc] = old
        return path


@pytest.fixture(params=list(LAYOUTS), ids=list(LAYOUTS))
def layout_builder(request, tmp_path) -> UnitBuilder:
    layout, suffix = LAYOUTS[request.param]
    return UnitBuilder(tmp_path, layout, suffix)


@pytest.fixture(scope="session")
def seed_book() -> Workbook:
    return extract_workbook(SAMPLES / "01_株洲市保障性住房服务中心_原报.xlsx")
