"""The written self-evaluation report (自评报告) against its own tables: reading .docx and
PDF, the statements the seed's report makes, the contradictions it holds (and nothing
else), its corrected twin clean, pairing, structure, every output and the annotated copy."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner
from conftest import LAYOUTS, SAMPLES, SEED_TEXT, UnitBuilder

from xlsxcheck.catalog import load_catalog
from xlsxcheck.cli import cli
from xlsxcheck.extract import extract_workbook
from xlsxcheck.narrative.document import read_report
from xlsxcheck.narrative.statements import extract_statements, patterns, report_rules
from xlsxcheck.pipeline import Options, run
from xlsxcheck.samples import render, seed_canvases, seed_report_lines, unit_report_lines, write_report_docx

FILED, FIXED = "01_株洲市保障性住房服务中心_原报", "02_株洲市保障性住房服务中心_更正"
REPORT_TEXT = (SAMPLES / "seed_report.txt").read_text(encoding="utf-8")


# Each N rule and the test that breaks it (test_checks.py makes sure every rule has one).
REPORT_CODES = {
    "N701": "test_seed_report_yields_exactly_its_contradictions", "N702": "test_seed_report_yields_exactly_its_contradictions",
    "N703": "test_seed_report_yields_exactly_its_contradictions", "N704": "test_project_rate_is_the_projects_own",
    "N705": "test_each_comparison_fails_on_a_wrong_figure", "N706": "test_seed_report_yields_exactly_its_contradictions",
    "N707": "test_score_and_grade_against_the_total", "N710": "test_missing_section_and_section_out_of_order",
    "N711": "test_attachment_list_against_the_tables", "N720": "test_broken_docx_is_a_finding_and_the_batch_goes_on",
    "N721": "test_scanned_pdf_is_reported_not_guessed", "N730": "test_report_without_workbook_and_workbook_without_report",
    "N731": "test_report_without_workbook_and_workbook_without_report",
}


def test_report_codes_name_real_tests():
    assert set(REPORT_CODES) == {c for c in load_catalog() if c.startswith("N")}
    assert all(callable(globals()[name]) for name in REPORT_CODES.values())


def check(*paths, **kw):
    return run([str(p) for p in paths], Options(jobs=1, **kw))


def folder_of(tmp_path: Path, *stems: str, reports: bool = True) -> Path:
    out = tmp_path / "自评"
    out.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        shutil.copy(SAMPLES / f"{stem}.xlsx", out)
        if reports:
            shutil.copy(SAMPLES / f"{stem}_自评报告.docx", out)
    return out


def report_findings(result) -> list:
    return [f for f in result.findings if f.code.startswith("N")]


def pdf_from_lines(lines: list[str], path: Path, per_line: int = 36) -> list[int]:
    """A text PDF as Word would export it: the paragraphs wrapped into lines, pages filled.
    Gives the page each paragraph starts on."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    y, page, starts = 800, 1, []
    for line in lines:
        starts.append(page + (y < 60))
        for i in range(0, len(line), per_line):
            if y < 60:
                c.showPage()
                y, page = 800, page + 1
            c.setFont("STSong-Light", 12)
            c.drawString(40, y, line[i:i + per_line])
            y -= 18
    c.save()
    return starts


# --- the seed's statements ------------------------------------------------------------------

# (code, paragraph, as stated, value, compared with, project): every figure the seed's
# report states that a pattern reads, checked by hand against the report text.
SEED_STATEMENTS = [
    ("N701", 8, "在职人员32人", 32, "base.staff.actual", None),
    ("N702", 10, "基本支出1349.16万元", 1349.16, "overall.expense_basic", None),
    ("N702", 11, "项目支出1894.22万元", 1894.22, "projects.executed", None),
    ("N703", 11, "年初预算0万元", 0, "projects.initial", None),
    ("N703", 20, "预算安排金额3243.37万元", 3243.37, "overall.funds_total.budget", None),
    ("N703", 20, "实际资金额度3243.37万元", 3243.37, "overall.funds_total.executed", None),
    ("N704", 20, "执行率100%", 1.0, "overall.funds_total.rate", None),
    ("N706", 25, "发放8582 户", 8582, "indicator", None),  # no indicator counts 户: not compared
    ("N705", 31, "项目支出913万元", 913, "project.funds_total.executed", "人才购房补贴"),
    ("N706", 31, "发放305人", 305, "indicator", "人才购房补贴"),
    ("N705", 33, "项目支出981.22万元", 981.22, "project.funds_total.executed", "保障性住房维护管理费用"),
]


