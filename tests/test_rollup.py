"""The rollup workbook, read back as its readers see it: calamine and pandas (the cached values
of its formulas), openpyxl (the formulas, print setup and links), the package's own XML (charts,
document properties); totals are checked against figures recomputed here from the units' specs."""

from __future__ import annotations

import csv
import math
import random
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlsxcheck.cli import cli
from xlsxcheck.samples import Layout, make_unit, render, unit_canvases

DEPTS = ("市住建局", "市交通局")


def _unit(folder: Path, rng, name: str, dept: str, n_projects: int, file: str, mistakes=(), merge=False, projects_only=False):
    spec = make_unit(rng, name, dept, n_projects, mistakes=mistakes)
    sheets = unit_canvases(spec, Layout(merge=merge))
    if projects_only:  # a filing of project tables only, as most published filings are
        sheets = [(n, c) for n, c in sheets if n.startswith("项目")]
    render(sheets, folder / file)
    return spec


@pytest.fixture
def bureau(tmp_path):
    """Six units of two departments, one with errors, one named like a formula."""
    rng = random.Random(11)
    folder = tmp_path / "units"
    folder.mkdir()
    names = ["市第一服务中心", "市第二服务中心", "市第三服务中心", "市第四管理站", '=HYPERLINK("http://x","点我")', "市第六中心"]
    specs = [_unit(folder, rng, name, DEPTS[i % 2], 1 + i % 3, f"unit{i}.xlsx", ("control_rate",) if i == 3 else (), i % 2 == 0)
             for i, name in enumerate(names)]
    return folder, specs


def _overall(spec):
    budget = round(spec.basic + sum(p.total.budget for p in spec.projects), 2)
    executed = round(spec.basic + sum(p.total.executed for p in spec.projects), 2)
    return budget, executed


def rollup(folder, out, *extra):
    res = CliRunner().invoke(cli, ["rollup", str(folder), "-o", str(out), "-q", *map(str, extra)])
    assert res.exit_code in (0, 1), res.output
    return res


def values(path, sheet: str) -> list[dict]:
    """A sheet as calamine reads it (formulas as their cached values), rows as {header: value}."""
    import python_calamine as pc

    rows = pc.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    head = 1 if sheet not in ("基础数据", "Base data") else 2
    return [dict(zip(rows[head - 1], r)) for r in rows[head:]]


def formulas(path):
    from openpyxl import load_workbook

    return load_workbook(path)


def _units_listed(rows: list[dict]) -> list[str]:
    return [r["单位"] for r in rows if r["单位"] and r["来源文件"]]


