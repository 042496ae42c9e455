"""Extraction: every value with the exact cell it came from, in every supported layout."""

import datetime as dt

import pytest
from conftest import LAYOUTS, SAMPLES, SEED_TEXT, UnitBuilder, a1_to_rc

from xlsxcheck.extract import extract_workbook
from xlsxcheck.samples import _seed_rows
from xlsxcheck.values import clean_text


def _all_values(book):
    for t in book.tables:
        for name, v in t.fields.items():
            yield t, name, v
        for i in t.indicators:
            for name in ("level1", "level2", "level3", "target", "actual", "weight", "score", "reason"):
                yield t, f"ind.{name}", getattr(i, name)
        for item in t.base_items:
            yield t, f"base.{item.key}.label", item.label
            for col, v in item.columns.items():
                yield t, f"base.{item.key}.{col}", v
        for exp, act in t.goals:
            yield t, "goal", exp
            yield t, "goal", act


def test_seed_every_value_comes_from_its_cell(seed_book):
    """Each extracted value is what the seed filing holds at the cell the value names."""
    tables = _seed_rows(SEED_TEXT)
    checked = 0
    for _t, name, v in _all_values(seed_book):
        if not v.cell:
            continue
        ti = int(v.sheet.removeprefix("Sheet")) - 1
        r, c = a1_to_rc(v.cell)
        text = tables[ti][r][c] if r < len(tables[ti]) and c < len(tables[ti][r]) else ""
        if name in ("date", "filer") or name.startswith(("income_", "expense_")):
            assert clean_text(v.raw).replace(" ", "") in text.replace(" ", ""), (name, v)
        elif name in ("year", "title_unit", "title"):
            assert v.raw == text
        elif v.status == "blank":
            assert clean_text(text) in ("", "—"), (name, v, text)
        else:
            shown = clean_text(text)
            assert shown == clean_text(v.raw) or float(shown.rstrip("%")) / (100 if shown.endswith("%") else 1) == pytest.approx(v.raw), (name, v, text)
        checked += 1
    assert checked > 300


def test_seed_tables_and_key_values(seed_book):
    b = seed_book
    assert (b.unit, b.year) == ("株洲市保障性住房服务中心", 2023)
    assert [t.table_id for t in b.tables] == ["B1", "O1", "P1", "P2"]
    base, overall, p1, p2 = b.tables
    f = base.fields
    assert [(f[k].value, f[k].cell) for k in ("staff.authorized", "staff.actual")] == [(18, "B3"), (29, "C3")]
    assert (f["staff.control_rate"].value, f["staff.control_rate"].cell) == (pytest.approx(1.7778), "D3")
    assert (f["sangong.budget"].value, f["sangong.budget"].cell) == (0, "C5")
    assert (f["reception.budget"].value, f["reception.budget"].cell) == (1, "C10")
    assert (f["project.final"].value, f["project.final"].cell) == (1894.22, "D11")
    assert [i.label.cell for i in base.base_items if i.parent == "project"] == ["A12", "A13", "A14", "A15", "A16"]
    assert (f["date"].value, f["date"].cell) == (dt.date(2024, 4, 15), "A28")

    o = overall.fields
    assert {k: (o[k].value, o[k].cell) for k in ("funds_total.initial", "funds_total.budget", "funds_total.weight", "funds_total.score")} == {
        "funds_total.initial": (1068.21, "C4"), "funds_total.budget": (3243.37, "D4"),
        "funds_total.weight": (10, "F4"), "funds_total.score": (10, "H4")}
    assert (o["funds_total.executed"].status, o["funds_total.executed"].raw, o["funds_total.executed"].cell) == ("invalid", "3243..37", "E4")
    assert (o["funds_total.rate"].value, o["funds_total.rate"].cell) == (pytest.approx(0.10), "G4")
    assert (o["expense_basic"].value, o["expense_basic"].cell, o["expense_project"].status) == (3243.37, "C6", "blank")
    assert [(o[k].value, o[k].cell) for k in ("score_total.weight", "score_total.score")] == [(100, "G29"), (94, "H29")]
    assert len(overall.indicators) == 12
    first = overall.indicators[0]
    assert (first.level1_key, first.level1_weight, first.level1.cell, first.weight.cell, first.score.cell) == ("output", 40, "B15", "G15", "H15")
    sat = next(i for i in overall.indicators if i.level1_key == "satisfaction")
    assert (sat.level1.raw, sat.target_parsed.comparator, sat.target_parsed.number, sat.reason.raw) == ("满意度（10分）", ">=", 95, "让住户更满意")

    p = p1.fields
    assert (p["project_name"].value, p["project_name"].cell) == ("保障性住房维护管理费用", "B2")  # label split: 项目支 / 出名称
    assert (p["implementer"].value, p["implementer"].cell) == ("株洲市保障性住房服务中心", "D4")  # label "实施\n单位"
    assert [(p[f"carryover.{c}"].value, p[f"carryover.{c}"].cell) for c in ("initial", "budget", "executed")] == [
        (1100, "C8"), (981.22, "D8"), (981.22, "E8")]
    assert (p["funds_total.rate"].value, p["funds_total.rate"].cell) == (pytest.approx(0.89), "G10")
    assert len(p1.indicators) == 10
    qual = next(i for i in p1.indicators if i.level3.raw == "维修验收合格率")
    assert (qual.actual.raw, qual.actual_parsed.status, qual.actual.cell) == ("98%1", "invalid", "F19")
    sat = next(i for i in p1.indicators if i.level1_key == "satisfaction")
    assert sat.level1_weight == 10  # "满意度指标（10分" with no closing bracket
    assert p["date"].value == dt.date(2023, 4, 20)

    q = p2.fields
    assert (q["department"].value, q["funds_total.budget"].value, q["funds_total.budget"].raw) == ("株洲市逐渐和城乡建设局机关", 913, "913万元")
    assert [(q[k].value, q[k].status, q[k].cell) for k in ("score_total.weight", "score_total.score")] == [(98, "ok", "G26"), (None, "blank", "H26")]
    assert len(p2.indicators) == 7
    assert [i.level1_key for i in p2.indicators].count("output") == 4


