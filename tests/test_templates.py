"""Templates beyond the seed's: decorated labels, the Sichuan 一体化 export, titles without
the unit, project-only filings and template detection. Each workbook is built here cell by
cell in the layout its template uses (the Sichuan one after 大英县司法局's published 2023
filing, dyxrmt.cn), then read and checked like any filing."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook as XlsxBook

from xlsxcheck.extract import extract_workbook
from xlsxcheck.pipeline import Options, run
from xlsxcheck.values import label_form, strip_code


def _save(path: Path, rows: list[list], merged: list[str] = ()) -> Path:
    wb = XlsxBook()
    ws = wb.active
    ws.title = "Sheet1"
    for r in rows:
        ws.append(r)
    for rng in merged:
        ws.merge_cells(rng)
    wb.save(path)
    return path


def _codes(path: Path, **opts) -> list[tuple[str, str | None]]:
    result = run([str(path)], Options(jobs=1, **opts))
    return sorted((f.code, f.cell) for f in result.findings)


# --- Sichuan 预算管理一体化 export ------------------------------------------------------------

def sichuan_rows(**edit) -> list[list]:
    v = {"total_executed": 3.36, "total_rate": "100.00%", "fiscal_budget": 3.36, "score_1": 30, "total_score": 100} | edit
    return [
        ["部门预算项目支出绩效自评表(2023年度)"],
        ["项目名称", "51092324T000010263357-2023年全县安可替代补助资金项目"],
        ["主管部门", "大英县司法局部门", None, None, None, "实施单位", "大英县司法局"],
        ["项目基本情况", "1.项目年度目标完成情况", "项目年度目标", None, None, None, "年度目标完成情况"],
        [None, None, "根据要求购买安可设备,并完成项目资金支付。", None, None, None, "完成"],
        [None, "2.项目实施内容及过程概述", "2023年购买13台安可电脑,并于12月前完成资金支付。"],
        ["预算执行情况(10分)", "年度预算数(万元)", "年初预算", "调整后预算数", "预算执行数", "预算执行率", "权重", "得分", "原因"],
        [None, "总额", 0.0, 3.36, v["total_executed"], v["total_rate"], 10, 10, "1.预算执行率=预算执行数/调整后预算数,预算执行率未达到90%的需说明原因"],
        [None, "其中:财政资金", 0.0, v["fiscal_budget"], 3.36, "100.00%", "/", "/"],
        [None, "财政专户管理资金", 0.0, 0.0, 0.0, "0.00%", "/", "/"],
        [None, "单位资金", 0.0, 0.0, 0.0, "0.00%", "/", "/"],
        [None, "其他资金", "/", "/", "/", "/", "/", "/"],
        ["绩效指标(90分)", "一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位", "完成值", "权重", "得分", "未完成原因分析"],
        [None, "产出指标", "数量指标", "购买安可电脑台数", "≥", 13, "台", 13, 30, v["score_1"]],
        [None, None, "质量指标", "完成安可产品购买并按要求支付资金", "=", 100, "%", 100, 20, 20],
        [None, None, "成本指标", "成本控制数", "≤", 3.36, "万元", 3.36, 10, 10],
        [None, "效益指标", "社会效益指标", "保障政务办公安全", "定性", "有效保障", None, "有效保障", 20, 20],
        [None, "满意度指标", "服务对象满意度指标", "干部职工满意度", "≥", 90, "%", 95, 10, 10],
        ["合计", None, None, None, None, None, None, None, 100, v["total_score"]],
        ["评价结论", "根据财政局资金下达的管理办法,将资金支付给项目施工方。"],
        ["项目负责人:查小兵", None, None, None, None, "财务负责人:唐勇"],
    ]


SICHUAN_MERGED = ["A1:K1", "B2:K2", "B3:E3", "G3:K3", "A4:A6", "B4:B5", "A7:A12", "A13:A18", "B14:B16", "A19:H19", "B20:K20"]


def test_sichuan_export_reads_every_value_at_its_cell(tmp_path):
    book = extract_workbook(_save(tmp_path / "sc.xlsx", sichuan_rows(), SICHUAN_MERGED))
    assert (book.unit, book.year, book.department) == ("大英县司法局", 2023, "大英县司法局")  # "…部门" is the department itself
    [t] = book.tables
    f = t.fields
    assert (f["project_name"].value, f["project_name"].cell) == ("2023年全县安可替代补助资金项目", "B2")
    got = {k: (v.value, v.cell) for k, v in f.items() if k.startswith(("funds_total.", "fiscal.", "special.", "unit_funds."))}
    assert got["funds_total.initial"] == (0, "C8") and got["funds_total.budget"] == (3.36, "D8")
    assert got["funds_total.executed"] == (3.36, "E8") and got["funds_total.rate"] == (1.0, "F8")
    assert got["funds_total.weight"] == (10, "G8") and got["funds_total.score"] == (10, "H8")
    assert got["fiscal.budget"] == (3.36, "D9") and got["special.budget"] == (0, "D10") and got["unit_funds.executed"] == (0, "E11")
    assert f["other.budget"].status == "blank"  # "/" is not applicable, not a number
    assert (f["score_total.weight"].value, f["score_total.score"].value, f["score_total.score"].cell) == (100, 100, "J19")
    targets = [(i.level3.value, i.target_parsed.comparator, i.target_parsed.number, i.target_parsed.unit, i.target.cell) for i in t.indicators]
    assert targets == [
        ("购买安可电脑台数", ">=", 13, "台", "F14"),
        ("完成安可产品购买并按要求支付资金", "=", 100, "%", "F15"),
        ("成本控制数", "<=", 3.36, "万元", "F16"),
        ("保障政务办公安全", None, None, "", "F17"),
        ("干部职工满意度", ">=", 90, "%", "F18"),
    ]
    assert [i.level1_key for i in t.indicators] == ["output", "output", "output", "benefit", "satisfaction"]
    assert [(i.actual_parsed.number, i.actual_parsed.unit) for i in t.indicators][0] == (13, "台")
    assert t.indicators[3].target_parsed.status == "qualitative"


def test_sichuan_export_is_clean_and_detected(tmp_path):
    path = _save(tmp_path / "sc.xlsx", sichuan_rows(), SICHUAN_MERGED)
    result = run([str(path)], Options(jobs=1))
    assert result.findings == []
    assert result.books[0].profile == "sichuan" and result.books[0].profile_source == "detected"


@pytest.mark.parametrize("edit, want", [
    ({"total_rate": "90.00%"}, ("F102", "F8")),           # 3.36 / 3.36 is 100%
    ({"fiscal_budget": 3.0}, ("F101", "D8")),            # 总额 3.36 ≠ 3.0 + 0 + 0
    ({"score_1": 33}, ("S201", "J14")),                  # score above its 权重 30
    ({"total_score": 98}, ("S205", "J19")),              # 合计 is not the sum of the scores
])
def test_sichuan_export_mistakes_are_found_at_their_cell(tmp_path, edit, want):
    path = _save(tmp_path / "sc.xlsx", sichuan_rows(**edit), SICHUAN_MERGED)
    assert want in _codes(path)


# --- decorated labels, a title without the unit, codes before names ------------------------

def decorated_rows(rate: str = "100%") -> list[list]:
    """A central-style (50/30/10/10) project table with the decorations real filings add:
    the year on its own row, trailing colons, letters and formulas in brackets, numbering,
    盖章, codes before names, and no weights in the level-1 labels."""
    return [
        ["项目支出绩效自评表"],
        ["(2022年度)"],
        ["项目名称", None, "委托业务项目"],
        ["主管部门", None, "219-池州市贵池区棠溪镇人民政府", None, "实施单位 (盖章)", None, "219001-池州市贵池区棠溪镇人民政府"],
        ["项目资金（万元）", None, "年初预算数（A）", "全年预算数（B）", "全年执行数（C）", "分值", "执行率(全年执行数/全年预算数)", "得分"],
        [None, "（一）年度资金总额：", 90, 90, 89.974, 10, rate, 10],
        [None, "1、其中：本年财政拨款", 90, 90, 89.974, None, None, None],
        [None, "2、上年结转资金：", None, None, None, None, None, None],
        [None, "3、其他资金：", None, None, None, None, None, None],
        ["年度总体目标", "预期目标", None, None, "实际完成情况"],
        [None, "本项目共申请预算资金90万元。", None, None, "本项目共完成预算资金89.97万元。"],
        ["绩效指标", "一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"],
        [None, "产出指标", "数量指标", "基建工程委托业务项目数量", "≥50个", 50, 25, 25],
        [None, None, "质量指标", "委托业务报告合格率", "≥100%", "100%", 25, 25],
        [None, "效益指标", "社会效益指标", "对维护基建市场公平的影响程度", "效果明显", "达成预期指标", 30, 30],
        [None, "满意度指标", "服务对象满意度指标", "公众满意度", "≥90%", "95%", 10, 10],
        ["总分", None, None, None, None, None, 100, 100],
        ["填表人：张三", None, None, None, "填报日期：2023年3月10日"],
    ]


@pytest.mark.parametrize("name, unmet", [
    ("财政供养人员控制率", False), ("预算调整率", False), ("结转结余率", False),  # the less the better, by name
    ("委托业务报告合格率", True),
])
def test_a_bare_target_of_a_rate_kept_low_is_an_upper_bound(tmp_path, name, unmet):
    """Chongqing's whole-unit indicators (tests/real_filings/unread/18) write 财政供养人员控制率
    100% -> 92%, 预算调整率 3% -> 0, 结转结余率 2% -> 0 with no comparator: by their names these
    are upper bounds, met; a 合格率 of 92% against 100% is not, and full points for it are I303."""
    rows = decorated_rows()
    rows[12][3:6] = [name, "100%", "92%"]
    assert (("I303", "H13") in _codes(_save(tmp_path / "t.xlsx", rows))) is unmet


def test_a_missing_label_is_named_as_the_template_lists_it_first_in_every_run(tmp_path):
    """R006 names a label a table lacks by its first spelling in rules/template.yaml, whatever
    Python's hash seed: the longest spelling was taken from a set, so a table without its
    project name read 缺少“项目支出名称” in one run and 缺少“专项资金名称” in the next."""
    import json
    import os
    import subprocess
    import sys

    rows = decorated_rows()
    del rows[2]  # 项目名称
    rows[10:11] = [["绩效指标", "一级指标", "二级指标", "指标", "年度指标值", "实际完成值", "分值", "得分"]]  # no 三级指标 column
    path = _save(tmp_path / "t.xlsx", rows)
    messages = []
    for seed in ("1", "3"):
        out = tmp_path / f"{seed}.json"
        subprocess.run([sys.executable, "-m", "xlsxcheck", "check", str(path), "-q", "--format", "json", "-o", str(out)],
                       env={**os.environ, "PYTHONHASHSEED": seed}, check=False, cwd=tmp_path)
        messages.append(sorted(f["message"] for f in json.loads(out.read_text(encoding="utf-8"))["findings"] if f["code"] == "R006"))
    assert messages[0] == messages[1]
    assert any("缺少“项目支出名称”栏目" in m for m in messages[0]), messages[0]
    assert any("缺少“三级指标”栏目" in m for m in messages[0]), messages[0]


def test_decorated_labels_read_like_plain_ones(tmp_path):
    path = _save(tmp_path / "附件2.xlsx", decorated_rows(), ["A1:I1", "A2:I2", "A5:A9", "A10:A11", "A12:A16"])
    book = extract_workbook(path)
    assert (book.unit, book.year, book.department) == ("池州市贵池区棠溪镇人民政府", 2022, "池州市贵池区棠溪镇人民政府")
    [t] = book.tables
    f = t.fields
    assert (f["funds_total.budget"].value, f["funds_total.budget"].cell) == (90, "D6")
    assert (f["funds_total.executed"].value, f["funds_total.executed"].cell) == (89.974, "E6")
    assert (f["funds_total.rate"].value, f["funds_total.rate"].cell) == (1.0, "G6")  # not the 全年执行数 column
    assert (f["fiscal.executed"].value, f["fiscal.executed"].cell) == (89.974, "E7")
    assert f["carryover.label"].cell == "B8" and f["other.label"].cell == "B9"
    assert (f["year"].value, f["year"].cell) == (2022, "A2")
    assert f["implementer"].value == "池州市贵池区棠溪镇人民政府"
    assert len(t.indicators) == 4 and f["score_total.score"].cell == "H17"


def test_decorated_filing_clean_detected_central_and_its_mistake_found(tmp_path):
    clean = _save(tmp_path / "a.xlsx", decorated_rows(), ["A1:I1", "A2:I2"])
    result = run([str(clean)], Options(jobs=1))
    assert [f.code for f in result.findings] == []
    # No weights in the level-1 labels: the blocks' 分值 (50/30/10) tell the template.
    assert result.books[0].profile == "central" and result.books[0].profile_source == "detected"
    wrong = _save(tmp_path / "b.xlsx", decorated_rows(rate="89%"), ["A1:I1", "A2:I2"])
    assert ("F102", "G6") in _codes(wrong)


# --- identity, project-only filings, required tables ----------------------------------------

def test_project_only_filing_is_complete_unless_the_bureau_requires_more(tmp_path):
    path = _save(tmp_path / "p.xlsx", decorated_rows())
    assert _codes(path) == []
    assert _codes(path, require=("base", "overall")) == [("R006", None), ("R006", None)]


def test_unit_from_the_file_name_only_with_a_finding_saying_so(tmp_path):
    rows = decorated_rows()
    rows[3] = ["主管部门", None, "", None, "实施单位", None, None]
    path = _save(tmp_path / "某某单位.xlsx", rows)
    result = run([str(path)], Options(jobs=1))
    assert result.books[0].unit == "某某单位"
    assert [(f.code, f.severity) for f in result.findings] == [("R015", "info")]


def test_title_never_gives_a_bracket_as_unit(tmp_path):
    path = _save(tmp_path / "t.xlsx", sichuan_rows(), SICHUAN_MERGED)
    book = extract_workbook(path)
    assert "title_unit" not in book.tables[0].fields
    assert book.unit == "大英县司法局"


def test_title_naming_a_level_of_government_gives_no_unit(tmp_path):
    """Yinchuan's 2021 title "银川市本级部门项目支出绩效自评表" (tests/real_filings/17) names the
    city level the form is for, not a unit: the unit is the 实施单位, not "银川市本级"."""
    rows = decorated_rows()
    rows[0] = ["银川市本级部门项目支出绩效自评表(2021年)"]
    rows[3] = ["主管部门", None, "银川市教育局", None, "实施单位", None, "银川市第六中学"]
    book = extract_workbook(_save(tmp_path / "t.xlsx", rows))
    assert "title_unit" not in book.tables[0].fields
    assert (book.unit, book.year, book.department) == ("银川市第六中学", 2021, "银川市教育局")
    # A department's own 本级 is still its name.
    rows[0] = ["青神县发展和改革局本级项目支出绩效自评表(2021年)"]
    book = extract_workbook(_save(tmp_path / "u.xlsx", rows))
    assert book.tables[0].fields["title_unit"].value == "青神县发展和改革局本级"


def test_yinchuan_level1_blocks_are_output_and_benefit(tmp_path):
    """Yinchuan's 2021 project table (tests/real_filings/17) names its level-1 blocks 项目决策,
    项目管理, 项目产出 and 项目效益: the last two are the 产出 and 效益 blocks, not missing ones."""
    rows = decorated_rows()
    rows[12][1], rows[14][1] = "项目产出(50分)", "项目效益(30分)"
    path = _save(tmp_path / "t.xlsx", rows)
    [t] = extract_workbook(path).tables
    assert [(i.level1_key, i.level1_weight) for i in t.indicators] == [
        ("output", 50), ("output", 50), ("benefit", 30), ("satisfaction", None)]
    assert [code for code, _ in _codes(path)] == []


@pytest.mark.parametrize("text, form", [
    ("（一）年度资金总额：", "年度资金总额"),
    ("执行率(全年执行数/全年预算数)", "执行率"),
    ("执行率（B/A）", "执行率"),
    ("实施单位 (盖章)", "实施单位"),
    ("1、其中：公车购置", "公车购置"),
    ("满意度指标（10分", "满意度指标"),
    ("预算部门（单位）名称", "预算部门名称"),
    ("(2022年度)", "(2022年度)"),
    ("2.5", "2.5"),
])
def test_label_form(text, form):
    assert label_form(text) == form


@pytest.mark.parametrize("text, name", [
    ("219001-池州市贵池区棠溪镇人民政府", "池州市贵池区棠溪镇人民政府"),
    ("51000021R000000019951-工资性支出", "工资性支出"),
    ("2023年全县安可替代补助资金项目", "2023年全县安可替代补助资金项目"),
])
def test_strip_code(text, name):
    assert strip_code(text) == name


def test_target_split_under_a_two_row_header(tmp_path):
    """Yunnan's 2020 central-style table: 年度指标值 spans 指标性质 | 指标值 | 度量单位 in the row
    below (a composite target outside Sichuan), 指标性质 written with a small equals sign."""
    rows = [
        ["2020年度项目支出绩效自评表"],
        ["项目名称", None, "2020年省级自然资源卫片执法补助经费"],
        ["主管部门", None, "丽江市古城区自然资源局", None, None, "实施单位", "丽江市古城区自然资源局"],
        ["项目资金 (万元)", None, "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"],
        [None, "年度资金总额", 10, 10, 10, 10, "100%", 10],
        [None, "其中:当年财政拨款", 10, 10, 10, None, "100%", None],
        ["绩效指标", None, None, "年度指标值", None, None, "实际完成值", "分值", "得分", "偏差原因分析及改进措施"],
        ["一级 指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位"],
        ["产出指标", "数量指标", "卫片图斑核查数量", "≥", 300, "个", 320, 50, 50],
        ["效益指标", "社会效益指标", "违法用地查处率", "\ufe66", 100, "%", "100%", 30, 30],
        ["满意度指标", "服务对象满意度指标", "群众满意度", "≥", 90, "%", "95%", 10, 10],
        ["总分", None, None, None, None, None, None, 100, 100],
    ]
    merged = ["A1:J1", "A7:C7", "D7:F7", "G7:G8", "H7:H8", "I7:I8", "J7:J8"]
    book = extract_workbook(_save(tmp_path / "yn.xlsx", rows, merged))
    [t] = book.tables
    got = [(i.level3.value, i.target_parsed.comparator, i.target_parsed.number, i.target_parsed.unit, i.actual.cell, i.score.cell) for i in t.indicators]
    assert got == [
        ("卫片图斑核查数量", ">=", 300, "个", "G9", "I9"),
        ("违法用地查处率", "=", 100, "%", "G10", "I10"),
        ("群众满意度", ">=", 90, "%", "G11", "I11"),
    ]
    assert (t.fields["score_total.score"].value, t.fields["score_total.score"].cell) == (100, "I12")
    assert run([str(tmp_path / "yn.xlsx")], Options(jobs=1)).findings == []


@pytest.mark.parametrize("text, comparator, number, unit", [
    ("95%以上", ">=", 95, "%"),
    ("90%及以上", ">=", 90, "%"),
    ("3个月以内", "<=", 3, "个月"),
    ("5天以下", "<=", 5, "天"),
    ("≥95%以上", ">=", 95, "%"),
])
def test_comparator_written_after_the_number(text, comparator, number, unit):
    from xlsxcheck.values import parse_indicator

    t = parse_indicator(text)
    assert (t.comparator, t.number, t.unit) == (comparator, number, unit)


def test_chongqing_style_headers(tmp_path):
    """Header spellings of Chongqing's 2021 部门整体绩效自评表 (m.yzwku.com/doc/98587.html):
    全年(调整)预算数, 执行率(%), 执行率权重, 执行率得分(分); indicators 指标名称 | 计量单位 |
    指标性质 (定量指标/定性指标) | 年初指标值 | 全年完成值 | 指标权重(分) | 指标得分(分). The
    layout around them is the central one (一级/二级指标 columns, a 部门(单位)名称 cell, a row
    label on the funds row, a 总分 row) and the figures are ours: the real page has none of
    those, and the reader does not read it yet (tests/real_filings/unread/18)."""
    rows = [
        ["2021年度重庆市某某局部门整体绩效自评表"],
        ["部门(单位)名称", None, "重庆市某某局", None, None, "自评总分(分)", 96.6],
        ["项目资金(万元)", None, "年初预算数", "全年(调整)预算数", "全年执行数", "执行率(%)", "执行率权重", "执行率得分(分)"],
        [None, "年度资金总额", 100, 100, 76, "76%", 10, 7.6],
        ["绩效指标", "一级指标", "二级指标", "指标名称", "计量单位", "指标性质", "年初指标值", "全年完成值", "指标权重(分)", "指标得分(分)"],
        [None, "产出指标", "数量指标", "培训人次", "人次", "定量指标", 300, 320, 50, 50],
        [None, "效益指标", "社会效益指标", "服务质量", None, "定性指标", "提升", "提升", 30, 30],
        [None, "满意度指标", "服务对象满意度指标", "满意度", "%", "定量指标", 90, 95, 10, 9],
        ["总分", None, None, None, None, None, None, None, 100, 96.6],
    ]
    book = extract_workbook(_save(tmp_path / "cq.xlsx", rows))
    [t] = book.tables
    f = t.fields
    assert (book.unit, book.year) == ("重庆市某某局", 2021)
    assert {k: f[f"funds_total.{k}"].cell for k in ("initial", "budget", "executed", "rate", "weight", "score")} == {
        "initial": "C4", "budget": "D4", "executed": "E4", "rate": "F4", "weight": "G4", "score": "H4"}
    got = [(i.level3.value, i.target_parsed.number, i.target_parsed.unit, i.target_parsed.status, i.weight.cell, i.score.cell) for i in t.indicators]
    assert got == [("培训人次", 300, "人次", "ok", "I6", "J6"), ("服务质量", None, "", "qualitative", "I7", "J7"),
                   ("满意度", 90, "%", "ok", "I8", "J8")]
    result = run([str(tmp_path / "cq.xlsx")], Options(jobs=1))
    # The satisfaction target is met but a point is deducted without a reason: a warning only.
    assert [(x.code, x.severity, x.cell) for x in result.findings] == [("I304", "warning", "J8")]