def _statements(stem: str):
    book = extract_workbook(SAMPLES / f"{stem}.xlsx")
    report = read_report(SAMPLES / f"{stem}_自评报告.docx", "r.docx")
    return report, extract_statements(report, book.of_kind("project"))


def test_seed_report_reads_as_its_paragraphs():
    report, _ = _statements(FILED)
    assert report.kind == "docx" and len(report.paragraphs) == len(seed_report_lines(REPORT_TEXT))
    assert [p.text for p in report.paragraphs] == seed_report_lines(REPORT_TEXT)
    assert report.paragraphs[7].text.startswith("部门（单位）主要职责是") and report.paragraphs[7].index == 8


def test_every_statement_of_the_seed_report_with_figure_unit_and_paragraph():
    _, statements = _statements(FILED)
    got = [(s.code, s.paragraph.index, s.stated, s.value.value, s.pattern.compare,
            s.project.fields["project_name"].value if s.project is not None else None) for s in statements]
    assert got == [(c, i, t, pytest.approx(v), f, p) for c, i, t, v, f, p in SEED_STATEMENTS]
    assert not any(s.approximate for s in statements)
    assert statements[0].sentence == "单位为株洲市住房和城乡建设局下属正科级财政全额拨款一类事业单位，共有人员100人，其中在职人员32人，退休人员68人。"


# --- the contradictions ----------------------------------------------------------------------

def test_seed_report_yields_exactly_its_contradictions(tmp_path):
    result = check(folder_of(tmp_path, FILED))
    found = {(f.code, f.sheet, f.cell, f.actual, f.expected) for f in report_findings(result)}
    assert found == {
        ("N701", "正文", "第8段", "在职人员32人", "29"),             # 基础数据表 实际在职人数 29
        ("N702", "正文", "第10段", "基本支出1349.16万元", "3243.37"),  # 整体表 其中：基本支出：3243.37
        ("N703", "正文", "第11段", "年初预算0万元", "2100"),          # 项目表 年初预算数 1100 + 1000
        ("N704", "正文", "第20段", "执行率100%", "10.00%"),          # 整体表 执行率 "10"
        ("N706", "正文", "第31段", "发放305人", "≥360人、≥358人、358户"),  # 项目表 and its goal
    }
    by_code = {f.code: f for f in report_findings(result)}
    assert all(f.file.endswith(f"{FILED}_自评报告.docx") and f.unit == "株洲市保障性住房服务中心" for f in by_code.values())
    assert {f.severity for c, f in by_code.items() if c != "N706"} == {"error"} and by_code["N706"].severity == "warning"
    # the contradicted cells are named, and the sentence is quoted
    assert f"{FILED}.xlsx Sheet1!C3" in by_code["N701"].message and "其中在职人员32人" in by_code["N701"].message
    assert "Sheet3!C10、Sheet4!C10" in by_code["N703"].message
    assert "Sheet2!G4" in by_code["N704"].message
    assert "Sheet4!F20" in by_code["N706"].message and "Sheet4!C12" in by_code["N706"].message
    # 3243.37 − 1894.22 = 1349.15: the table is the wrong side, and the message says so
    assert "应是表中基本支出填错" in by_code["N702"].message
    assert "likely mistake" in by_code["N702"].message_en
    # 控制率 177.78% × 编制数 18 = 32: the base table's own rate was computed from the report's figure
    assert "请核对基础数据表的实际在职人数" in by_code["N701"].message and "likely mistake" not in by_code["N701"].message_en
    assert "控制率" not in by_code["N704"].message


def test_agreeing_and_unreadable_figures_stay_quiet(tmp_path):
    result = check(folder_of(tmp_path, FILED))
    said = {f.actual for f in report_findings(result)}
    # 1894.22 = 913 + 981.22; 3243.37 = 全年预算数; each project's own amount
    assert not said & {"项目支出1894.22万元", "预算安排金额3243.37万元", "项目支出913万元", "项目支出981.22万元"}
    # 全年执行数 "3243..37" cannot be read: R007 says so once, the report check stays quiet
    assert "实际资金额度3243.37万元" not in said
    assert [f.cell for f in result.findings if f.code == "R007" and f.sheet == "Sheet2"] == ["E4"]


