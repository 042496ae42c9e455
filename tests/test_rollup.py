"""The rollup workbook, read back with openpyxl and calamine and checked against totals
recomputed here from the units' own figures."""

from __future__ import annotations

import random
import re

import pytest
from click.testing import CliRunner

from xlsxcheck.cli import cli
from xlsxcheck.samples import Layout, make_unit, render, unit_canvases

DEPTS = ("市住建局", "市交通局")


@pytest.fixture
def bureau(tmp_path):
    """Six units of two departments, one with errors, one named like a formula."""
    rng = random.Random(11)
    folder = tmp_path / "units"
    folder.mkdir()
    specs = []
    names = ["市第一服务中心", "市第二服务中心", "市第三服务中心", "市第四管理站", '=HYPERLINK("http://x","点我")', "市第六中心"]
    for i, name in enumerate(names):
        spec = make_unit(rng, name, DEPTS[i % 2], 1 + i % 3, mistakes=("control_rate",) if i == 3 else ())
        render(unit_canvases(spec, Layout(merge=i % 2 == 0)), folder / f"unit{i}.xlsx")
        specs.append(spec)
    return folder, specs


def _overall(spec):
    budget = round(spec.basic + sum(p.total.budget for p in spec.projects), 2)
    executed = round(spec.basic + sum(p.total.executed for p in spec.projects), 2)
    return budget, executed


def rollup(folder, out, *extra):
    res = CliRunner().invoke(cli, ["rollup", str(folder), "-o", str(out), "-q", *map(str, extra)])
    assert res.exit_code in (0, 1), res.output
    from openpyxl import load_workbook

    return res, load_workbook(out)


def _range_sum(ws, formula: str) -> float:
    m = re.fullmatch(r"=SUBTOTAL\(9,([A-Z]+)(\d+):([A-Z]+)(\d+)\)", formula)
    assert m, formula
    col, first, last = m.group(1), int(m.group(2)), int(m.group(4))
    total = 0.0
    for r in range(first, last + 1):
        v = ws[f"{col}{r}"].value
        if isinstance(v, (int, float)) and not str(ws[f"A{r}"].value or "").endswith("小计"):
            total += v
    return total


def test_every_unit_and_project_once_and_totals_add_up(bureau, tmp_path):
    folder, specs = bureau
    _, wb = rollup(folder, tmp_path / "汇总.xlsx")
    assert wb.sheetnames == ["单位汇总", "项目汇总", "指标明细", "基础数据", "问题清单", "统计"]
    ws = wb["单位汇总"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    units = [r[0] for r in rows if r[0] and not str(r[0]).endswith(("小计", "合计"))]
    assert sorted(units) == sorted(s.unit for s in specs)
    total_row = next(i for i, r in enumerate(rows, start=2) if r[0] == "合计")
    budget_f, executed_f = ws[f"F{total_row}"].value, ws[f"G{total_row}"].value
    assert budget_f.startswith("=SUBTOTAL(9,") and executed_f.startswith("=SUBTOTAL(9,")
    assert ws[f"H{total_row}"].value == f'=IF(F{total_row}=0,"",G{total_row}/F{total_row})'
    expect_budget = sum(_overall(s)[0] for s in specs)
    expect_executed = sum(_overall(s)[1] for s in specs)
    assert _range_sum(ws, budget_f) == pytest.approx(expect_budget)
    assert _range_sum(ws, executed_f) == pytest.approx(expect_executed)
    subtotals = [r[0] for r in rows if r[0] and str(r[0]).endswith("小计")]
    assert sorted(subtotals) == sorted(f"{d} 小计" for d in DEPTS)
    projects = wb["项目汇总"]
    names = [(r[0], r[2]) for r in projects.iter_rows(min_row=2, values_only=True) if r[0] and r[0] != "合计"]
    assert sorted(names) == sorted((s.unit, p.name) for s in specs for p in s.projects)
    assert len(names) == len(set(names))
    indicators = wb["指标明细"].max_row - 1
    assert indicators == sum(len(s.overall_indicators) + sum(len(p.indicators) for p in s.projects) for s in specs)
    findings = list(wb["问题清单"].iter_rows(min_row=2, values_only=True))
    assert [(f[0], f[4]) for f in findings] == [("市第四管理站", "B401")]


def test_formula_like_unit_name_stays_text(bureau, tmp_path):
    folder, _ = bureau
    out = tmp_path / "汇总.xlsx"
    _, wb = rollup(folder, out)
    cell = next(c for c in wb["单位汇总"]["A"] if isinstance(c.value, str) and "HYPERLINK" in c.value)
    assert cell.data_type == "s"
    import python_calamine as pc

    sheet = pc.CalamineWorkbook.from_path(str(out)).get_sheet_by_name("单位汇总").to_python()
    assert '=HYPERLINK("http://x","点我")' in [r[0] for r in sheet]


def test_exclude_errors_and_registry(bureau, tmp_path):
    folder, specs = bureau
    registry = tmp_path / "名录.csv"
    import csv

    with registry.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["单位名称", "主管部门", "上级单位"])
        w.writerows([s.unit, s.department, "市政府"] for s in specs if s.unit != "市第六中心")
        w.writerow(["市未报送站", "市交通局", "市政府"])
    res, wb = rollup(folder, tmp_path / "汇总.xlsx", "--exclude-errors", "--registry", registry)
    ws = wb["单位汇总"]
    rows = list(ws.iter_rows(values_only=True))
    total_at = next(i for i, r in enumerate(rows) if r[0] == "合计")
    counted = [r[0] for r in rows[1:total_at] if r[0] and not str(r[0]).endswith("小计")]
    assert "市第四管理站" not in counted and len(counted) == 5
    excluded = [r for r in rows[total_at + 1:] if r[0] == "市第四管理站"]
    assert excluded and "有错误" in excluded[0][14]
    missing = {(r[0], r[2]) for r in wb["未报送"].iter_rows(min_row=2, values_only=True)}
    assert ("市未报送站", "名录内单位，未报送") in missing
    assert any(u == "市第六中心" and "不在名录" in why for u, why in missing)
    assert "未报送 1" in res.output