@pytest.mark.parametrize("streamed", [False, True], ids=["in-memory", "streamed"])
def test_totals_read_back_in_calamine_and_pandas(bureau, tmp_path, monkeypatch, streamed):
    """Every formula carries its value: readers that do not compute (calamine, pandas, previewers)
    see the totals, and Excel/LibreOffice see live SUBTOTAL formulas over the unit rows. The same
    whether the rows were kept until the end or streamed to disk (a province-sized run)."""
    import pandas as pd

    monkeypatch.setattr("xlsxcheck.rollup.STREAM_ROWS", 0 if streamed else 10**9)
    folder, specs = bureau
    out = tmp_path / "汇总.xlsx"
    rollup(folder, out)
    wb = formulas(out)
    assert wb.sheetnames == ["单位汇总", "项目汇总", "指标明细", "基础数据", "问题清单", "统计"]
    rows = values(out, "单位汇总")
    assert sorted(_units_listed(rows)) == sorted(s.unit for s in specs)
    expect_budget = sum(_overall(s)[0] for s in specs)
    expect_executed = sum(_overall(s)[1] for s in specs)
    total = next(r for r in rows if r["单位"] == "合计")
    assert total["全年预算数"] == pytest.approx(expect_budget)
    assert total["全年执行数"] == pytest.approx(expect_executed)
    assert total["执行率"] == pytest.approx(expect_executed / expect_budget)
    assert total["项目数"] == sum(len(s.projects) for s in specs)
    for engine in ("openpyxl", "calamine"):
        frame = pd.read_excel(out, sheet_name="单位汇总", engine=engine)
        assert frame.loc[frame["单位"] == "合计", "全年执行数"].iloc[0] == pytest.approx(expect_executed)
    subtotals = {r["单位"]: r for r in rows if str(r["单位"]).endswith("小计")}
    assert set(subtotals) == {f"{d} 小计" for d in DEPTS}
    for d in DEPTS:
        assert subtotals[f"{d} 小计"]["全年预算数"] == pytest.approx(sum(_overall(s)[0] for s in specs if s.department == d))
    # The formulas behind the values: SUBTOTAL over the unit rows, the rate as a ratio of totals.
    ws = wb["单位汇总"]
    col = {c.value: c.column_letter for c in ws[1]}
    at = next(c.row for c in ws["A"] if c.value == "合计")
    b, e = col["全年预算数"], col["全年执行数"]
    assert ws[f"{b}{at}"].value == f"=SUBTOTAL(9,{b}2:{b}{at - 1})"
    assert ws[f"{col['执行率']}{at}"].value == f'=IF(N({b}{at})=0,"",{e}{at}/{b}{at})'
    assert ws[f"{col['执行率']}2"].value == pytest.approx(ws[f"{e}2"].value / ws[f"{b}2"].value)

    projects = values(out, "项目汇总")
    names = [(r["单位"], r["项目名称"]) for r in projects if r["单位"] != "合计"]
    assert sorted(names) == sorted((s.unit, p.name) for s in specs for p in s.projects)
    ptotal = next(r for r in projects if r["单位"] == "合计")
    assert ptotal["全年预算数"] == pytest.approx(sum(p.total.budget for s in specs for p in s.projects))
    indicators = values(out, "指标明细")
    assert len(indicators) == sum(len(s.overall_indicators) + sum(len(p.indicators) for p in s.projects) for s in specs)
    findings = values(out, "问题清单")
    assert [(f["单位"], f["代码"]) for f in findings] == [("市第四管理站", "B401")]


def test_each_finding_names_its_cell(bureau, tmp_path):
    folder, _ = bureau
    out = tmp_path / "汇总.xlsx"
    rollup(folder, out)
    (finding,) = values(out, "问题清单")
    assert re.fullmatch(r"[^!]+![A-Z]+\d+", finding["位置"]) and finding["文件"] == "unit3.xlsx"


def test_formula_like_unit_name_stays_text(bureau, tmp_path):
    folder, _ = bureau
    out = tmp_path / "汇总.xlsx"
    rollup(folder, out)
    cell = next(c for c in formulas(out)["单位汇总"]["A"] if isinstance(c.value, str) and "HYPERLINK" in c.value)
    assert cell.data_type == "s"
    assert '=HYPERLINK("http://x","点我")' in _units_listed(values(out, "单位汇总"))


def test_registry_order_and_exclude_errors_on_every_sheet(bureau, tmp_path):
    folder, specs = bureau
    registry = tmp_path / "名录.csv"
    listed = [s for s in reversed(specs) if s.unit != "市第六中心"]  # neither pinyin nor file order
    with registry.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["单位名称", "主管部门", "上级单位"])
        w.writerows([s.unit, s.department, "市政府"] for s in listed)
        w.writerow(["市未报送站", "市交通局", "市政府"])
    out = tmp_path / "汇总.xlsx"
    res = rollup(folder, out, "--exclude-errors", "--registry", registry)
    rows = values(out, "单位汇总")
    at = next(i for i, r in enumerate(rows) if r["单位"] == "合计")
    counted = _units_listed(rows[:at])
    kept = [s for s in listed if s.unit != "市第四管理站"]
    # Registry order within each department, departments in the order the registry first names them.
    # 市第六中心 is not in the registry: after the registered units of its department.
    first = kept[0].department
    assert counted == [s.unit for s in kept if s.department == first] + [s.unit for s in kept if s.department != first] + ["市第六中心"]
    assert {r["上级单位"] for r in rows[:at] if r["来源文件"] and r["单位"] != "市第六中心"} == {"市政府"}
    excluded = [r for r in rows[at + 1:] if r["单位"] == "市第四管理站"]
    assert excluded and "有错误" in excluded[0]["状态"]
    # --exclude-errors applies to every sheet but the findings: the unit's projects leave 项目汇总
    # and its totals, its indicators and base data leave theirs.
    projects = values(out, "项目汇总")
    assert "市第四管理站" not in {r["单位"] for r in projects}
    total = next(r for r in projects if r["单位"] == "合计")
    assert total["全年执行数"] == pytest.approx(sum(p.total.executed for s in specs if s.unit != "市第四管理站" for p in s.projects))
    assert "市第四管理站" not in {r["单位"] for r in values(out, "指标明细")}
    assert "市第四管理站" not in {r["单位"] for r in values(out, "基础数据")}
    assert "B401" in {r["代码"] for r in values(out, "问题清单") if r["单位"] == "市第四管理站"}
    missing = {(r["单位"], r["情况"]) for r in values(out, "未报送")}
    assert ("市未报送站", "名录内单位，未报送") in missing
    assert any(u == "市第六中心" and "不在名录" in why for u, why in missing)
    assert "未报送 1" in res.output


