"""Extraction plans (xlsxcheck/plans.py) give exactly what reading every sheet in full gives.

The reference is the reader with plans off (XLSXCHECK_PLANS=0, extract.use_plans(False)).
Every workbook is read three times with plans on: the first time its layouts are new (read in
full), the second time their plans are made, the third time they are used. Each reading must
equal the reference, and plans must really have been used, or the test proves nothing.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import SAMPLES
from realfilings import all_specs, build_workbook, load
from xlsxcheck import plans
from xlsxcheck.extract import _kind_labels, extract_workbook, plan_counts, read_sheet, use_plans
from xlsxcheck.reading import Grid, read_grids
from xlsxcheck.samples import MISTAKES, Layout, make_unit, render, unit_canvases, varied_indicators


@pytest.fixture(autouse=True)
def fresh_plans():
    plans.forget()
    yield
    use_plans(True)
    plans.forget()


def _reference(path: Path):
    use_plans(False)
    try:
        return extract_workbook(path)
    finally:
        use_plans(True)


def _same_three_times(paths: list[Path]) -> int:
    """Read each workbook three times with plans; each time equal to the reference. Returns
    the number of tables read by a plan."""
    reference = [_reference(p) for p in paths]
    before = plan_counts()[0]
    for _ in range(3):
        for path, ref in zip(paths, reference):
            got = extract_workbook(path)
            assert got == ref, path.name
    return plan_counts()[0] - before


_LAYOUTS = [Layout(), Layout(top=2, left=1, merge=True, rate_style="fraction", fullwidth=True, bracket="（{w}分）"),
            Layout(numbered_sheets=True, split_headers=False, rate_style="number", amounts_as_text=True),
            Layout(one_sheet=True, extra_column=True, bracket="({w}分")]


def _generated(tmp_path: Path, n: int, varied: bool = False) -> list[Path]:
    """Units of every generated layout (sizes, merges, numbering, one sheet), with mistakes;
    ``varied``: each table with indicator rows of its own, as real filings of one template."""
    out = []
    for i in range(n):
        rng = random.Random(i)
        mistakes = tuple(rng.sample(MISTAKES, 2)) if i % 3 == 0 else ()
        spec = make_unit(rng, f"测试{i}号单位", "测试主管部门", 1 + i % 4, mistakes=mistakes,
                         indicators=varied_indicators if varied else None)
        out.append(render(unit_canvases(spec, _LAYOUTS[i % len(_LAYOUTS)], rng), tmp_path / f"{'v' if varied else 'u'}{i}.xlsx"))
    return out


def test_samples_read_alike_with_plans():
    paths = sorted(SAMPLES.glob("*.xlsx"))
    assert _same_three_times(paths) > 0


def test_real_filings_read_alike_with_plans(tmp_path):
    paths = [build_workbook(load(spec), tmp_path / f"{spec.stem}.xlsx") for spec in all_specs()]
    assert _same_three_times(paths) > 0


def test_generated_units_read_alike_with_plans(tmp_path):
    paths = _generated(tmp_path, 24)
    hits = _same_three_times(paths)
    # Units of one layout share their plans: most tables of the second and third readings.
    assert hits >= sum(len(_reference(p).tables) for p in paths)


# --- values written to trip the plans up -------------------------------------------------------

def _labels() -> list[str]:
    return sorted(plans._vocabulary().labels)  # every label of every template


_PIECES = st.sampled_from(_labels()).flatmap(
    lambda lab: st.tuples(st.integers(0, len(lab) - 1), st.integers(1, len(lab))).map(lambda ij: lab[min(ij): max(ij)] or lab))
_WORDS = st.sampled_from(["张三", "保障性住房", "完成", "1234.56", "95%", "≥", "2023年", "2023年度", "(2022年度)", "40分", "（元）",
                          "(万元)", "万元", "元)", ":", "：", "其中:", "1、", "（一）", " ", "\n", "/", "-", "无", "#N/A", "总分",
                          "填表人", "填报日期:", "备注", "说明", "合计", "编制数", "执行率", "年", "数", "值", "A", "x"])
_TEXTS = st.lists(st.one_of(_WORDS, _PIECES, st.text(min_size=1, max_size=4)), min_size=1, max_size=4).map("".join)
_VALUES = st.one_of(_TEXTS, st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), st.just(True))


def _with(grid: Grid, changes: dict[tuple[int, int], object]) -> Grid:
    """The grid with some cells' contents replaced (as calamine would have given them)."""
    rows = [list(line) for line in grid.rows]
    for (r, c), v in changes.items():
        rows[r - grid.start[0]][c - grid.start[1]] = v
    return Grid(grid.name, rows, grid.start, grid.merged)