def test_corrected_twin_yields_none_and_is_listed(tmp_path):
    result = check(folder_of(tmp_path, FIXED))
    assert report_findings(result) == []
    [report] = result.reports
    assert report.workbook.endswith(f"{FIXED}.xlsx") and report.unit == "株洲市保障性住房服务中心"
    assert report.readable and report.statements == len(SEED_STATEMENTS)


def test_each_report_pairs_with_its_own_filing_of_the_unit(tmp_path):
    folder = folder_of(tmp_path, FILED, FIXED)
    result = check(folder, supersede=())  # both filings stand (D601)
    pairs = {Path(r.file).name: Path(r.workbook).name for r in result.reports}
    assert pairs == {f"{FILED}_自评报告.docx": f"{FILED}.xlsx", f"{FIXED}_自评报告.docx": f"{FIXED}.xlsx"}
    assert {Path(f.file).name for f in report_findings(result)} == {f"{FILED}_自评报告.docx"}
    # the 更正 supersedes the 原报 (D604): the 原报's report goes with it, its findings moot
    result = check(folder)
    assert report_findings(result) == []
    assert {Path(r.file).name: Path(r.superseded_by).name for r in result.reports if r.superseded_by} == {
        f"{FILED}_自评报告.docx": f"{FIXED}.xlsx"}


# --- PDF --------------------------------------------------------------------------------------

def test_text_pdf_gives_the_same_contradictions_with_pages(tmp_path):
    folder = folder_of(tmp_path, FILED, reports=False)
    lines = seed_report_lines(REPORT_TEXT)
    starts = pdf_from_lines(lines, folder / f"{FILED}_自评报告.pdf")
    result = check(folder)
    got = report_findings(result)
    assert sorted((f.code, f.actual) for f in got) == [
        ("N701", "在职人员32人"), ("N702", "基本支出1349.16万元"), ("N703", "年初预算0万元"), ("N704", "执行率100%"), ("N706", "发放305人")]
    for f in got:  # the page the sentence's paragraph starts on
        line = next(i for i, text in enumerate(lines) if f.actual in text)
        assert f.sheet == f"第{starts[line]}页"
    assert {f.sheet for f in got} == {"第1页", "第2页"}
    assert all(re.fullmatch(r"第\d+段", f.cell) for f in got)
    [report] = result.reports
    assert report.kind == "pdf" and report.statements == len(SEED_STATEMENTS)


def test_scanned_pdf_is_reported_not_guessed(tmp_path):
    from PIL import Image

    folder = folder_of(tmp_path, FIXED, reports=False)
    Image.new("RGB", (595, 842), "white").save(folder / f"{FIXED}_自评报告.pdf")
    Image.new("RGB", (595, 842), "white").save(folder / "扫描件.pdf")  # no text, not named a report
    result = check(folder)
    assert [(f.code, f.severity, f.sheet, f.cell) for f in report_findings(result)] == [("N721", "warning", None, None)]
    assert "扫描件" in report_findings(result)[0].message and "OCR" not in report_findings(result)[0].message
    assert any(p.name == "扫描件.pdf" for p in result.discovery.skipped)
    assert result.reports[0].readable is False


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04broken"])
def test_broken_docx_is_a_finding_and_the_batch_goes_on(tmp_path, content):
    folder = folder_of(tmp_path, FILED, reports=False)
    (folder / "自评报告.docx").write_bytes(content)
    result = check(folder)
    [finding] = [f for f in report_findings(result) if f.code != "N731"]
    assert finding.code == "N720" and finding.file.endswith("自评报告.docx") and "无法读取" in finding.message
    assert any(f.code == "B401" for f in result.findings)  # the workbook is still checked


# --- pairing -------------------------------------------------------------------------------