def test_seed_unparseable_values_reported_with_their_cells(seed_book):
    found = {(f.code, f.sheet, f.cell, f.actual) for f in seed_book.findings}
    assert found == {("R007", "Sheet2", "E4", "3243..37"), ("R007", "Sheet3", "F19", "98%1")}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layouts_extract_the_spec_values_at_their_cells(tmp_path, name):
    layout, suffix = LAYOUTS[name]
    ub = UnitBuilder(tmp_path, layout, suffix, n_projects=4)
    book, spec = ub.clean, ub.spec
    assert not book.findings, [f.message for f in book.findings]
    assert [t.kind for t in book.tables].count("project") == 4
    assert (book.unit, book.year, book.department) == (spec.unit, 2023, spec.department)
    projects = sorted(book.of_kind("project"), key=lambda t: t.fields["project_name"].value)
    for t, p in zip(projects, sorted(spec.projects, key=lambda p: p.name)):
        f = t.fields
        assert f["project_name"].value == p.name
        assert [f[f"funds_total.{c}"].value for c in ("initial", "budget", "executed")] == pytest.approx(
            [p.total.initial, p.total.budget, p.total.executed])
        assert f["funds_total.rate"].value == pytest.approx(p.total.executed / p.total.budget, abs=5e-5)
        assert [i.weight.value for i in t.indicators] == [i.weight for i in p.indicators]
        assert [i.level1_key for i in t.indicators] == [i.level1 for i in p.indicators]
        assert {i.level1_key: i.level1_weight for i in t.indicators} == {"output": 40, "benefit": 20, "satisfaction": 10, "cost": 20}
    base = book.of_kind("base")[0]
    assert (base.fields["staff.authorized"].value, base.fields["staff.actual"].value) == spec.staff
    # The cell each value names holds exactly the value written there.
    canvases = dict(ub.sheets)
    for t, _name, v in _all_values(book):
        if not v.cell or v.raw is None:
            continue
        written = canvases[v.sheet].cells.get(a1_to_rc(v.cell))
        assert written is not None and (written == v.raw or str(v.raw) in str(written)), (t.table_id, _name, v, written)


def test_offset_tables_keep_absolute_cell_references(tmp_path):
    """A sheet whose used range starts at C4: references are absolute, not relative to it."""
    layout, suffix = LAYOUTS["offset-merged-fraction-fullwidth"]
    book = UnitBuilder(tmp_path, layout, suffix).clean
    base = book.of_kind("base")[0]
    assert base.fields["title"].cell == "C4"
    assert (base.fields["staff.authorized"].cell, base.fields["staff.control_rate"].cell) == ("D6", "F6")
    p1 = book.of_kind("project")[0]
    assert p1.fields["funds_total.budget"].cell == "F9"  # below a header split over rows 7-8, columns C..J
    first = p1.indicators[0]
    assert (first.level1.cell, first.weight.cell) == ("D17", "I17")
    assert all(i.level1.cell == "D17" for i in p1.indicators if i.level1_key == "output")  # merged vertically


