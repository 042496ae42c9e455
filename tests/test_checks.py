"""The check engine: the seed's real mistakes at their cells, nothing on right cells, the
corrected twin clean, and every rule broken and satisfied in every layout."""

import datetime as dt
import re

import pytest
from conftest import SAMPLES, locate

from xlsxcheck.catalog import load_catalog
from xlsxcheck.pipeline import Options, run

TODAY = dt.date(2026, 11, 29)


def check(*paths, **kw):
    return run([str(p) for p in paths], Options(jobs=1, today=TODAY, **kw))


def cells(result, severity=None):
    return {(f.code, f.sheet, f.cell) for f in result.findings if severity in (None, f.severity)}


SEED_ERRORS = {
    ("B401", "Sheet1", "D3"),   # 控制率 177.78% is 32/18, not 29/18
    ("B402", "Sheet1", "C5"),   # 三公经费 本年预算数 0, 公务接待 1
    ("R007", "Sheet2", "E4"),   # 全年执行数 "3243..37"
    ("F103", "Sheet2", "H4"),   # 得分 10 with 执行率 written as 10
    ("F102", "Sheet3", "G7"), ("F102", "Sheet3", "G10"),  # 89% = 981.22/1100 (年初预算数)
    ("F101", "Sheet3", "C10"), ("F101", "Sheet3", "D10"), ("F101", "Sheet3", "E10"),  # 上年结转 copied from 当年
    ("R007", "Sheet3", "F19"),  # 实际完成值 "98%1"
    ("X505", "Sheet3", "A32"), ("X505", "Sheet4", "A28"),  # 填报日期 2023.4.20 for FY2023
    ("S204", "Sheet4", "G26"), ("R014", "Sheet4", "H26"),  # 总分 row one column to the left
}
SEED_WARNINGS = {
    ("X503", "Sheet2", "C7"),   # 项目支出 left blank, projects executed 1894.22
    ("I304", "Sheet2", "I16"), ("I304", "Sheet2", "I22"),  # points deducted, no reason
    ("I301", "Sheet2", "F17"), ("I301", "Sheet2", "F18"), ("I301", "Sheet2", "F21"), ("I301", "Sheet2", "F25"),
    ("X506", "Sheet3", "B4"),   # 主管部门 is the unit itself
    ("I301", "Sheet3", "F16"), ("I301", "Sheet3", "F17"), ("I301", "Sheet3", "F18"), ("I301", "Sheet3", "F20"), ("I301", "Sheet3", "F26"),
    ("I301", "Sheet4", "F15"), ("I301", "Sheet4", "F17"), ("I301", "Sheet4", "F20"), ("I301", "Sheet4", "F22"),
}


def test_seed_as_filed_yields_its_real_mistakes_and_nothing_else():
    result = check(SAMPLES / "01_株洲市保障性住房服务中心_原报.xlsx")
    assert cells(result, "error") == SEED_ERRORS
    assert cells(result, "warning") == SEED_WARNINGS


def test_seed_messages_name_cell_found_and_expected_values():
    result = check(SAMPLES / "01_株洲市保障性住房服务中心_原报.xlsx")
    by_cell = {(f.sheet, f.cell, f.code): f for f in result.findings}
    rate = by_cell[("Sheet3", "G10", "F102")]
    assert (rate.actual, rate.expected) == ("89%", "100.00%")
    assert "年初预算数" in rate.message and "E10" in rate.message and "D10" in rate.message
    assert "initial budget" in rate.message_en
    staff = by_cell[("Sheet1", "D3", "B401")]
    assert (staff.actual, staff.expected) == ("177.78%", "161.11%")
    total = by_cell[("Sheet3", "C10", "F101")]
    assert (total.actual, total.expected) == ("1100", "2200") and "C7" in total.message and "C8" in total.message
    for f in result.findings:
        if f.code == "R014":  # an empty required cell: the message names the cell instead
            assert f.cell in f.message and "未填写" in f.message
            continue
        assert f.cell and f.actual and f.actual in f.message, f
        if f.code != "R007":  # R007 names what kind of value it expected
            assert f.expected and f.expected.lstrip("<>= ") in f.message, f


def test_corrected_seed_has_no_error_and_no_warning():
    result = check(SAMPLES / "02_株洲市保障性住房服务中心_更正.xlsx")
    assert result.findings == []


def test_rounding_interval_accepts_the_published_split():
    """1349.16 + 1894.22 = 3243.38 is consistent with 3243.37 once rounding is allowed."""
    result = check(SAMPLES / "02_株洲市保障性住房服务中心_更正.xlsx", select=("X502", "F106"))
    assert result.findings == []