def test_report_without_workbook_and_workbook_without_report(tmp_path):
    folder = folder_of(tmp_path, FIXED, reports=False)
    write_report_docx(["2023年度株洲市某某中心整体支出绩效自评报告", "在职人员5人。"], folder / "某某中心自评报告.docx")
    result = check(folder)
    got = {(f.code, Path(f.file).name) for f in report_findings(result)}
    assert got == {("N730", "某某中心自评报告.docx"), ("N731", f"{FIXED}.xlsx")}
    assert next(f for f in result.findings if f.code == "N731").severity == "info"


def test_no_report_asked_for_in_a_folder_of_workbooks_alone(tmp_path):
    result = check(folder_of(tmp_path, FILED, reports=False))
    assert report_findings(result) == [] and result.reports == []


def test_a_docx_that_is_not_a_report_is_skipped(tmp_path):
    folder = folder_of(tmp_path, FIXED)
    write_report_docx(["会议通知", "请于周五前提交材料。"], folder / "通知.docx")
    result = check(folder)
    assert report_findings(result) == [] and len(result.reports) == 1
    assert any(p.name == "通知.docx" for p in result.discovery.skipped)


# --- structure ---------------------------------------------------------------------------

def _fixed_report(tmp_path: Path, edit, name: str = f"{FIXED}_自评报告.docx") -> Path:
    folder = folder_of(tmp_path, FIXED, reports=False)
    write_report_docx(edit(seed_report_lines(REPORT_TEXT, corrected=True)), folder / name)
    return folder


def test_missing_section_and_section_out_of_order(tmp_path):
    def edit(lines):
        lines = [x for x in lines if not x.startswith("九、")]
        i, j = lines.index("七、存在的问题及原因分析"), lines.index("八、下一步改进措施")
        lines[i], lines[j] = lines[j], lines[i]
        return lines

    result = check(_fixed_report(tmp_path, edit))
    got = [(f.code, f.cell, f.message) for f in report_findings(result)]
    assert ("N710", None, "自评报告缺少“九、部门整体支出绩效自评结果拟应用和公开情况”") in got
    # the part that comes after one it should precede: 八 after 七 in the template
    assert any(c == "N710" and "顺序不对" in m and "八、下一步改进措施" in m for c, _, m in got)
    assert len(got) == 2


def test_attachment_list_against_the_tables(tmp_path):
    def edit(lines):  # 附件：1. 整体表  2. 项目表
        return [x.replace("部门整体支出绩效评价基础数据表", "部门整体支出绩效自评表") for x in lines if not x.startswith("2. ")]

    folder = _fixed_report(tmp_path, edit)
    result = check(folder)
    [f] = report_findings(result)
    assert f.code == "N711" and "基础数据表" in f.message and "未列出" in f.message
    # a workbook with the project tables only, a report that lists all three kinds
    only_projects = tmp_path / "项目表"
    only_projects.mkdir()
    render(seed_canvases(SEED_TEXT, corrected=True)[2:], only_projects / "株洲市保障性住房服务中心.xlsx")
    write_report_docx(seed_report_lines(REPORT_TEXT, corrected=True), only_projects / "株洲市保障性住房服务中心自评报告.docx")
    got = {f.message for f in report_findings(check(only_projects)) if f.code == "N711"}
    assert got == {"附件列出“2023年度部门整体支出绩效评价基础数据表”，但工作簿中没有该表",
                   "附件列出“2023年度部门整体支出绩效自评表”，但工作簿中没有该表"}


# --- statements beyond the seed --------------------------------------------------------------