_GRIDS: list[Grid] = []


@pytest.fixture(scope="module")
def sheets(tmp_path_factory) -> list[Grid]:
    """Every sheet of the samples and of the real filings, as the reader gets them."""
    if not _GRIDS:
        folder = tmp_path_factory.mktemp("real")
        paths = sorted(SAMPLES.glob("*.xlsx")) + [build_workbook(load(s), folder / f"{s.stem}.xlsx") for s in all_specs()]
        _GRIDS.extend(g for p in paths for g in read_grids(p, p.name)[0])
    return _GRIDS




def _check_changed(grid: Grid, changes: dict) -> bool:
    """The plan of the grid's layout applied (or refused) to the grid with ``changes`` gives
    the full reading; True when the plan was used."""
    plans.sheet_tables(grid)
    plans.sheet_tables(grid)  # the second sighting of a layout makes its plan
    changed = _with(grid, changes)
    before = plan_counts()[0]
    got, want = plans.sheet_tables(changed), read_sheet(changed)
    assert got == want, (changes, _difference(got, want))
    return plan_counts()[0] > before


def _difference(got, want) -> list[str]:
    """What differs between two readings of a sheet, part by part (for the failure message)."""
    out = [f"{len(got)} tables against {len(want)}"] if len(got) != len(want) else []
    for (a, pa), (b, pb) in zip(got, want):
        for part in a.__slots__:
            x, y = getattr(a, part), getattr(b, part)
            if part == "fields":
                out += [f"{k}: {x.get(k)} / {y.get(k)}" for k in {*x, *y} if x.get(k) != y.get(k)]
            elif part == "indicators":
                out += [f"{i} / {j}" for i, j in zip(x, y) if i != j] + ([f"{len(x)} / {len(y)} indicators"] if len(x) != len(y) else [])
            elif x != y:
                out.append(f"{part}: {x} / {y}")
        if pa != pb:
            out.append(f"problems: {pa} / {pb}")
    return out


_SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@settings(max_examples=300, **_SLOW)
@given(data=st.data())
def test_any_value_reads_alike_with_plans(sheets, data):
    """Write anything into the cells a layout stands in for (labels, pieces of labels, colons,
    years, weights, blanks, errors, numbers of any kind) and read the sheet with the plan of
    its original layout: the result must be the full reading's, plan or no plan."""
    grid = data.draw(st.sampled_from(sheets), label="sheet")
    spots = sorted(plans._layout(grid).values)
    cells = data.draw(st.lists(st.sampled_from(spots), min_size=1, max_size=6, unique=True), label="cells") if spots else []
    _check_changed(grid, {k: data.draw(_VALUES, label=f"value at {k}") for k in cells})


@settings(max_examples=300, **_SLOW)
@given(data=st.data())
def test_anything_in_the_value_part_of_a_label_cell_reads_alike(sheets, data):
    """Titles, footers and "单位名称:…" cells keep their labels and stand in for the rest: write
    anything where the rest was ("填表人:{…} 填报日期:{…}", "{…}项目支出绩效自评表") and the
    plan, if it still applies, must give the full reading."""
    masked = [(g, k, v) for g in sheets for k, v in plans._layout(g).cells.items()
              if isinstance(v, str) and plans._FILL in v and plans._FILL != v and g.cells[k] != v]
    grid, k, stand_in = data.draw(st.sampled_from(masked), label="label cell")
    runs = stand_in.split(plans._FILL)
    filled = runs[0] + "".join(data.draw(_TEXTS, label=f"run {i}") + rest for i, rest in enumerate(runs[1:]))
    _check_changed(grid, {k: filled.replace(plans._FILL, "")})


_DIGITS = st.sampled_from(["0", "7", "3136.78", "2024.4.8", "00200", "３", "①", "²", "٣", "0.5", "19", "20"])


@settings(max_examples=1500, deadline=None)
@given(parts=st.lists(st.one_of(_WORDS, _PIECES, _DIGITS, st.sampled_from(["第", "号", "分", "附件", "年", "(", ")"])),
                      min_size=1, max_size=7), keep_ends=st.booleans())
def test_a_mask_made_from_the_text_with_its_digits_made_0_is_the_texts_own(parts, keep_ends):
    """_mask takes the mask of the text with its digits made 0 where that mask keeps no digit
    (a unit's new numbers reuse it): it must be the mask worked out from the text itself."""
    raw = "".join(parts)
    first = plans._first_mask(raw, keep_ends)
    assert plans._mask(raw, keep_ends) == (None if first is None else plans._settled(*first)), raw