def test_stacked_tables_on_one_sheet_are_separated(tmp_path):
    layout, suffix = LAYOUTS["one-sheet-extra-column-unclosed-bracket"]
    book = UnitBuilder(tmp_path, layout, suffix).clean
    assert len({t.sheet for t in book.tables}) == 1
    rows = [(t.first_row, t.last_row) for t in book.tables]
    assert all(a[1] < b[0] for a, b in zip(rows, rows[1:]))


def test_shipped_samples_extract_without_reading_findings():
    for path in sorted(p for p in SAMPLES.glob("[01][0-9]_*.xls*") if not p.name.startswith("01_")):  # workbooks, not reports
        book = extract_workbook(path)
        assert book.tables and not book.findings, (path.name, [f.message for f in book.findings])


def test_a_level1_header_merged_over_the_level2_header_is_still_read(tmp_path):
    """一级指标 merged sideways over 二级指标 (the merge keeps only 一级指标): the first indicator
    row looks like the names of a group header's columns, but the indicators are read, with
    their level-1 labels from the label's own column (the reader once failed on it: R099)."""
    import openpyxl

    layout, suffix = LAYOUTS["numbered-sheets-one-row-headers-text-amounts"]
    ub = UnitBuilder(tmp_path, layout, suffix, n_projects=1)
    project = ub.clean.of_kind("project")[0]
    row, col = a1_to_rc(project.indicators[0].level1.cell)  # the first indicator row, 0-based
    wb = openpyxl.load_workbook(ub.clean_path)
    ws = wb[project.sheet]
    header = next(r for r in range(row, 0, -1) if ws.cell(r, col + 1).value == "一级指标")
    ws.merge_cells(start_row=header, start_column=col + 1, end_row=header, end_column=col + 2)
    path = tmp_path / f"merged{suffix}"
    wb.save(path)
    book = extract_workbook(path)
    assert not [f for f in book.findings if f.code in ("R099", "R017")], [f.message for f in book.findings]
    merged = next(t for t in book.of_kind("project") if t.sheet == project.sheet)
    assert [i.level1.cell for i in merged.indicators] == [i.level1.cell for i in project.indicators]
    assert [i.level1_key for i in merged.indicators] == [i.level1_key for i in project.indicators]
    assert [i.score.value for i in merged.indicators] == [i.score.value for i in project.indicators]


@pytest.mark.parametrize("plans_on", [True, False])
def test_cells_merged_down_indicator_rows_read_on_each_row_from_the_merge_s_first_cell(tmp_path, plans_on):
    """A 偏差原因 and a 二级指标 merged down two indicator rows (one reason for both, as real
    filings write it): each row reads the merge's text, with the merge's first cell as its
    cell; the row below a merge reads its own cells again. Alike with plans and without."""
    import openpyxl

    from xlsxcheck.extract import use_plans

    layout, suffix = LAYOUTS["numbered-sheets-one-row-headers-text-amounts"]
    ub = UnitBuilder(tmp_path, layout, suffix, n_projects=2)
    wb = openpyxl.load_workbook(ub.clean_path)
    merged_at = {}
    for project in ub.clean.of_kind("project"):
        first, second, third = project.indicators[:3]
        ws = wb[project.sheet]
        (r1, rc), (r2, _) = a1_to_rc(first.reason.cell), a1_to_rc(second.reason.cell)
        ws.cell(r1 + 1, rc + 1).value = "资金拨付延迟，两项均受影响"
        ws.merge_cells(start_row=r1 + 1, start_column=rc + 1, end_row=r2 + 1, end_column=rc + 1)
        lr, lc = a1_to_rc(first.level2.cell)
        ws.cell(lr + 1, lc + 1).value = "数量指标（合并）"
        ws.merge_cells(start_row=lr + 1, start_column=lc + 1, end_row=a1_to_rc(second.level3.cell)[0] + 1, end_column=lc + 1)
        merged_at[project.sheet] = (first.reason.cell, first.level2.cell, third)
    path = tmp_path / f"merged{suffix}"
    wb.save(path)
    use_plans(plans_on)
    try:
        books = [extract_workbook(path) for _ in range(3)]  # plans are made on the first sheets seen
    finally:
        use_plans(True)
    for book in books:
        for project in book.of_kind("project"):
            reason_cell, level2_cell, third = merged_at[project.sheet]
            first, second, below = project.indicators[:3]
            assert [(i.reason.raw, i.reason.cell) for i in (first, second)] == [("资金拨付延迟，两项均受影响", reason_cell)] * 2
            assert [(i.level2.raw, i.level2.cell) for i in (first, second)] == [("数量指标（合并）", level2_cell)] * 2
            assert (below.reason.cell, below.level3.raw) == (third.reason.cell, third.level3.raw)
