"""The real-filings corpus itself: every transcription loads, is well formed, and builds to a
workbook that calamine reads back cell for cell. (The extraction tests on it live elsewhere.)"""

from __future__ import annotations

import re

import pytest
from openpyxl.utils.cell import coordinate_from_string, column_index_from_string, range_boundaries
from python_calamine import CalamineWorkbook

from realfilings import FUNDS_COLUMNS, TABLE_KINDS, all_specs, build_workbook, load

SPECS = all_specs()


def _rc(ref: str) -> tuple[int, int]:
    col, row = coordinate_from_string(ref)
    return row - 1, column_index_from_string(col) - 1


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_filing_is_well_formed_and_round_trips(path, tmp_path):
    assert re.fullmatch(r"\d\d_[^_]+_.+", path.stem), f"{path.name}: name is not NN_<province>_<unit>"
    spec = load(path)
    assert str(spec["source"]).startswith("http"), path.name
    sheets = {s["name"]: s for s in spec["sheets"]}
    assert len(sheets) == len(spec["sheets"]), f"{path.name}: duplicate sheet names"

    expected = spec["expected"]
    assert expected["tables"], f"{path.name}: no expected tables"
    for table in expected["tables"]:
        assert table["kind"] in TABLE_KINDS, (path.name, table)
        assert table["sheet"] in sheets, (path.name, table["sheet"])
        for row_key, cols in (table.get("funds") or {}).items():
            assert re.fullmatch(r"[a-z][a-z0-9_]*", row_key), (path.name, row_key)
            assert set(cols) <= set(FUNDS_COLUMNS), (path.name, row_key, set(cols) - set(FUNDS_COLUMNS))
    for mistake in expected.get("mistakes") or []:
        assert mistake["sheet"] in sheets and mistake["what"], (path.name, mistake)
        r, c = _rc(mistake["cell"])  # may be an empty cell: "not filled" is a real mistake too
        assert r < len(sheets[mistake["sheet"]]["rows"]) and c < 26, (path.name, mistake["cell"])

    out = build_workbook(spec, tmp_path / f"{path.stem}.xlsx")
    book = CalamineWorkbook.from_path(str(out))
    assert book.sheet_names == list(sheets), path.name
    for name, sheet in sheets.items():
        read = book.get_sheet_by_name(name)
        grid = read.to_python(skip_empty_area=False)
        rows = sheet["rows"]
        for r in range(max(len(rows), len(grid))):
            want = list(rows[r] or []) if r < len(rows) else []
            got = list(grid[r]) if r < len(grid) else []
            for c in range(max(len(want), len(got))):
                w = want[c] if c < len(want) else None
                g = got[c] if c < len(got) else ""
                assert w != "", f"{path.name}!{name} row {r + 1}: write null, not an empty string"
                if w is None:
                    assert g == "", f"{path.name}!{name} R{r + 1}C{c + 1}: {g!r} where the filing is empty"
                elif isinstance(w, str):
                    assert g == w, f"{path.name}!{name} R{r + 1}C{c + 1}: {g!r} != {w!r}"
                else:
                    assert isinstance(g, (int, float)) and g == pytest.approx(w), (
                        f"{path.name}!{name} R{r + 1}C{c + 1}: {g!r} != {w!r}")
        want_merges = set()
        for rng in sheet.get("merged") or []:
            c0, r0, c1, r1 = range_boundaries(rng)
            want_merges.add(((r0 - 1, c0 - 1), (r1 - 1, c1 - 1)))
        got_merges = {tuple(map(tuple, m)) for m in (read.merged_cell_ranges or [])}
        assert got_merges == want_merges, f"{path.name}!{name}: merged ranges differ"