def test_duplicate_unit_counted_once(tmp_path):
    from conftest import SAMPLES
    import shutil

    for name in ("a.xlsx", "b.xlsx"):
        shutil.copy(SAMPLES / "03_株洲市住房公积金服务中心.xlsx", tmp_path / name)
    _, wb = rollup(tmp_path, tmp_path / "out" / "汇总.xlsx")
    rows = list(wb["单位汇总"].iter_rows(values_only=True))
    total_at = next(i for i, r in enumerate(rows) if r[0] == "合计")
    assert [r[0] for r in rows[1:total_at]].count("株洲市住房公积金服务中心") == 1
    assert any("重复报送" in str(r[14]) for r in rows[total_at + 1:])


def test_statistics_sheet_has_charts_and_grade_counts(bureau, tmp_path):
    folder, specs = bureau
    _, wb = rollup(folder, tmp_path / "汇总.xlsx")
    ws = wb["统计"]
    assert len(ws._charts) == 2
    assert ws["B2"].value == '=COUNTIF(\'单位汇总\'!$J$2:$J$' + ws["B2"].value.split("$J$")[2]
    bands = {ws[f"A{r}"].value: ws[f"B{r}"].value for r in range(8, 13)}
    assert sum(bands.values()) == len(specs)


def test_rollup_refuses_non_xlsx_output(bureau, tmp_path):
    folder, _ = bureau
    res = CliRunner().invoke(cli, ["rollup", str(folder), "-o", str(tmp_path / "汇总.csv")])
    assert res.exit_code == 2


def test_rollup_rows_are_kept_only_when_the_rollup_asks(bureau, tmp_path):
    """`check` leaves indicator rows and base data out of the summaries its workers send
    back; a rollup of such a run is refused rather than written with empty detail sheets."""
    from xlsxcheck.pipeline import Options, run
    from xlsxcheck.rollup import write_rollup

    folder, specs = bureau
    plain = run([str(folder)], Options(jobs=2))
    assert all(not b.indicator_rows and not b.base for b in plain.books)
    assert [b.projects for b in plain.books] == [len(s.projects) for s in specs]  # counts stay
    with pytest.raises(ValueError, match="rollup_rows"):
        write_rollup(plain, tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()
    full = run([str(folder)], Options(jobs=2, rollup_rows=True))
    rows = [len(b.indicator_rows) for b in full.books]
    assert rows == [sum(len(p.indicators) for p in s.projects) + len(s.overall_indicators) for s in specs]
    assert all(b.base for b in full.books)