# Each pattern of rules/checks_report.yaml with a sentence it reads and the figure quoted;
# under 六 (unit) or in the section of 人才购房补贴 (project), against the corrected tables.
PATTERN_CASES = {
    ("N701", "实际在职人数"): ("unit", "单位共有在职人员29人。", "在职人员29人", True),
    ("N701", "编制数"): ("unit", "核定编制数18人。", "编制数18人", True),
    ("N702", "基本支出"): ("unit", "基本支出：1349.16万元。", "基本支出：1349.16万元", True),
    ("N702", "各项目全年执行数合计"): ("unit", "项目支出合计1894.22万元。", "项目支出合计1894.22万元", True),
    ("N703", "全年预算数"): ("unit", "全年预算数3243.37万元。", "全年预算数3243.37万元", True),
    ("N703", "全年执行数"): ("unit", "全年执行数3243.37万元。", "全年执行数3243.37万元", True),
    ("N703", "各项目年初预算数合计"): ("unit", "项目支出年初预算2100万元。", "年初预算2100万元", True),
    ("N704", "执行率"): ("unit", "预算执行率为100%。", "执行率为100%", True),
    ("N705", "全年执行数"): ("project", "实际支出913万元。", "实际支出913万元", True),
    ("N705", "全年预算数"): ("project", "全年预算913万元。", "全年预算913万元", True),
    ("N705", "年初预算数"): ("project", "年初预算1000万元。", "年初预算1000万元", True),
    ("N706", "完成数量"): ("project", "人才购房补贴共发放358人。", "发放358人", True),
    ("N707", "总分得分"): ("unit", "自评得分94分，自评结果为优。", "自评得分94分", True),
}


def test_every_pattern_has_a_case():
    assert {(p.code, p.subject_zh) for p in patterns()} == set(PATTERN_CASES)
    for entry in report_rules():
        assert entry["code"] in load_catalog() and entry.get("doc") and entry.get("wrong") and entry.get("right")


def _with_sentence(lines: list[str], where: str, sentence: str) -> list[str]:
    anchor = "（一）整体支出绩效情况" if where == "unit" else "（1）人才购房补贴发放项目"
    i = lines.index(anchor)
    return lines[:i + 1] + [sentence] + lines[i + 1:]


@pytest.mark.parametrize("key", sorted(PATTERN_CASES))
def test_each_pattern_reads_its_figure_and_agrees_with_the_corrected_tables(tmp_path, key):
    where, sentence, stated, _ = PATTERN_CASES[key]
    folder = _fixed_report(tmp_path, lambda lines: _with_sentence(lines, where, sentence))
    book = extract_workbook(next(folder.glob("*.xlsx")))
    report = read_report(next(folder.glob("*.docx")), "r.docx")
    got = [s for s in extract_statements(report, book.of_kind("project")) if s.sentence == sentence]
    assert stated in [s.stated for s in got if (s.code, s.pattern.subject_zh) == key]
    assert report_findings(check(folder)) == []


@pytest.mark.parametrize("key,wrong,expected", [
    (("N701", "编制数"), "核定编制数20人。", "18"),
    (("N702", "各项目全年执行数合计"), "项目支出合计1994.22万元。", "1894.22"),
    (("N703", "全年预算数"), "全年预算数3243.73万元。", "3243.37"),
    (("N703", "全年执行数"), "全年执行数3000万元。", "3243.37"),
    (("N705", "全年执行数"), "实际支出931万元。", "913"),
    (("N705", "全年预算数"), "全年预算1000万元。", "913"),
    (("N705", "年初预算数"), "年初预算913万元。", "1000"),
    (("N704", "执行率"), "预算执行率为98%。", "100.00%"),
])
def test_each_comparison_fails_on_a_wrong_figure(tmp_path, key, wrong, expected):
    where = "project" if key[0] == "N705" else "unit"
    folder = _fixed_report(tmp_path, lambda lines: _with_sentence(lines, where, wrong))
    [f] = report_findings(check(folder))
    assert (f.code, f.expected) == (key[0], expected) and wrong.rstrip("。") in f.message


def test_project_rate_is_the_projects_own(tmp_path):
    folder = _fixed_report(tmp_path, lambda lines: _with_sentence(lines, "project", "项目执行率为89%。"))
    [f] = report_findings(check(folder))
    assert (f.code, f.expected) == ("N704", "100.00%") and "人才购房补贴" in f.message and "Sheet4!G10" in f.message


def test_score_and_grade_against_the_total(tmp_path):
    folder = _fixed_report(tmp_path, lambda lines: _with_sentence(lines, "unit", "自评得分96分，自评等级为良。"))
    got = sorted((f.code, f.actual, f.expected) for f in report_findings(check(folder)))
    assert got == [("N707", "自评得分96分", "94"), ("N707", "自评等级为良", "94")]