def test_units_in_registry_order_everywhere(tmp_path):
    rng = random.Random(3)
    folder = tmp_path / "units"
    folder.mkdir()
    names = ["市丙中心", "市甲中心", "市乙中心"]
    for i, name in enumerate(names):
        _unit(folder, rng, name, "市住建局", 1, f"u{i}.xlsx", mistakes=("control_rate",))
    registry = tmp_path / "名录.csv"
    order = ["市乙中心", "市丙中心", "市甲中心"]
    registry.write_text("单位名称,主管部门\n" + "".join(f"{u},市住建局\n" for u in order), encoding="utf-8")
    out = tmp_path / "汇总.xlsx"
    rollup(folder, out, "--registry", registry)
    assert _units_listed(values(out, "单位汇总")) == order
    for sheet in ("项目汇总", "指标明细", "基础数据", "问题清单"):
        seen = [r["单位"] for r in values(out, sheet) if r["单位"] in names]
        assert list(dict.fromkeys(seen)) == order, sheet


def test_units_by_department_then_pinyin_in_every_sheet(tmp_path):
    """Without a registry: 主管部门, then the unit's name, both by pinyin (安 an < 北 bei < 长 chang
    < 大 da), not by code point (北 5317 < 大 5927 < 安 5B89 < 长 957F)."""
    rng = random.Random(5)
    folder = tmp_path / "units"
    folder.mkdir()
    units = [("大通站", "长沙市局"), ("安康站", "北京市局"), ("长城站", "北京市局"), ("北塔站", "北京市局"), ("安平站", "长沙市局")]
    for i, (name, dept) in enumerate(units):
        _unit(folder, rng, name, dept, 1, f"u{i}.xlsx", mistakes=("control_rate",))
    out = tmp_path / "汇总.xlsx"
    rollup(folder, out)
    expected = ["安康站", "北塔站", "长城站", "安平站", "大通站"]
    rows = values(out, "单位汇总")
    assert _units_listed(rows) == expected
    assert [r["单位"] for r in rows if str(r["单位"]).endswith("小计")] == ["北京市局 小计", "长沙市局 小计"]
    for sheet in ("项目汇总", "指标明细", "基础数据", "问题清单"):
        seen = [r["单位"] for r in values(out, sheet) if r["单位"] and r["单位"] != "合计"]
        assert list(dict.fromkeys(seen)) == expected, sheet