def test_central_profile_is_checked_against_its_own_weights(tmp_path):
    from xlsxcheck.samples import IndicatorSpec, Layout, make_unit, render, unit_canvases
    import random

    rng = random.Random(3)
    spec = make_unit(rng, "中央格式单位", "某部", 2)
    central = [
        IndicatorSpec("output", "数量指标", "完成任务数", "≥100个", "105个", 20, 20),
        IndicatorSpec("output", "成本指标", "经济成本指标", "≤500万元", "480万元", 30, 30),
        IndicatorSpec("benefit", "社会效益指标", "群众获得感", "提升", "提升", 30, 30),
        IndicatorSpec("satisfaction", "服务对象满意度指标", "满意度", "≥90%", "95%", 10, 10),
    ]
    for p in spec.projects:
        p.indicators = list(central)
    spec.overall_indicators = list(central)
    path = render(unit_canvases(spec, Layout()), tmp_path / "central.xlsx")
    result = check(path)
    assert result.books[0].profile == "central"
    assert not [f for f in result.findings if f.code.startswith(("S", "R013"))]
    forced = check(path, profile="hunan")
    assert {f.code for f in forced.findings if f.code == "S203"} == {"S203"}


# --- every rule broken (finding at the exact cell) and satisfied (no finding), in every layout ---

def plus(x):
    return lambda v: round(float(str(v).replace("万元", "")) + x, 2)


def const(x):
    return lambda v: x


def colon_value(x):
    return lambda v: re.sub(r"[\d.]+$", f"{x:.2f}", str(v))


RULE_CASES = {
    # code: (edits, where the finding must be)
    "F101": ([(("P1", "fiscal.budget"), plus(10))], ("P1", "funds_total.budget")),
    "F102": ([(("P1", "funds_total.rate"), const("50%"))], ("P1", "funds_total.rate")),
    "F103": ([(("P1", "funds_total.score"), const(3))], ("P1", "funds_total.score")),
    "F104": ([(("P2", "funds_total.executed"), plus(500))], ("P2", "funds_total.executed")),
    "F105": ([(("O1", "income_general"), colon_value(1))], ("O1", "income_total")),
    "F106": ([(("O1", "expense_basic"), colon_value(1))], ("O1", "expense_total")),
    "X502": ([(("O1", "expense_basic"), colon_value(1))], ("O1", "funds_total.executed")),
    "X503": ([(("O1", "expense_project"), colon_value(1))], ("O1", "expense_project")),
    "B401": ([(("B1", "staff.control_rate"), const("150%"))], ("B1", "staff.control_rate")),
    "B402": ([(("B1", "sangong.final"), plus(1))], ("B1", "sangong.final")),
    "B403": ([(("B1", "car.budget"), plus(1))], ("B1", "car.budget")),
    "B404": ([(("B1", "project.budget"), plus(5))], ("B1", "project.budget")),
    "B405": ([(("B1", "public.final"), const(0.5))], ("B1", "public.final")),
    "X501": ([(("B1", "project.final"), plus(100))], ("B1", "project.final")),
    "S201": ([(("P1", "ind", 0, "score"), plus(2))], ("P1", "ind", 0, "score")),
    "S202": ([(("P1", "ind", 0, "weight"), plus(-1))], ("P1", "ind", 0, "level1")),
    "S203": ([(("P1", "ind", "benefit", "level1"), lambda v: str(v).replace("20", "25"))], ("P1", "ind", "benefit", "level1")),
    "S204": ([(("P2", "score_total.weight"), const(98))], ("P2", "score_total.weight")),
    "S205": ([(("P2", "score_total.score"), plus(1))], ("P2", "score_total.score")),
    "S208": ([(("P1", "ind", 0, "weight"), plus(1))], ("P1", "score_total.weight")),
    "S206": ([(("P1", "ind", "benefit", "level1"), lambda v: str(v).replace("效益指标", "其他指标"))], ("P1", "title")),
    "I301": ([(("P1", "ind", "satisfaction", "actual"), const("≥95%"))], ("P1", "ind", "satisfaction", "actual")),
    "I302": ([(("P1", "ind", "satisfaction", "actual"), const("85%")), (("P1", "ind", "satisfaction", "score"), const(8))],
             ("P1", "ind", "satisfaction", "reason")),
    "I303": ([(("P1", "ind", "satisfaction", "actual"), const("85%"))], ("P1", "ind", "satisfaction", "score")),
    "I304": ([(("P1", "ind", 0, "score"), plus(-1))], ("P1", "ind", 0, "reason")),
    "I305": ([(("P1", "ind", 0, "actual"), const("完成"))], ("P1", "ind", 0, "actual")),
    "X504": ([(("P3", "title"), lambda v: str(v).replace("测试市测试服务中心", "另一个单位"))], ("P3", "title_unit")),
    "X505": ([(("P1", "date"), lambda v: str(v).replace("2024.", "2023."))], ("P1", "date")),
    "X506": ([(("P2", "department"), const("测试市财政局"))], ("P2", "department")),
    "R007": ([(("P1", "funds_total.budget"), const("12..5"))], ("P1", "funds_total.budget")),
    "R014": ([(("P1", "score_total.score"), const(None))], ("P1", "score_total.score")),
}