def test_rounding_and_approximate_figures(tmp_path):
    # 1349.16 ± 0.005 against the table's 1349.16; 约 / 多 / 以上 figures are not compared
    lines = ["基本支出1349.164万元。", "在职人员约40人。", "在职人员40多人。", "预算执行率80%以上。"]
    folder = _fixed_report(tmp_path, lambda ls: _with_sentence(_with_sentence(_with_sentence(_with_sentence(
        ls, "unit", lines[0]), "unit", lines[1]), "unit", lines[2]), "unit", lines[3]))
    assert report_findings(check(folder)) == []
    folder2 = _fixed_report(tmp_path / "b", lambda ls: _with_sentence(ls, "unit", "基本支出1349.2万元。"))
    assert [f.code for f in report_findings(check(folder2))] == ["N702"]


def test_figures_in_a_table_inside_the_document(tmp_path):
    folder = folder_of(tmp_path, FIXED, reports=False)
    lines = seed_report_lines(REPORT_TEXT, corrected=True)
    write_report_docx(lines, folder / f"{FIXED}_自评报告.docx", tables=[[["项目", "数值"], ["在职人数", "31人"], ["基本支出", "1349.16万元"]]])
    result = check(folder)
    [f] = report_findings(result)
    assert (f.code, f.actual, f.expected, f.cell) == ("N701", "在职人数 31人", "29", f"第{len(lines) + 2}段")


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_generated_units_reports_agree_in_every_layout(tmp_path, name):
    layout, suffix = LAYOUTS[name]
    unit = UnitBuilder(tmp_path, layout, suffix)
    lines = unit_report_lines(unit.spec)
    write_report_docx(lines, tmp_path / "clean_自评报告.docx")
    result = check(unit.clean_path, tmp_path / "clean_自评报告.docx")
    assert report_findings(result) == []
    # 在职人员, 基本支出, 项目支出, 预算安排金额, 实际资金额度, 执行率 and each project's amount
    assert result.reports[0].statements == 6 + len(unit.spec.projects)
    wrong = [x.replace(f"在职人员{unit.spec.staff[1]}人", f"在职人员{unit.spec.staff[1] + 1}人") for x in lines]
    write_report_docx(wrong, tmp_path / "clean_自评报告.docx")
    assert [f.code for f in report_findings(check(unit.clean_path, tmp_path / "clean_自评报告.docx"))] == ["N701"]


# --- outputs -----------------------------------------------------------------------------------

def test_check_output_json_csv_list_both_reports(tmp_path):
    folder = folder_of(tmp_path, FILED, FIXED)
    (tmp_path / "xlsxcheck.toml").write_text("supersede = []\n", encoding="utf-8")  # both filings stand
    runner = CliRunner()
    text = runner.invoke(cli, ["check", str(folder), "-q"])
    assert text.exit_code == 1
    out = text.stdout
    filed_at, fixed_at = out.index(f"{FILED}_自评报告.docx"), out.index(f"{FIXED}_自评报告.docx")
    assert filed_at < out.index("第8段") < out.index("N701") < fixed_at
    assert "未发现问题" in "".join(out[fixed_at:].splitlines()[:2]) and "自评报告 2 份" in out  # the file, then its title
    doc = json.loads(runner.invoke(cli, ["check", str(folder), "--format", "json", "-q"]).stdout)
    assert {Path(r["file"]).name: (Path(r["workbook"]).name, r["errors"], r["warnings"]) for r in doc["reports"]} == {
        f"{FILED}_自评报告.docx": (f"{FILED}.xlsx", 4, 1), f"{FIXED}_自评报告.docx": (f"{FIXED}.xlsx", 0, 0)}
    n701 = next(f for f in doc["findings"] if f["code"] == "N701")
    assert (n701["sheet"], n701["cell"], n701["actual"], n701["expected"], n701["field"]) == (
        "正文", "第8段", "在职人员32人", "29", "N701:base.staff.actual")
    rows = list(csv.DictReader(io.StringIO(runner.invoke(cli, ["check", str(folder), "--format", "csv", "-q"]).stdout)))
    assert sum(r["代码"].startswith("N") for r in rows) == 5  # headers in the run's language
    en = runner.invoke(cli, ["check", str(folder), "--lang", "en", "-q"]).stdout
    assert "The report states “在职人员32人”" in en and "2 reports" in en