def test_values_of_other_filings_read_alike_and_use_the_plans(sheets):
    """The same with values as other filings wrote them (names, amounts, targets, dates taken
    from every sample sheet where they stand in alike): each reading equals the full one, and
    the plans are used."""
    rng = random.Random(7)
    grids = sheets
    alike: dict[object, list] = {}  # stand-in -> every value it stands for
    for g in grids:
        layout = plans._layout(g)
        for k in layout.values:
            alike.setdefault((layout.cells[k], type(layout.cells[k])), []).append(g.cells[k])
    planned = 0
    for _ in range(300):
        grid = rng.choice(grids)
        layout = plans._layout(grid)
        spots = sorted(layout.values)
        if not spots:
            continue
        changes = {k: rng.choice(alike[(layout.cells[k], type(layout.cells[k]))]) for k in rng.sample(spots, min(len(spots), 8))}
        planned += _check_changed(grid, changes)
    assert planned >= 200, planned


def test_plans_off_reads_every_sheet_in_full(tmp_path):
    paths = _generated(tmp_path, 4)
    use_plans(False)
    before = plan_counts()
    for _ in range(3):
        for p in paths:
            extract_workbook(p)
    assert plan_counts() == before


def test_a_number_stands_in_only_for_numbers_of_its_type(sheets):
    """True == 1 == 1.0 in Python: a layout tells them apart, and NaN stays itself."""
    grid = next(g for g in sheets if any(type(v) is float for v in g.cells.values()))
    k = next(k for k, v in grid.cells.items() if type(v) is float and v == v)
    keys = {plans._layout(_with(grid, {k: v})).key for v in (2.5, 7.0, 1, True, math.nan)}
    assert len(keys) == 4  # 2.5 and 7.0 alike; 1, True and NaN each apart


def test_json_report_alike_with_plans(tmp_path):
    """The whole report, not just the extraction: every sample, real filing and generated unit,
    each filed three times (so that a worker sees its layouts again), checked with plans on and
    off in one worker gives the same JSON."""
    import shutil

    from xlsxcheck.pipeline import Options, run
    from xlsxcheck.report.machine import to_json

    folder = tmp_path / "filings"
    folder.mkdir()
    made = [build_workbook(load(spec), tmp_path / f"{spec.stem}.xlsx") for spec in all_specs()]
    for path in [*sorted(SAMPLES.glob("*.xlsx")), *made, *_generated(tmp_path, 12), *_generated(tmp_path, 8, varied=True)]:
        for copy in ("", "-2", "-3"):
            shutil.copy(path, folder / f"{path.stem}{copy}.xlsx")
    reports = [to_json(run([str(folder)], Options(jobs=1, plans=on))) for on in (True, False)]
    assert reports[0] == reports[1]
    assert '"R' in reports[0] and len(reports[0]) > 10_000  # findings were made: the comparison has content


def test_real_filings_of_other_units_share_their_layouts(tmp_path):
    """A template filed by two units has one layout: the unit's name differs in titles and in
    label cells that hold it ("项目单位(盖章):黄石市第三中学 主要领导签字:"), nothing else."""
    import copy

    for spec_path in all_specs():
        spec = load(spec_path)
        unit = spec["expected"]["unit"]
        layouts = []
        for prefix in ("第00007号", "第00029号测试"):
            varied = copy.deepcopy(spec)
            for sheet in varied["sheets"]:
                for row in sheet.get("rows") or []:
                    for c, v in enumerate(row or []):
                        if isinstance(v, str):
                            row[c] = v.replace(unit, prefix + unit)
            path = build_workbook(varied, tmp_path / f"{prefix}{spec_path.stem}.xlsx")
            layouts.append([plans._layout(g).key for g in read_grids(path, path.name)[0]])
        assert layouts[0] == layouts[1], spec_path.stem