def test_every_catalog_rule_is_covered_by_a_test():
    from test_reading import READING_CASES, TEMPLATE_CASES  # R001-R013: broken files; R015: other templates
    from test_report_docs import REPORT_CODES  # N: tested with reports

    isolation = {"R017", "R018"}  # a crashed reader, a file over its time budget: test_isolation.py
    covered = set(RULE_CASES) | READING_CASES | TEMPLATE_CASES | set(REPORT_CODES) | isolation | {"S207", "D601", "D602", "D603", "D604", "D605", "R099"}  # D604/D605: test_round_trip
    assert set(load_catalog()) <= covered, set(load_catalog()) - covered


def test_clean_unit_has_no_findings(layout_builder):
    result = check(layout_builder.clean_path)
    assert result.findings == [], [f.message for f in result.findings]


@pytest.mark.parametrize("code", list(RULE_CASES))
def test_rule_broken_in_every_layout(layout_builder, code):
    edits, where = RULE_CASES[code]
    path = layout_builder.edit(edits, name=code)
    result = check(path)
    target = locate(layout_builder.clean, where)
    hits = [f for f in result.findings if f.code == code]
    assert [(f.sheet, f.cell) for f in hits] == [(target.sheet, target.cell)], [(f.code, f.sheet, f.cell, f.message) for f in result.findings]
    if code not in ("R014", "S206"):  # an empty cell / a missing block has no value to show
        assert hits[0].actual and hits[0].actual in hits[0].message and hits[0].message_en


def test_grade_must_follow_total_score(tmp_path):
    from openpyxl import load_workbook

    src = SAMPLES / "02_株洲市保障性住房服务中心_更正.xlsx"
    for grade, expect in (("良", {("S207", "Sheet2", "B31")}), ("优", set())):
        wb = load_workbook(src)
        ws = wb["Sheet2"]
        ws["A31"], ws["B31"] = "自评等级", grade
        path = tmp_path / f"grade_{grade}.xlsx"
        wb.save(path)
        result = check(path)
        assert cells(result) == expect
        if expect:
            assert result.findings[0].expected == "优"


def test_select_ignore_and_severity_override():
    path = SAMPLES / "01_株洲市保障性住房服务中心_原报.xlsx"
    only_f = check(path, select=("F",))
    assert {f.code for f in only_f.findings} == {"F101", "F102", "F103"}
    no_i301 = check(path, ignore=("I301", "R"))
    assert not {f.code for f in no_i301.findings} & {"I301", "R007", "R014"}
    softer = check(path, select=("I301",), severity={"I301": "info"})
    assert {f.severity for f in softer.findings} == {"info"}


def test_registry_names_match_however_they_are_spaced(tmp_path):
    """The registry is read the same way everywhere: a name written with a space in the 名录
    still finds the unit, and its 主管部门 becomes the reference for X506."""
    registry = tmp_path / "名录.csv"
    registry.write_text("单位名称,主管部门\n株洲市 保障性住房服务中心,株洲市住房和城乡建设局\n", encoding="utf-8")
    result = check(SAMPLES / "01_株洲市保障性住房服务中心_原报.xlsx", registry=str(registry), select=("X506", "D60"))
    assert [(f.code, f.sheet, f.cell, f.expected) for f in result.findings] == [
        ("X506", "Sheet3", "B4", "株洲市住房和城乡建设局"),  # the unit's own name
        ("X506", "Sheet4", "B4", "株洲市住房和城乡建设局"),  # the typo 逐渐
    ]


def test_funds_score_above_its_weight(tmp_path):
    from conftest import LAYOUTS, UnitBuilder

    ub = UnitBuilder(tmp_path, *LAYOUTS["plain"])
    path = ub.edit([(("P1", "funds_total.score"), const(12))])
    target = locate(ub.clean, ("P1", "funds_total.score"))
    hits = [(f.sheet, f.cell, f.expected) for f in check(path).findings if f.code == "S201"]
    assert hits == [(target.sheet, target.cell, "10")]


def test_batch_frames_keep_text_as_objects_and_numbers_as_numbers():
    """The frames the rules read: positions stay whole numbers (they index the workbooks),
    a number column with a gap is float, text stays text, and all text shares one block."""
    from xlsxcheck.batch import _frame

    frame = _frame([
        (0, 2023, 1.5, "ok", "S!B2", True),
        (1, None, float("nan"), "blank", "S!B3", False),
    ], ["_book", "_year", "a", "a@status", "a@cell", "flag"])
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "_book": "int64", "_year": "float64", "a": "float64", "a@status": "object", "a@cell": "object", "flag": "object"}
    assert frame["a@cell"].tolist() == ["S!B2", "S!B3"] and frame["_year"].isna().tolist() == [False, True]
    assert frame._mgr.nblocks == 3


@pytest.mark.parametrize("n, workers", [(1, 2), (31, 2), (1000, 2), (10000, 2), (999, 1), (5000, 4)])
def test_chunks_cover_every_file_once_in_order(n, workers):
    from xlsxcheck.pipeline import _chunks

    chunks = _chunks(list(range(n)), workers)
    assert [j for c in chunks for j in c] == list(range(n))
    assert all(0 < len(c) <= 200 for c in chunks)
    if workers > 1 and n > 64:
        assert len(chunks[-1]) >= 32 and len(chunks) >= 2 * workers  # work for every worker, no small tail