def test_rollup_lists_report_findings(tmp_path):
    from openpyxl import load_workbook

    folder = folder_of(tmp_path, FILED)
    out = tmp_path / "汇总.xlsx"
    assert CliRunner().invoke(cli, ["rollup", str(folder), "-o", str(out), "-q"]).exit_code == 1
    sheet = load_workbook(out)["问题清单"]
    codes = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and re.fullmatch(r"N7\d\d", c.value)]
    assert sorted(codes) == ["N701", "N702", "N703", "N704", "N706"]


def test_annotated_docx_comments_each_contradicting_sentence(tmp_path):
    folder = folder_of(tmp_path, FILED, FIXED)
    (tmp_path / "xlsxcheck.toml").write_text("supersede = []\n", encoding="utf-8")  # both filings stand
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    res = CliRunner().invoke(cli, ["check", str(folder), "--annotate", str(tmp_path / "批注"), "--annotate-clean", "-q"])
    assert res.exit_code == 1
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # inputs untouched
    copy = docx.Document(str(tmp_path / "批注" / f"{FILED}_自评报告.docx"))
    comments = list(copy.comments)
    assert [c.text.split("]")[0] for c in comments] == ["[N701", "[N702", "[N703", "[N704", "[N706"]
    assert all(c.author == "xlsxcheck" for c in comments)
    # each comment covers exactly its sentence
    xml = copy.element.xml
    ranges = re.findall(r'<w:commentRangeStart w:id="(\d+)"/>(.*?)<w:commentRangeEnd w:id="\1"/>', xml, re.S)
    covered = ["".join(re.findall(r"<w:t[^>]*>([^<]*)</w:t>", body)) for _, body in ranges]
    assert covered[0] == "单位为株洲市住房和城乡建设局下属正科级财政全额拨款一类事业单位，共有人员100人，其中在职人员32人，退休人员68人。"
    assert covered[4] == "项目支出913万元，主要用于人才购房补贴发放，共发放305人。"
    # the text of the copy is the report's, unchanged
    original = docx.Document(str(folder / f"{FILED}_自评报告.docx"))
    assert [p.text for p in copy.paragraphs] == [p.text for p in original.paragraphs]
    assert list(docx.Document(str(tmp_path / "批注" / f"{FIXED}_自评报告.docx")).comments) == []
    # without --annotate-clean, like a clean workbook, a clean report gets no copy
    res = CliRunner().invoke(cli, ["check", str(folder), "--annotate", str(tmp_path / "批注2"), "-q"])
    assert (tmp_path / "批注2" / f"{FILED}_自评报告.docx").is_file() and not (tmp_path / "批注2" / f"{FIXED}_自评报告.docx").exists()


def test_samples_folder_keeps_failing_and_lists_the_reports():
    res = CliRunner().invoke(cli, ["check", str(SAMPLES), "-q", "--format", "json"])
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    reports = {Path(r["file"]).name: r for r in doc["reports"]}
    assert len(reports) == 7 and reports[f"{FILED}_自评报告.docx"]["superseded_by"] == f"{FIXED}.xlsx"
    assert all(r["errors"] == 0 for r in reports.values())  # the 原报's report goes with its superseded filing
    assert sorted(Path(f["file"]).name for f in doc["findings"] if f["code"].startswith("N")) == [
        "08_青神县发展和改革局_四川一体化.xlsx", "09_中江县水利局_四川县级.xlsx", "10_黄石市第三中学_湖北.xlsx"]  # N731


# --- sentences of published reports ------------------------------------------------------------
# Transcribed from the opening of real filings (only their openings are stored, not their
# tables): the phrasing and layouts the patterns must read, or must leave alone.

# 岳阳市城市管理监督指挥中心 2018年度部门整体支出绩效评价自评报告, 基本概况 as a table
# (http://www.yueyang.gov.cn/cgj/9886/9901/content_1560779.html)
YUEYANG_LINES = ["岳阳市2018年度部门整体支出", "绩效评价自评报告", "部门(单位)名称: 岳阳市城市管理监督指挥中心",
                 "预 算 编 码: 906017", "评价方式:部门(单位)绩效自评", "报告日期:2019年06月18日", "岳阳市财政局(制)",
                 "一、部门(单位)基本概况"]