def test_pinyin_sort_key_is_pypinyins_tone3_reading():
    """The sort key: pypinyin's TONE3 reading of the text (phrases by their own reading, tone 5
    for the neutral tone, ü as v, text without a reading as it is, casefolded), the text itself
    last; made from pypinyin's tone-mark style one syllable at a time, it must be the same."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.constants import PHRASES_DICT

    from conftest import SAMPLES
    from xlsxcheck.rollup import _pinyin

    assert _pinyin("长沙银行") == ("chang2", "sha1", "yin2", "hang2", "\x00长沙银行")
    assert _pinyin("重庆绿地ABC1号的")[:-1] == ("chong2", "qing4", "lv4", "di4", "abc1", "hao4", "de5")
    texts = ["（株洲）市住建局", "女儿", "Ａ座", "〇", "𠀀", "x长城12"] + [p.stem for p in SAMPLES.iterdir()]
    texts += [p for i, p in enumerate(PHRASES_DICT) if i % 200 == 0]
    for text in texts:
        reading = tuple(p.casefold() for p in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
        assert _pinyin(text) == (*reading, "\x00" + text), text


def test_duplicate_unit_counted_once(tmp_path):
    from conftest import SAMPLES

    for name in ("a.xlsx", "b.xlsx"):
        shutil.copy(SAMPLES / "03_株洲市住房公积金服务中心.xlsx", tmp_path / name)
    out = tmp_path / "out" / "汇总.xlsx"
    rollup(tmp_path, out)
    rows = values(out, "单位汇总")
    at = next(i for i, r in enumerate(rows) if r["单位"] == "合计")
    assert _units_listed(rows[:at]).count("株洲市住房公积金服务中心") == 1
    assert any("重复报送" in str(r["状态"]) for r in rows[at + 1:])
    assert len({r["项目名称"] for r in values(out, "项目汇总") if r["单位"] != "合计"}) == len(values(out, "项目汇总")) - 1


def test_a_correction_supersedes_the_original_in_the_rollup(tmp_path):
    from conftest import SAMPLES

    for name in ("01_株洲市保障性住房服务中心_原报.xlsx", "02_株洲市保障性住房服务中心_更正.xlsx"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    out = tmp_path / "out" / "汇总.xlsx"
    rollup(tmp_path, out)
    rows = values(out, "单位汇总")
    at = next(i for i, r in enumerate(rows) if r["单位"] == "合计")
    assert [r["来源文件"] for r in rows[:at] if r["来源文件"]] == ["02_株洲市保障性住房服务中心_更正.xlsx"]
    (original,) = [r for r in rows[at + 1:] if r["来源文件"]]
    assert original["状态"].startswith("已被更正") and "02_" in original["状态"]


def test_project_only_filing_counts_with_the_sum_of_its_projects(tmp_path):
    rng = random.Random(8)
    folder = tmp_path / "units"
    folder.mkdir()
    whole = _unit(folder, rng, "市整体中心", "市住建局", 2, "a.xlsx")
    only = _unit(folder, rng, "市项目中心", "市住建局", 3, "b.xlsx", projects_only=True)
    out = tmp_path / "汇总.xlsx"
    rollup(folder, out)
    rows = {r["单位"]: r for r in values(out, "单位汇总")}
    assert rows["市整体中心"]["数据来源"] == "整体表"
    assert rows["市整体中心"]["全年预算数"] == pytest.approx(_overall(whole)[0])
    p = rows["市项目中心"]
    assert p["数据来源"] == "项目表合计"
    for column, field in (("年初预算数", "initial"), ("全年预算数", "budget"), ("全年执行数", "executed")):
        assert p[column] == pytest.approx(sum(getattr(x.total, field) for x in only.projects))
    assert rows["合计"]["全年执行数"] == pytest.approx(_overall(whole)[1] + sum(x.total.executed for x in only.projects))


def test_statistics_are_formulas_with_their_counts(bureau, tmp_path):
    folder, specs = bureau
    out = tmp_path / "汇总.xlsx"
    rollup(folder, out)
    wb = formulas(out)
    ws = wb["统计"]
    col = {c.value: c.column_letter for c in wb["单位汇总"][1]}
    stats = values(out, "统计")
    assert [r["等级"] for r in stats[:6]] == ["优", "良", "中", "差", "无总分", "合计"]
    f, g = col["来源文件"], col["等级"]
    assert re.fullmatch(rf"=COUNTIFS\('单位汇总'!\${f}\$2:\${f}\$\d+,\"<>\",'单位汇总'!\${g}\$2:\${g}\$\d+,\"优\"\)", ws["B2"].value)
    assert stats[5]["单位数"] == sum(r["单位数"] for r in stats[:5]) == len(specs)
    bands = {r["等级"]: r["单位数"] for r in stats[8:14]}
    assert list(bands) == ["<60%", "60%-80%", "80%-90%", "90%-100%", "≥100%", "无法计算"]
    rates = [e / b for b, e in map(_overall, specs)]
    assert bands["90%-100%"] == sum(0.9 <= r < 1 for r in rates) and sum(bands.values()) == len(specs)
    assert stats[14]["单位数"] == len(specs)
    for r in range(2, 16):
        if ws[f"B{r}"].value is not None and r not in (8, 9):
            assert str(ws[f"B{r}"].value).startswith("="), f"B{r} is typed, not a formula"
    with zipfile.ZipFile(out) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 2
    for xml in charts:  # whole units on the axis: a whole step and no decimals
        val_ax = xml[xml.index("<c:valAx>"):]
        assert re.search(r'<c:majorUnit val="\d+"/>', val_ax) and 'formatCode="0"' in val_ax


def test_print_ready_sheets(bureau, tmp_path):
    folder, _ = bureau
    out = tmp_path / "汇总.xlsx"
    rollup(folder, out)
    wb = formulas(out)
    for ws in wb.worksheets:
        assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape", ws.title
        assert ws.print_title_rows in ("$1:$1", "$1:$2", "1:1", "1:2"), ws.title
        assert "&P" in ws.oddFooter.right.text and "&N" in ws.oddFooter.right.text
        assert re.search(r"\d{4}-\d{2}-\d{2}", ws.oddFooter.left.text)
        if ws.title != "基础数据":
            assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)  # 1 when absent
            assert ws.page_setup.fitToHeight == 0
    base = wb["基础数据"]
    assert base.print_title_cols in ("$A:$A", "A:A") and base.row_breaks is not None
    units = wb["单位汇总"]
    head = {c.value: c.column_letter for c in units[1]}
    assert units.column_dimensions[head["完整路径"]].hidden
    assert units[f"{head['来源文件']}2"].value == "unit1.xlsx" or units[f"{head['来源文件']}2"].value.endswith(".xlsx")
    assert "/" not in units[f"{head['来源文件']}2"].value
    assert units[f"{head['完整路径']}2"].value.endswith(units[f"{head['来源文件']}2"].value)
    assert units[f"{head['等级']}2"].alignment.horizontal == "center"
    assert units[f"{head['自评总分']}2"].number_format == "0.00"
    assert units[f"{head['全年预算数']}2"].number_format == "#,##0.00"
    assert units[f"{head['执行率']}2"].number_format == "0.00%"
    assert units[f"{head['单位']}2"].alignment.wrap_text
    projects = wb["项目汇总"]
    assert {projects.cell(r, 8).number_format for r in range(2, projects.max_row)} == {"0.00"}
    # Headers that wrap get a row tall enough for them.
    assert wb["基础数据"].row_dimensions[2].height >= 2 * 12


def test_rollup_is_marked_as_xlsxcheck_output(bureau, tmp_path):
    """A rollup written into the checked folder is never read back as a filing."""
    import json

    from xlsxcheck.own_outputs import own_output_kind

    folder, specs = bureau
    out = folder / "汇总.xlsx"
    rollup(folder, out)
    with zipfile.ZipFile(out) as z:
        custom = z.read("docProps/custom.xml").decode()
    assert re.search(r'name="xlsxcheck-output".*?<vt:lpwstr>rollup</vt:lpwstr>', custom, re.S)
    assert own_output_kind(out) == "rollup"
    res = CliRunner().invoke(cli, ["check", str(folder), "--format", "json", "-q"])
    assert json.loads(res.stdout)["summary"]["files"] == len(specs)


def test_links_to_the_annotated_copies(bureau, tmp_path):
    folder, specs = bureau
    out = tmp_path / "out" / "汇总.xlsx"
    copies = tmp_path / "批注"
    rollup(folder, out, "--annotate", copies)
    wb = formulas(out)
    units = wb["单位汇总"]
    head = {c.value: c.column_letter for c in units[1]}
    linked = {}
    for r in range(2, units.max_row + 1):
        cell = units[f"{head['批注副本']}{r}"]
        if cell.hyperlink is not None:  # relative, with Windows separators as Excel writes them
            linked[units[f"A{r}"].value] = cell.hyperlink.target.replace("\\", "/")
    assert set(linked) == {"市第四管理站"}  # the one unit with findings: clean units get no copy
    for target in linked.values():
        assert not Path(target).is_absolute() and (out.parent / target).resolve().is_file()
    finding = wb["问题清单"]["C2"]
    file, anchor = finding.hyperlink.target.replace("\\", "/"), finding.hyperlink.location
    target = f"{file}#{anchor}" if anchor else file
    path, where = target.split("#", 1)
    assert (out.parent / path).resolve() == (copies / "unit3.xlsx").resolve()
    assert where == "'" + finding.value.replace("!", "'!")


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


@pytest.mark.parametrize("streamed", [False, True], ids=["in-memory", "streamed"])
def test_lean_cell_writer_writes_what_xlsxwriter_writes(tmp_path, streamed):
    """The rollup's leaner writer (rollup._worksheet_class: rows made into XML when stored) must
    write exactly what XlsxWriter's own writes, for every kind of cell it takes or passes on,
    cells written into a row after it was stored, row heights, and charts over stored rows; in
    the constant-memory mode too (rows streamed with inline strings)."""
    import xlsxwriter

    from xlsxcheck.rollup import _worksheet_class

    lean_class = _worksheet_class()
    assert lean_class is not xlsxwriter.worksheet.Worksheet and "made_rows" in vars(lean_class())  # the lean writer is in use
    parts = []
    for lean in (False, True):
        path = tmp_path / f"{'lean' if lean else 'plain'}.xlsx"
        wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "nan_inf_to_errors": True, "constant_memory": streamed})
        ws = wb.add_worksheet("s", worksheet_class=lean_class if lean else None)
        fmt, rate = wb.add_format({"text_wrap": True}), wb.add_format({"num_format": "0.00%"})
        same = wb.add_format({"text_wrap": True})  # the same properties as fmt: numbered as fmt
        lean_class.fix_formats([fmt, rate, same])
        late = wb.add_format({"bold": True})  # not numbered up front: XlsxWriter numbers it as it writes

        def put(r, cells, height=None):
            values, formats = [None] * 20, [None] * 20
            for col, v, f in cells:
                values[col], formats[col] = v, f
            if lean:
                ws.put_row(r, values, formats, height)
                return
            if height:
                ws.set_row(r, height)
            for col, v, f in sorted(cells, key=lambda cell: cell[0]):  # in column order, as put_row takes them
                if v != "":
                    (ws.write_string if isinstance(v, str) else ws.write_number)(r, col, v, f)

        ws.set_column(2, 2, 10, rate)
        for r in range(60):  # several blocks of 16 rows (spans)
            if r % 7 == 3:
                continue  # an empty row
            row = [(0, "", fmt), (11, f"项目{r}", fmt), (12, r * 1e9 + 0.1, rate), (13, 1e300 / (r + 1), same),
                   (14, f"单位<&>{r % 4}", fmt), (15, -7, rate), (16, "\x01 控制字符 ", fmt), (10, "\t_x0041_ 字面\"引号\"\n", fmt)][: 2 + r % 7]
            if r % 9 == 1:  # what needs XlsxWriter's own handling: a long string, NaN, infinity, a bool, a late format
                row.append([(17, "长" * 40000, fmt), (17, math.nan, rate), (17, -math.inf, rate), (17, True, fmt), (17, 5, late)][r % 5])
            if r % 11 == 2:
                ws.write_string(r, 1, "先写", fmt)  # a row with cells already: stored cell by cell
            put(r, row, 30 + r % 3 if r % 4 == 0 else None)
            if r % 5 == 0:  # written after the row was stored: before, inside (over a stored cell) and after its cells
                ws.write_string(r, 6, "=not a formula")
                ws.write_formula(r, 7, f"=B{r + 1}*2", rate, 2469 + r)
                ws.write_number(r, 11, 99, rate)
                ws.write_url(r, 20, "external:../批注/a.xlsx#'Sheet 1'!A1", string="批注副本")
        ws.set_row(5, 40)  # a taller row with cells
        ws.set_row(8, 20)  # set after a stored row's own height: this one counts
        ws.set_row(10, 30)  # and one without cells
        ws.merge_range(61, 8, 61, 10, "合并", fmt)
        ws.write_blank(62, 3, None, fmt)
        put(63, [])
        put(64, [(18, 1.5, None), (19, "无格式", None)])  # no format: the column's
        fresh = ws
        ws = wb.add_worksheet("t", worksheet_class=lean_class if lean else None)
        put(2, [(3, "第一行", fmt)], 25)  # the first row of a sheet, with a height: the sheet starts at A
        put(3, [(3, 0.5, rate)])
        ws = fresh
        chart = wb.add_chart({"type": "column"})  # cached categories and values read from stored rows
        chart.add_series({"categories": ["s", 0, 11, 20, 11], "values": ["s", 0, 12, 20, 12]})
        chart.add_series({"categories": ["s", 0, 14, 9, 14], "values": ["s", 0, 13, 9, 13]})
        ws.insert_chart("W17", chart)  # its size in rows depends on the stored rows' heights
        if lean and streamed:  # most rows took the lean path, the rest XlsxWriter's
            assert 30 < ws.streamed_rows < 50 and len(ws.made_rows) <= 1
        elif lean:
            assert 30 < len(ws.made_rows) < 50 and sum(1 for r in ws.table if ws.table[r] and r not in ws.made_rows) > 5
        wb.close()
        with zipfile.ZipFile(path) as z:
            parts.append({n: z.read(n) for n in z.namelist() if n.startswith("xl/") and not n.startswith("xl/theme")})
    assert parts[0].keys() == parts[1].keys()
    for name in parts[0]:
        assert parts[0][name] == parts[1][name], name


def test_every_indicator_names_its_source_cell(tmp_path):
    """The Hubei filing has no 得分 in its indicator rows: the source cell is then the indicator's
    own (三级指标) cell, never a bare sheet name."""
    from conftest import SAMPLES

    shutil.copy(SAMPLES / "10_黄石市第三中学_湖北.xlsx", tmp_path / "a.xlsx")
    out = tmp_path / "out" / "汇总.xlsx"
    rollup(tmp_path, out)
    cells = [r["来源单元格"] for r in values(out, "指标明细")]
    assert cells and all(re.fullmatch(r".+![A-Z]+\d+", c) for c in cells), cells


def test_rollup_is_deflated_at_the_quick_level(bureau, tmp_path):
    """zlib's default level cost a fifth of the writing: the rollup's parts are deflated at
    ZIP_LEVEL, and XlsxWriter's own ZipFile is as it was afterwards."""
    import zlib

    import xlsxwriter.workbook

    from xlsxcheck.rollup import ZIP_LEVEL

    folder, _ = bureau
    out = tmp_path / "汇总.xlsx"
    rollup(folder, out)
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile
    with zipfile.ZipFile(out) as z:
        info = z.getinfo("xl/worksheets/sheet3.xml")
        data = z.read(info)

    def deflated(level: int) -> int:
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        return len(c.compress(data) + c.flush())

    assert info.compress_size == deflated(ZIP_LEVEL) != deflated(zlib.Z_DEFAULT_COMPRESSION)