def test_sheets_of_one_layout_share_its_plan_whatever_their_names(tmp_path):
    """The reader reads nothing from a sheet's name: sheets named "项目1" in one filing and
    after their projects in another share their layouts' plans, and each value read by a plan
    names the sheet it is on."""
    rng = random.Random(7)
    canvases = unit_canvases(make_unit(rng, "测试单位", "测试主管部门", 3), Layout(), rng)
    first = render(canvases, tmp_path / "a.xlsx")
    renamed = render([(f"{name}（{i}号项目）", canvas) for i, (name, canvas) in enumerate(canvases)], tmp_path / "b.xlsx")
    want = _reference(renamed)
    extract_workbook(first)
    extract_workbook(first)  # the second sighting of each layout makes its plan
    before = plan_counts()
    got = extract_workbook(renamed)
    assert got == want
    assert plan_counts()[0] - before[0] == len(want.tables) and plan_counts()[1] == before[1]
    assert {v.sheet for t in got.tables for v in t.fields.values()} == {t.sheet for t in got.tables}
    assert all("号项目" in t.sheet for t in got.tables)


def test_a_huge_sheet_is_read_in_full_and_no_layout_of_it_is_kept(sheets):
    """A sheet far larger than any unit's (a hostile or odd file) is never laid out: its layout
    would be kept whole, over and over."""
    base = max(sheets, key=lambda g: len(g.rows))
    width = max(map(len, base.rows))
    rows = [list(line) + [""] * (width - len(line)) for line in base.rows]
    rows += [[float(i)] * width for i in range(plans._MAX_CELLS // width + 1)]
    huge = Grid(base.name, rows, base.start, base.merged)
    assert huge.n_rows * huge.n_cols > plans._MAX_CELLS
    before = plan_counts()
    for _ in range(3):
        assert plans.sheet_tables(huge) == read_sheet(huge)
    assert plan_counts()[0] == before[0] and not plans._seen and not plans._guarded


# --- banded plans: one template, other indicator rows ------------------------------------------

def test_filings_with_other_indicator_rows_are_read_by_plans(tmp_path):
    """Units of one template whose tables differ in their indicator rows (1-3 rows a 二级指标
    group, groups left out: a layout of their own nearly every table), each read once: after
    the first few, their tables are read by a plan, whatever their indicator rows, and each
    reading equals the full one."""
    paths = _generated(tmp_path, 40, varied=True)
    separate = [p for i, p in enumerate(paths) if i % len(_LAYOUTS) != 3]  # one table a sheet
    reference = [_reference(p) for p in separate]
    before = plan_counts()
    planned_rows = set()
    for path, ref in zip(separate, reference):
        hits = plan_counts()[0]
        got = extract_workbook(path)
        assert got == ref, path.name
        if plan_counts()[0] - hits == len(got.tables):
            planned_rows |= {(t.kind, len(t.indicators)) for t in got.tables}
    hits, misses = (a - b for a, b in zip(plan_counts(), before))
    assert hits >= 0.6 * (hits + misses), (hits, misses)  # (about 10% without banded plans)
    assert len({n for kind, n in planned_rows if kind == "project"}) >= 4  # tables of many lengths by plans


def _banded_sheets(tmp_path_factory) -> list[Grid]:
    folder = tmp_path_factory.mktemp("varied")
    paths = _generated(folder, 16, varied=True)
    return [g for p in paths for g in read_grids(p, p.name)[0]]


_VARIED: list[Grid] = []


@pytest.fixture(scope="module")
def varied_sheets(tmp_path_factory) -> list[Grid]:
    if not _VARIED:
        _VARIED.extend(_banded_sheets(tmp_path_factory))
    return _VARIED


def _with_rows(grid: Grid, rows: list[list], merged: list) -> Grid:
    return Grid(grid.name, rows, grid.start, merged)


def _banded_plan(grid: Grid) -> list[tuple[int, int]]:
    """(first row, the row that ends them) of the grid's indicator rows, with a banded plan made
    from the grid where it allows one (seen, then seen again with one indicator row more)."""
    plans.sheet_tables(grid)
    found: list = []
    read_sheet(grid, None, found)
    if not found:
        return []
    r0 = grid.start[0]
    _, start, end, _, _ = found[0]
    rows = [list(x) for x in grid.rows]
    rows.insert(end - r0, [""] * len(rows[0]))  # a row more, empty: another layout of the template
    moved = [((a + (a >= end), b), (c + (c >= end), d)) for a, b, c, d in grid.merged_ranges()]
    plans.sheet_tables(_with_rows(grid, rows, moved))
    return [(start, end) for _, start, end, _, _ in found]


@settings(max_examples=300, **_SLOW)
@given(data=st.data())
def test_anything_in_or_around_indicator_rows_reads_alike(varied_sheets, data):
    """With a banded plan made, change a sheet's indicator rows: insert and delete rows, write
    anything (labels, pieces of labels, colons, years, weights, blanks, numbers) into them and
    the rows next to them, merge cells in and across them. The plan, if it still applies, gives
    the full reading."""
    plans.forget()  # each example from no plans: the same example reads the same when replayed
    grid = data.draw(st.sampled_from(varied_sheets), label="sheet")
    bands = _banded_plan(grid)
    if not bands:
        return
    start, end = data.draw(st.sampled_from(bands), label="band")
    r0, c0 = grid.start
    rows = [list(x) for x in grid.rows]
    merged = [((a, b), (c, d)) for a, b, c, d in grid.merged_ranges()]
    width = len(rows[0])
    for _ in range(data.draw(st.integers(0, 3), label="inserts")):
        at = data.draw(st.integers(start, end), label="insert at")
        rows.insert(at - r0, list(rows[data.draw(st.integers(start, end - 1), label="copy of") - r0]))
        merged = [((a + (a >= at), b), (c + (c >= at), d)) for (a, b), (c, d) in merged]
        end += 1
    if end - start > 1 and data.draw(st.booleans(), label="delete"):
        at = data.draw(st.integers(start, end - 1), label="delete at")
        del rows[at - r0]
        merged = [((a - (a > at), b), (c - (c > at), d)) for (a, b), (c, d) in merged if not a <= at <= c]
        end -= 1
    for _ in range(data.draw(st.integers(0, 4), label="writes")):
        r = data.draw(st.integers(max(r0, start - 3), min(r0 + len(rows) - 1, end + 1)), label="row")
        c = data.draw(st.integers(c0, c0 + width - 1), label="col")
        rows[r - r0][c - c0] = data.draw(_VALUES, label=f"value at {(r, c)}")
    if data.draw(st.booleans(), label="split label"):  # a label's two parts, one above the other
        anchors = sorted(_kind_labels()[3])  # where a table starts: a label found there changes most
        label = data.draw(st.sampled_from([lab for lab in anchors + _labels() if len(lab) > 1]), label="label")
        k = data.draw(st.integers(1, len(label) - 1), label="split at")
        r = data.draw(st.integers(max(r0, start - 2), min(r0 + len(rows) - 2, end)), label="split row")
        c = data.draw(st.integers(c0, c0 + width - 1), label="split col")
        rows[r - r0][c - c0], rows[r + 1 - r0][c - c0] = label[:k], data.draw(st.sampled_from([label[k:], label[k:] + "完成"]))
    if data.draw(st.booleans(), label="merge"):
        a = data.draw(st.integers(max(r0, start - 2), min(r0 + len(rows) - 1, end + 1)), label="merge top")
        c = data.draw(st.integers(c0, c0 + width - 2), label="merge col")
        merged.append(((a, c), (a + data.draw(st.integers(0, 2)), c + data.draw(st.integers(0, 1)))))
    changed = _with_rows(grid, rows, merged)
    want = read_sheet(changed)
    got = plans.sheet_tables(changed)
    assert got == want, _difference(got, want)


def test_indicator_rows_of_other_filings_use_the_banded_plan(varied_sheets):
    """Each sheet's indicator rows put into another sheet of its template (the rows around them
    that sheet's): read by the banded plan, as the full reading reads it."""
    rng = random.Random(11)
    by_family: dict = {}
    for g in varied_sheets:
        found: list = []
        read_sheet(g, None, found)
        if len(found) == 1:
            by_family.setdefault((g.name, g.start, g.n_cols), []).append((g, found[0][1], found[0][2]))
    pairs = [(a, b) for group in by_family.values() for a in group for b in group if a is not b]
    assert len(pairs) >= 20
    used = 0
    for (g, start, end), (other, o_start, o_end) in rng.sample(pairs, 40):
        _banded_plan(g)
        r0 = g.start[0]
        rows = [list(x) for x in g.rows[: start - r0]] + [list(x) for x in other.rows[o_start - r0: o_end - r0]] + [list(x) for x in g.rows[end - r0:]]
        shift = (o_end - o_start) - (end - start)
        merged = [((a, b), (c, d)) for a, b, c, d in g.merged_ranges() if c < start]
        merged += [((a + shift, b), (c + shift, d)) for a, b, c, d in g.merged_ranges() if a >= end]
        merged += [((a - o_start + start, b), (c - o_start + start, d)) for a, b, c, d in other.merged_ranges() if o_start <= a and c < o_end]
        mixed = _with_rows(g, rows, merged)
        before = plan_counts()[0]
        got, want = plans.sheet_tables(mixed), read_sheet(mixed)
        assert got == want, _difference(got, want)
        used += plan_counts()[0] > before
    assert used >= 30, used