YUEYANG_TABLE = [["联系人", "吴俊", "联络电话", "8690022"], ["人员编制", "21", "实有人数", "21"]]
# 益阳市赫山区城市管理和综合执法局 2019年部门整体支出绩效评价报告: staff of two sub-units in one sentence
# (http://www.hnhs.gov.cn/23247/23297/23780/content_1219000.html)
HESHAN = ("区城管执法局现有人员1894人,其中局本级187人(在职在编139人、退休人员8人、协管员40人),"
          "环卫处1707人(在职在编132人、退休人员148人、临聘人员272人、3个市场化公司聘用人员1155人)。")
# 红河州数据发展中心2024年度项目支出绩效单位自评报告 (https://www.hh.gov.cn/info/11481/1179592.htm)
HONGHE = ("2024年,红河州数据发展中心(以下简称“州数据发展中心”)实施项目共15个(含2023年转列暂付性款项项目5个),"
          "年初批复预算8个项目985万元(含1个年初结转结余项目50万元),调整预算后项目预算861.46万元,"
          "年中增加8个项目(含2023年转列暂付性款项项目5个),实际到位资金334.67万元。")


def test_published_report_with_its_staff_in_a_table(tmp_path):
    import random

    from xlsxcheck.samples import make_unit, unit_canvases

    spec = make_unit(random.Random(1), "岳阳市城市管理监督指挥中心", "岳阳市城市管理局", 1, year=2018)
    spec.staff = (21, 21)
    render(unit_canvases(spec), tmp_path / "岳阳市城市管理监督指挥中心.xlsx")
    write_report_docx(YUEYANG_LINES, tmp_path / "岳阳市城市管理监督指挥中心自评报告.docx", tables=[YUEYANG_TABLE])
    result = check(tmp_path)
    [report] = result.reports
    assert report.workbook.endswith("岳阳市城市管理监督指挥中心.xlsx") and report.statements == 2
    assert [f for f in report_findings(result) if f.code.startswith("N70")] == []
    spec.staff = (20, 19)
    render(unit_canvases(spec), tmp_path / "岳阳市城市管理监督指挥中心.xlsx")
    got = sorted((f.code, f.actual, f.expected) for f in report_findings(check(tmp_path)) if f.code.startswith("N70"))
    assert got == [("N701", "人员编制 21", "20"), ("N701", "实有人数 21", "19")]


@pytest.mark.parametrize("sentence,expected", [
    (HESHAN, [("N701", "在职在编139人", True), ("N701", "在职在编132人", True)]),  # a breakdown: not compared
    (HONGHE, []),  # 年初批复预算8个项目985万元, 调整预算后项目预算: no pattern claims them
    ("编制2024年度预算时，在职人员约30人。", [("N701", "在职人员约30人", False)]),  # 编制 of a budget is no staff figure
])
def test_published_sentences(tmp_path, sentence, expected):
    write_report_docx(["绩效自评报告", sentence], tmp_path / "r.docx")
    statements = extract_statements(read_report(tmp_path / "r.docx", "r.docx"), [])
    assert [(s.code, s.stated, s.breakdown) for s in statements] == expected
    assert all(s.approximate for s in statements if "约" in s.stated)


def test_many_reports_are_checked_in_worker_processes(tmp_path):
    import random

    from xlsxcheck.samples import make_unit, unit_canvases

    rng = random.Random(3)
    for i in range(8):  # 8 reports and 2 workers: the report check runs in a process pool
        spec = make_unit(rng, f"测试市第{i}服务中心", "测试市住房和城乡建设局", 1)
        render(unit_canvases(spec), tmp_path / f"{i}.xlsx")
        lines = unit_report_lines(spec)
        if i == 5:
            lines = [x.replace(f"在职人员{spec.staff[1]}人", f"在职人员{spec.staff[1] + 2}人") for x in lines]
        write_report_docx(lines, tmp_path / f"{i}_测试市第{i}服务中心_自评报告.docx")
    result = run([str(tmp_path)], Options(jobs=2))
    assert sorted(Path(r.workbook).name for r in result.reports) == [f"{i}.xlsx" for i in range(8)]
    assert [(f.code, Path(f.file).name) for f in report_findings(result)] == [("N701", "5_测试市第5服务中心_自评报告.docx")]