def _as_read(path: Path) -> dict:
    """Every sheet as its readers see it: calamine's values, and openpyxl's formulas, formats,
    links, merges, row heights and columns."""
    import python_calamine as pc
    from openpyxl import load_workbook

    book = pc.CalamineWorkbook.from_path(str(path))
    seen = {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}
    for ws in load_workbook(path).worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None or c.has_style:
                    f, a = c.font, c.alignment
                    cells[c.coordinate] = (c.value, c.number_format, f.b, f.u, f.color.rgb if f.color else None,
                                           a.horizontal, a.vertical, a.wrap_text, c.border.top.style, c.fill.fgColor.rgb,
                                           c.hyperlink.target if c.hyperlink else None)
        rows = {r: (d.height, d.hidden) for r, d in ws.row_dimensions.items() if d.height or d.hidden}
        cols = {k: (d.width, d.hidden) for k, d in ws.column_dimensions.items()}
        seen[ws.title, "openpyxl"] = cells, rows, cols, sorted(map(str, ws.merged_cells.ranges)), ws.print_area
    return seen


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("streamed", [False, True], ids=["in-memory", "streamed"])
def test_lean_writer_changes_nothing_a_reader_sees(tmp_path, monkeypatch, lang, streamed):
    """The rollup of the samples (with their annotated copies linked) written by the lean writer
    and by XlsxWriter's own code: the same values, formulas, formats, links and row heights,
    with the rows kept until the end and streamed to disk."""
    from conftest import SAMPLES

    import xlsxcheck.rollup as module

    monkeypatch.setattr(module, "STREAM_ROWS", 0 if streamed else 10**9)
    lean_class = module._worksheet_class()
    seen = []
    for cls in (lean_class, lean_class.__mro__[1]):  # the lean writer, then XlsxWriter's own under put_row
        monkeypatch.setattr(module, "_worksheet_class", lambda: cls)
        out = tmp_path / cls.__name__ / "汇总.xlsx"
        rollup(SAMPLES, out, "--annotate", tmp_path / cls.__name__ / "批注", "--lang", lang)
        seen.append(_as_read(out))
    assert seen[0].keys() == seen[1].keys()
    for key in seen[0]:
        assert seen[0][key] == seen[1][key], key
