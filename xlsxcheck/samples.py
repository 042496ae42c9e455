"""Realistic unit workbooks for sample_workbooks/, the tests and the benchmarks.

Two sources: the seed filing (sample_workbooks/seed_tables.txt, the text of a real FY2023
filing, cell by cell) rendered as it was filed and as corrected; and a generator of
further units from a ``UnitSpec`` in a chosen ``Layout`` (offsets, split headers, merged
cells, rates as text, fractions or numbers, amounts with units, numbered sheets …), with
mistakes injected on request.

    python -m xlsxcheck.samples sample_workbooks/     # rebuild the shipped samples
"""

from __future__ import annotations

import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Canvas", "Layout", "UnitSpec", "ProjectSpec", "IndicatorSpec", "Funds",
    "seed_canvases", "render", "unit_canvases", "make_unit", "varied_indicators", "build_samples", "seed_report_lines", "write_report_docx",
    "unit_report_lines",
]


class Canvas:
    """Cells, merges and number formats of one sheet, 0-based, before it is written."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], Any] = {}
        self.merges: list[tuple[int, int, int, int]] = []
        self.formats: dict[tuple[int, int], str] = {}

    def put(self, r: int, c: int, value: Any, fmt: str | None = None) -> None:
        if value is None or value == "":
            return
        self.cells[(r, c)] = value
        if fmt:
            self.formats[(r, c)] = fmt

    def merge(self, r0: int, c0: int, r1: int, c1: int) -> None:
        if (r1, c1) != (r0, c0):
            self.merges.append((r0, c0, r1, c1))

    @property
    def n_rows(self) -> int:
        return max((r for r, _ in self.cells), default=-1) + 1


# --- the seed ---------------------------------------------------------------------------

def _seed_rows(text: str) -> list[list[list[str]]]:
    """The tables of the seed text: a table starts at " \\t", a row is a block of lines, a
    cell a line starting with a tab (lines without a tab continue the cell above)."""
    tables: list[list[list[str]]] = []
    rows: list[list[str]] | None = None
    row: list[str] | None = None
    for line in text.split("\n"):
        if line.startswith(" \t"):
            rows, row = [], [line[2:]]
            tables.append(rows)
            rows.append(row)
        elif rows is None:
            continue
        elif line == "":
            row = None
        elif line.startswith("\t"):
            if row is None:
                row = []
                rows.append(row)
            row.append(line[1:])
        elif row is None:
            row = [line]
            rows.append(row)
        else:
            row[-1] += "\n" + line
    return tables


def _as_excel(text: str) -> tuple[Any, str | None]:
    """A seed cell as Excel would hold it: plain numbers as numbers, "89%" as 0.89 in a %
    format, everything else (including "1000万元" and "3243..37") as the text it is."""
    if re.fullmatch(r"(0|[1-9]\d*)", text):
        return int(text), None
    if re.fullmatch(r"(0|[1-9]\d*)\.\d+", text):
        return float(text), None
    m = re.fullmatch(r"(\d+(?:\.(\d+))?)%", text)
    if m:
        return float(m.group(1)) / 100, "0.00%" if m.group(2) else "0%"
    return text, None


# Corrections of the seed filing: (table, row, cell) -> value as the unit should have filed.
# Rows and cells count from 0 in the seed text's tables (0 base, 1 overall, 2 and 3 projects).
_SEED_FIXES: dict[tuple[int, int, int], str] = {
    (0, 2, 3): "161.11%",                       # 控制率 = 29 / 18, not 32 / 18
    (0, 4, 2): "1",                             # 三公经费 本年预算数 = 0 + 0 + 1
    (1, 3, 4): "3243.37",                       # "3243..37"
    (1, 3, 6): "100%",                          # 执行率 written as 10
    (1, 5, 2): "其中：基本支出：1349.16",         # the whole budget was put under 基本支出
    (1, 6, 2): "项目支出：1894.22",
    (1, 15, 8): "维修点位较多，部分返修",          # a point deducted needs a reason
    (1, 16, 5): "588万", (1, 17, 5): "2256次", (1, 20, 5): "588万", (1, 24, 5): "96%",  # observed values, not ranges
    (1, 21, 8): "部分住户仍有意见，继续改进",
    (2, 3, 1): "株洲市住房和城乡建设局",            # 主管部门 is the bureau, not the unit itself
    (2, 7, 2): "0", (2, 7, 3): "0", (2, 7, 4): "0",  # 上年结转 repeated the 当年财政拨款 row
    (2, 6, 6): "100%", (2, 9, 6): "100%",       # 执行率 = 全年执行数 / 全年预算数
    (2, 15, 5): "350次", (2, 16, 5): "6601户", (2, 17, 5): "1%", (2, 19, 5): "3小时", (2, 25, 5): "91%",
    (2, 18, 5): "98%", (2, 18, 7): "5", (2, 18, 8): "2处返修，已加强验收",  # "98%1"; target 100% not met
    (2, 29, 7): "94",
    (2, 31, 0): "填表人： 肖宏    填报日期： 2024.4.20  联系电话：28227910  单位负责人签字：",
    (3, 3, 1): "株洲市住房和城乡建设局",            # "逐渐和城乡建设局"
    (3, 14, 5): "360人", (3, 16, 5): "95%", (3, 19, 5): "358人", (3, 21, 5): "95%",
    (3, 25, 5): "\u3000", (3, 25, 6): "100", (3, 25, 7): "98",  # the 总分 row was one column to the left
    (3, 27, 0): "填表人： 肖宏    填报日期： 2024.4.20     联系电话：28227910   单位负责人签字：",
}


def seed_canvases(text: str, corrected: bool = False) -> list[tuple[str, Canvas]]:
    sheets = []
    for t, rows in enumerate(_seed_rows(text)):
        canvas = Canvas()
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                if corrected and (t, r, c) in _SEED_FIXES:
                    cell = _SEED_FIXES[(t, r, c)]
                value, fmt = _as_excel(cell)
                canvas.put(r, c, value, fmt)
        canvas.merge(0, 0, 0, 8)  # the title spans the table
        sheets.append((f"Sheet{t + 1}", canvas))
    return sheets


# The seed's written report (sample_workbooks/seed_report.txt) as the unit should have
# written it against its corrected tables: (as filed, corrected) text replacements.
_SEED_REPORT_FIXES = [
    ("共有人员100人，其中在职人员32人", "共有人员97人，其中在职人员29人"),  # 实际在职人数 29 in the 基础数据表
    ("年初预算0万元，调整追加1894.22万元", "年初预算2100万元，调整减少205.78万元"),  # 年初预算数 1100 + 1000
    ("共发放305人", "共发放358人"),  # 358 in the project table and its goal
]


def seed_report_lines(text: str, corrected: bool = False) -> list[str]:
    """The paragraphs of the seed's report, as filed or corrected."""
    if corrected:
        for old, new in _SEED_REPORT_FIXES:
            if old not in text:
                raise ValueError(f"seed report fix does not apply: {old}")
            text = text.replace(old, new)
    return [line.strip() for line in text.splitlines() if line.strip()]


def write_report_docx(lines: list[str], path: Path, tables: list[list[list[str]]] = ()) -> Path:
    """A report as Word writes it: a cover page, a centred title, bold headings (一、…),
    indented body text, 仿宋 for Chinese; ``tables`` are added after the text."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.size = Pt(14)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "仿宋")
    title_at = next((i for i, line in enumerate(lines) if "年度" in line and i > 0), 0)
    for i, line in enumerate(lines):
        paragraph = document.add_paragraph()
        run = paragraph.add_run(line)
        if i <= title_at + 1 and ("报告" in line or i == title_at):
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run.bold, run.font.size = True, Pt(18)
        elif re.match(r"^[一二三四五六七八九十]+、", line):
            run.bold = True
        elif not line.startswith(("附件", "（")) and not re.match(r"^\d+\.\s*\d{4}", line):
            paragraph.paragraph_format.first_line_indent = Pt(28)
        if i == 0:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run.bold, run.font.size = True, Pt(26)
        if i == title_at - 1:  # the cover page ends with its date
            run.add_break(WD_BREAK.PAGE)
    for rows in tables:
        table = document.add_table(rows=len(rows), cols=max(len(r) for r in rows))
        table.style = "Table Grid"
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                table.cell(r, c).text = text
    document.core_properties.author = "xlsxcheck samples"
    path = Path(path)
    document.save(str(path))
    return path


# --- generated units ----------------------------------------------------------------------

@dataclass
class Layout:
    top: int = 0                 # empty rows above every table
    left: int = 0                # empty columns left of every table
    split_headers: bool = True   # "年初" above "预算数"
    merge: bool = False          # merged label cells: level-1 blocks, titles, header values
    rate_style: str = "text"     # text "89%" | fraction 0.89 in a % format | number 89
    amounts_as_text: bool = False  # "1000万元", " 981.22 "
    fullwidth: bool = False      # full-width brackets and spaces in labels
    extra_column: bool = False   # an empty column inside each table
    one_sheet: bool = False      # every table on one sheet, stacked
    numbered_sheets: bool = False  # Sheet1…SheetN, in shuffled order
    bracket: str = "({w}分)"      # how a level-1 label carries its weight


@dataclass
class Funds:
    initial: float
    budget: float
    executed: float


@dataclass
class IndicatorSpec:
    level1: str  # output | benefit | satisfaction | cost
    level2: str
    level3: str
    target: str
    actual: str
    weight: float
    score: float
    reason: str = ""


@dataclass
class ProjectSpec:
    name: str
    department: str
    fiscal: Funds
    carryover: Funds | None
    indicators: list[IndicatorSpec]
    funds_weight: float = 10
    rate_written: float | None = None  # the 执行率 as filed (None: computed correctly)
    score_written: float | None = None  # the funds 得分 as filed
    total_weight: float | None = None
    total_score: float | None = None
    date: str = ""
    goal: tuple[str, str] = ("", "")

    @property
    def total(self) -> Funds:
        c = self.carryover or Funds(0, 0, 0)
        f = self.fiscal
        return Funds(round(f.initial + c.initial, 2), round(f.budget + c.budget, 2), round(f.executed + c.executed, 2))


@dataclass
class UnitSpec:
    unit: str
    department: str
    year: int
    staff: tuple[int, int]  # 编制数, 实际在职人数
    basic: float  # 基本支出 本年决算数
    overall_indicators: list[IndicatorSpec]
    projects: list[ProjectSpec]
    public: tuple[float, float, float] = (300.0, 320.0, 310.5)
    sangong: list[tuple[float, float, float]] = field(default_factory=lambda: [(0.5, 1.0, 0.8), (0.3, 0.5, 0.4), (0, 0, 0), (0.2, 0.4, 0.3)])
    date: str = ""
    control_rate: float | None = None  # as filed; None: computed correctly
    base_project_final: float | None = None  # as filed; None: the sum of the projects
    overall_total_score: float | None = None

LEVEL1_ZH = {"output": "产出指标", "benefit": "效益指标", "satisfaction": "满意度指标", "cost": "成本指标"}
LEVEL1_WEIGHT = {"output": 40, "benefit": 20, "satisfaction": 10, "cost": 20}


def _fw(text: str, layout: Layout) -> str:
    if not layout.fullwidth:
        return text
    return text.replace("(", "（").replace(")", "）").replace(":", "：").replace(" ", "\u3000")


def _amount(v: float, layout: Layout, i: int = 0) -> Any:
    if not layout.amounts_as_text:
        return v
    return f"{v:g}万元" if i % 2 == 0 else f" {v:.2f} "


def _rate(v: float, layout: Layout) -> tuple[Any, str | None]:
    if layout.rate_style == "fraction":
        return round(v, 4), "0.00%"
    if layout.rate_style == "number":
        return round(v * 100, 2), None
    return f"{v * 100:.2f}%".replace(".00%", "%"), None


class _Writer:
    """Writes tables onto a canvas in a layout; columns are logical 0..8 mapped to real ones."""

    def __init__(self, canvas: Canvas, layout: Layout, row: int) -> None:
        self.cv, self.lay, self.r = canvas, layout, row + layout.top

    def col(self, logical: int) -> int:
        c = self.lay.left + logical
        return c + 1 if self.lay.extra_column and logical >= 2 else c

    def put(self, logical: int, value: Any, fmt: str | None = None, r: int | None = None) -> None:
        self.cv.put(self.r if r is None else r, self.col(logical), value, fmt)

    def row(self, *values: Any) -> None:
        for i, v in enumerate(values):
            if isinstance(v, tuple):
                self.put(i, *v)
            else:
                self.put(i, v)
        self.r += 1

    def title(self, text: str) -> None:
        self.put(0, text)
        if self.lay.merge:
            self.cv.merge(self.r, self.col(0), self.r, self.col(8))
        self.r += 1

    def funds_header(self, first: str) -> None:
        if self.lay.split_headers:
            self.row(first, "", "年初", "全年", "全年", "分值", "执行率", "得分")
            self.row("", "", "预算数", "预算数", "执行数", "", "", "")
        else:
            self.row(first, "", "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分")

    def funds_row(self, label: str, f: Funds, weight: Any = "", rate: Any = None, score: Any = "") -> None:
        lay = self.lay
        rate_cell = _rate(rate, lay) if rate is not None else ""
        self.row("", _fw(label, lay), _amount(f.initial, lay, 0), _amount(f.budget, lay, 1), _amount(f.executed, lay, 0), weight, rate_cell, score)

    def indicators(self, items: list[IndicatorSpec], total_weight: Any, total_score: Any) -> None:
        lay = self.lay
        if lay.split_headers:
            self.row("绩效指标", "一级指标", "二级指标", "三级指标", "年度", "实际", "分值", "得分", "偏差原因分析及改进措施")
            self.row("", "", "", "", "指标值", "完成值", "", "", "")
        else:
            self.row("绩效指标", "一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施")
        by_level1: dict[str, list[IndicatorSpec]] = {}
        for ind in items:
            by_level1.setdefault(ind.level1, []).append(ind)
        for key, block in by_level1.items():
            first = self.r
            weight = sum(i.weight for i in block)
            label = _fw(LEVEL1_ZH[key] + lay.bracket.format(w=f"{weight:g}"), lay)
            prev_l2 = None
            for i, ind in enumerate(block):
                show_l2 = ind.level2 if ind.level2 != prev_l2 or lay.merge else ""
                self.row("", label if i == 0 else "", show_l2, ind.level3, ind.target, ind.actual, ind.weight, ind.score, ind.reason)
                prev_l2 = ind.level2
            if lay.merge and len(block) > 1:
                self.cv.merge(first, self.col(1), self.r - 1, self.col(1))
        self.row("总分", "", "", "", "", "", total_weight, total_score, "")

    def footer(self, date: str) -> None:
        self.row(_fw(f"填表人: 张三    填报日期: {date}    联系电话: 0731-28000000", self.lay))
        self.r += 1


def _score_sum(items: list[IndicatorSpec]) -> float:
    return round(sum(i.score for i in items), 2)


def _project_table(w: _Writer, unit: UnitSpec, p: ProjectSpec) -> None:
    lay = w.lay
    w.title(f"{unit.year}年度{unit.unit}项目支出绩效自评表")
    w.row("项目支出名称", p.name)
    if lay.merge:
        w.cv.merge(w.r - 1, w.col(1), w.r - 1, w.col(8))
    w.row("主管部门", p.department, "", "", "实施单位", unit.unit)
    total = p.total
    rate = p.rate_written if p.rate_written is not None else (total.executed / total.budget if total.budget else 0)
    true_rate = total.executed / total.budget if total.budget else 0
    score = p.score_written if p.score_written is not None else round(min(true_rate, 1) * p.funds_weight, 2)
    w.funds_header(_fw("项目资金(万元)", lay))
    w.funds_row("年度资金总额", total, p.funds_weight, rate, score)
    w.funds_row("其中: 当年财政拨款", p.fiscal)
    w.funds_row("上年结转资金", p.carryover or Funds(0, 0, 0))
    w.row("", "其他资金")
    w.row("年度总体目标", "预期目标", "", "", "", "实际完成情况")
    w.row("", p.goal[0], "", "", "", p.goal[1])
    tw = p.total_weight if p.total_weight is not None else sum(i.weight for i in p.indicators) + p.funds_weight
    ts = p.total_score if p.total_score is not None else round(_score_sum(p.indicators) + score, 2)
    w.indicators(p.indicators, tw, ts)
    w.footer(p.date or unit.date)


def _overall_table(w: _Writer, unit: UnitSpec) -> None:
    lay = w.lay
    budget = round(unit.basic + sum(p.total.budget for p in unit.projects), 2)
    executed = round(unit.basic + sum(p.total.executed for p in unit.projects), 2)
    initial = round(unit.basic + sum(p.total.initial for p in unit.projects), 2)
    w.title(f"{unit.year}年度{unit.unit}整体支出绩效自评表")
    w.row(_fw("市级预算部门(单位)名称", lay), unit.unit)
    w.funds_header("年度预算申请(万元)")
    rate = executed / budget if budget else 0
    w.funds_row("年度资金总额", Funds(initial, budget, executed), 10, rate, round(min(rate, 1) * 10, 2))
    proj = round(sum(p.total.executed for p in unit.projects), 2)
    w.row("", _fw(f"按收入性质分: {executed:.2f}", lay), _fw(f"按支出性质分: {executed:.2f}", lay))
    w.row("", _fw(f"其中: 一般公共预算: {executed:.2f}", lay), _fw(f"其中: 基本支出: {unit.basic:.2f}", lay))
    w.row("", "政府性基金拨款:", _fw(f"项目支出: {proj:.2f}", lay))
    w.row("年度总体目标", "预期目标", "", "", "", "实际完成情况")
    w.row("", "全面完成年度工作任务", "", "", "", "全面完成年度工作任务")
    ts = unit.overall_total_score if unit.overall_total_score is not None else round(_score_sum(unit.overall_indicators) + round(min(rate, 1) * 10, 2), 2)
    w.indicators(unit.overall_indicators, 100, ts)
    w.footer(unit.date)


def _base_table(w: _Writer, unit: UnitSpec) -> None:
    lay = w.lay
    y = unit.year
    w.title(f"{y}年度{unit.unit}整体支出绩效评价基础数据表")
    w.row(_fw("财政供养人员情况(人)", lay), "编制数", f"{y}年实际在职人数", "控制率")
    auth, actual = unit.staff
    rate = unit.control_rate if unit.control_rate is not None else actual / auth
    w.row("", auth, actual, _rate(rate, lay))
    w.row(_fw("经费控制情况(万元)", lay), f"{y - 1}年决算数", f"{y}年预算数", f"{y}年决算数")
    car_p, car_m, abroad, reception = unit.sangong
    car = tuple(round(a + b, 2) for a, b in zip(car_p, car_m))
    sangong = tuple(round(a + b + c, 2) for a, b, c in zip(car, abroad, reception))
    w.row("三公经费", *sangong)
    w.row("  1、公务用车购置和维护经费", *car)
    w.row("       其中: 公车购置", *car_p)
    w.row("             公车运行维护", *car_m)
    w.row("  2、出国经费", *abroad)
    w.row("  3、公务接待", *reception)
    proj_final = unit.base_project_final if unit.base_project_final is not None else round(sum(p.total.executed for p in unit.projects), 2)
    proj_budget = round(sum(p.total.initial for p in unit.projects), 2)
    prev = round(proj_final * 0.9, 2)
    w.row(_fw("项目支出:", lay), prev, proj_budget, proj_final)
    w.row("    1、业务工作经费", prev, proj_budget, proj_final)
    w.row("    2、运行维护经费", 0, 0, 0)
    w.row("3、市级专项资金（一个专项一行）", 0, 0, 0)
    pub_prev, pub_budget, pub_final = unit.public
    w.row("公用经费", pub_prev, pub_budget, pub_final)
    w.row("    其中: 办公经费", round(pub_prev * 0.1, 2), round(pub_budget * 0.1, 2), round(pub_final * 0.1, 2))
    w.row("          水费、电费、差旅费", round(pub_prev * 0.05, 2), round(pub_budget * 0.05, 2), round(pub_final * 0.05, 2))
    w.row("          会议费、培训费", 1.2, 2.0, 1.5)
    w.row("政府采购金额", 120.0, 150.0, 140.25)
    w.row("部门基本支出预算调整 ", 0, "", 0)
    w.row("楼堂馆所控制情况", "批复规模", "实际规模（㎡）", "规模控制率")
    w.row("厉行节约保障措施", "严格执行中央八项规定精神，压减一般性支出。")
    w.footer(unit.date)


def unit_canvases(unit: UnitSpec, layout: Layout = Layout(), rng: random.Random | None = None) -> list[tuple[str, Canvas]]:
    """The workbook of a unit: a base table, a whole-unit table and one table per project."""
    writers = [("基础数据表", _base_table, ()), ("整体支出自评表", _overall_table, ())]
    writers += [(f"项目{i + 1}", _project_table, (p,)) for i, p in enumerate(unit.projects)]
    sheets: list[tuple[str, Canvas]] = []
    if layout.one_sheet:
        canvas, row = Canvas(), 0
        for _name, fn, args in writers:
            w = _Writer(canvas, layout, row)
            fn(w, unit, *args)
            row = w.r + 2
        sheets.append(("自评表", canvas))
    else:
        for name, fn, args in writers:
            canvas = Canvas()
            fn(_Writer(canvas, layout, 0), unit, *args)
            sheets.append((name, canvas))
    if layout.numbered_sheets:
        sheets = [(f"Sheet{i + 1}", cv) for i, (_, cv) in enumerate(sheets)]
        (rng or random.Random(0)).shuffle(sheets)
    return sheets


def render(sheets: list[tuple[str, Canvas]], path: Path) -> Path:
    """Write the canvases as .xlsx (openpyxl) or legacy .xls (xlwt) by the path's suffix."""
    path = Path(path)
    if path.suffix.lower() == ".xls":
        import xlwt

        book = xlwt.Workbook(encoding="utf-8")
        styles: dict[str, Any] = {}
        for name, cv in sheets:
            ws = book.add_sheet(name)
            merged_tails = set()
            for r0, c0, r1, c1 in cv.merges:
                ws.merge(r0, r1, c0, c1)
                merged_tails |= {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)} - {(r0, c0)}
            for (r, c), v in cv.cells.items():
                if (r, c) in merged_tails:
                    continue
                fmt = cv.formats.get((r, c))
                if fmt:
                    style = styles.setdefault(fmt, xlwt.easyxf(num_format_str=fmt))
                    ws.write(r, c, v, style)
                else:
                    ws.write(r, c, v)
        book.save(str(path))
        return path
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, cv in sheets:
        ws = book.create_sheet(name)
        for (r, c), v in cv.cells.items():
            cell = ws.cell(row=r + 1, column=c + 1, value=v)
            if isinstance(v, str) and v.startswith("="):
                cell.data_type = "s"  # text from a filing is never a formula
            if (r, c) in cv.formats:
                cell.number_format = cv.formats[(r, c)]
        for r0, c0, r1, c1 in cv.merges:
            ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
    book.save(path)
    return path


# --- unit generator -------------------------------------------------------------------------

_PROJECT_NAMES = [
    "城市道路维护", "老旧小区改造", "农村饮水安全工程", "社区养老服务补贴", "中小学校舍维修", "公共图书馆运行",
    "河道综合治理", "智慧城管平台运维", "人才住房补贴", "就业创业培训", "食品安全抽检", "公共卫生应急物资储备",
]


def _indicators(rng: random.Random, scale: float) -> list[IndicatorSpec]:
    n = rng.randint(50, 900)
    items = [
        IndicatorSpec("output", "数量指标", "完成任务数", f"≥{n}个", f"{n + rng.randint(0, 20)}个", 15, 15),
        IndicatorSpec("output", "质量指标", "验收合格率", "100%", "100%", 15, 15),
        IndicatorSpec("output", "时效指标", "完成时间", "12个月", "11个月", 10, 10),
        IndicatorSpec("benefit", "社会效益指标", "群众获得感", "提升", "提升", 10, 9, "宣传覆盖面仍需扩大"),
        IndicatorSpec("benefit", "可持续影响指标", "长效管护机制", "长期", "长期", 10, 10),
        IndicatorSpec("satisfaction", "服务对象满意度指标", "服务对象满意度", "≥90%", f"{rng.randint(90, 98)}%", 10, 10),
        IndicatorSpec("cost", "经济成本指标", "成本控制数", f"{scale:g}万元", f"{round(scale * rng.uniform(0.85, 1.0), 2):g}万元", 20, 20),
    ]
    return items


# What filers of one template write instead of the fixed seven rows: per level-1 block its
# 二级指标 groups, each with the 三级指标 filers choose from ({n}: a count, {s}: the budget).
_VARIANTS: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "output": {
        "数量指标": [("完成任务数", "≥{n}个", "{n2}个"), ("覆盖人数", "≥{n}人", "{n2}人"), ("新建设施数", "{k}处", "{k}处"),
                  ("培训人次", "≥{n}人次", "{n2}人次")],
        "质量指标": [("验收合格率", "100%", "100%"), ("资金使用合规率", "100%", "100%"), ("设备完好率", "≥95%", "97%")],
        "时效指标": [("完成时间", "12个月", "11个月"), ("资金拨付及时率", "100%", "100%"), ("项目开工时间", "2023年6月前", "2023年5月")],
    },
    "benefit": {
        "经济效益指标": [("带动就业人数", "≥{k}人", "{k}人"), ("节约运行费用", "{k}万元", "{k}万元")],
        "社会效益指标": [("群众获得感", "提升", "提升"), ("政策知晓率", "≥90%", "93%"), ("受益群众人数", "≥{n}人", "{n2}人")],
        "生态效益指标": [("环境改善情况", "明显改善", "明显改善"), ("垃圾无害化处理率", "≥95%", "96%")],
        "可持续影响指标": [("长效管护机制", "长期", "长期"), ("设施持续使用年限", "≥10年", "10年")],
    },
    "satisfaction": {
        "服务对象满意度指标": [("服务对象满意度", "≥90%", "{p}%"), ("群众满意度", "≥85%", "{p}%"), ("受训人员满意度", "≥90%", "{p}%")],
    },
    "cost": {
        "经济成本指标": [("成本控制数", "{s}万元", "{s2}万元"), ("单位面积造价", "≤{k}元/㎡", "{k}元/㎡")],
        "社会成本指标": [("社会稳定风险", "无重大风险", "未发生")],
        "生态环境成本指标": [("环境污染事件", "0起", "0起")],
    },
}


def varied_indicators(rng: random.Random, scale: float) -> list[IndicatorSpec]:
    """Indicators as real filings of one template differ: each level-1 block keeps its weight
    (output 40, benefit 20, satisfaction 10, cost 20) over 1-3 rows of each 二级指标 group it
    has; some groups are left out (output and satisfaction never are)."""
    items = []
    for level1, groups in _VARIANTS.items():
        names = list(groups)
        kept = [g for g in names if rng.random() < 0.6] or [rng.choice(names)]
        rows = [(g, *row) for g in kept for row in rng.sample(groups[g], min(len(groups[g]), rng.randint(1, 3)))]
        total = LEVEL1_WEIGHT[level1]
        weights = [total // len(rows)] * len(rows)
        weights[0] += total - sum(weights)
        for (level2, level3, target, actual), w in zip(rows, weights):
            n = rng.randint(50, 900)
            fill = dict(n=n, n2=n + rng.randint(0, 20), k=rng.randint(2, 60), p=rng.randint(90, 98),
                        s=f"{scale:g}", s2=f"{round(scale * rng.uniform(0.85, 1.0), 2):g}")
            short = rng.random() < 0.15
            items.append(IndicatorSpec(level1, level2, level3, target.format(**fill), actual.format(**fill), w,
                                       max(0, w - 1) if short else w, "受客观因素影响，下年度加强跟踪" if short else ""))
    return items


def make_unit(rng: random.Random, unit: str, department: str, n_projects: int, year: int = 2023, mistakes: tuple[str, ...] = (),
              indicators=None) -> UnitSpec:
    """A unit with plausible, consistent figures, then the named mistakes put in.
    ``indicators(rng, scale)`` makes each table's indicators (default: the same seven rows)."""
    indicators = indicators or _indicators
    projects = []
    start = rng.randint(0, len(_PROJECT_NAMES) - 1)
    for i in range(n_projects):
        budget = round(rng.uniform(20, 2000), 2)
        executed = round(budget * rng.uniform(0.8, 1.0), 2)
        initial = round(budget * rng.choice([1.0, 0.9, 1.1]), 2)
        carry = Funds(0, round(budget * 0.1, 2), round(executed * 0.1, 2)) if i % 3 == 2 else None
        fiscal = Funds(initial, round(budget - (carry.budget if carry else 0), 2), round(executed - (carry.executed if carry else 0), 2))
        name = _PROJECT_NAMES[(start + i) % len(_PROJECT_NAMES)] + ("" if i < len(_PROJECT_NAMES) else f"{i}")
        projects.append(ProjectSpec(
            name=f"{name}项目" if not name.endswith("项目") else name, department=department, fiscal=fiscal, carryover=carry,
            indicators=indicators(rng, budget), date=f"{year + 1}.3.{rng.randint(1, 28)}",
            goal=(f"按期完成{name}年度任务", f"已按期完成{name}年度任务"),
        ))
    auth = rng.randint(10, 120)
    spec = UnitSpec(
        unit=unit, department=department, year=year, staff=(auth, max(1, auth - rng.randint(0, 5))),
        basic=round(rng.uniform(200, 3000), 2), overall_indicators=indicators(rng, 500), projects=projects,
        date=f"{year + 1}.4.{rng.randint(1, 28)}",
    )
    for m in mistakes:
        _MISTAKES[m](spec)
    return spec


def _m_rate(u: UnitSpec) -> None:
    p = u.projects[0]
    p.rate_written = p.total.executed / p.total.initial if p.total.initial != p.total.budget else 0.5


def _m_score_over(u: UnitSpec) -> None:
    u.projects[-1].indicators[0].score = u.projects[-1].indicators[0].weight + 2


def _m_control(u: UnitSpec) -> None:
    u.control_rate = (u.staff[1] + 3) / u.staff[0]


def _m_cross(u: UnitSpec) -> None:
    u.base_project_final = round(sum(p.total.executed for p in u.projects) + 100, 2)


def _m_date(u: UnitSpec) -> None:
    u.projects[0].date = f"{u.year}.3.15"


def _m_reason(u: UnitSpec) -> None:
    ind = u.overall_indicators[min(1, len(u.overall_indicators) - 1)]
    ind.score, ind.reason = ind.weight - 2, ""


def _m_range(u: UnitSpec) -> None:
    u.overall_indicators[min(5, len(u.overall_indicators) - 1)].actual = "≥90%"


def _m_total(u: UnitSpec) -> None:
    u.projects[0].total_score = 99.5


_MISTAKES = {
    "rate_uses_initial": _m_rate, "score_over_weight": _m_score_over, "control_rate": _m_control,
    "cross_project_sum": _m_cross, "date_before_year_end": _m_date, "deduction_without_reason": _m_reason,
    "actual_is_range": _m_range, "total_score": _m_total,
}
MISTAKES = tuple(_MISTAKES)


def _wan(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") + "万元"


def unit_report_lines(unit: UnitSpec) -> list[str]:
    """The 自评报告 of a generated unit, in the template's ten parts, stating the figures
    of its tables as they should be (mistakes injected into the tables are not repeated)."""
    executed = round(unit.basic + sum(p.total.executed for p in unit.projects), 2)
    budget = round(unit.basic + sum(p.total.budget for p in unit.projects), 2)
    projects = round(sum(p.total.executed for p in unit.projects), 2)
    lines = [
        "绩效自评报告", f"部门（单位）名称：{unit.unit}（盖章）", f"{unit.year + 1}年4月10日",
        f"{unit.year}年度{unit.unit}整体支出", "绩效自评报告",
        "一、部门（单位）基本情况",
        f"{unit.unit}为{unit.department}下属事业单位，其中在职人员{unit.staff[1]}人。",
        "二、一般公共预算支出情况",
        f"（一）基本支出情况：基本支出{_wan(unit.basic)}。",
        f"（二）项目支出情况：项目支出{_wan(projects)}。",
        "三、政府性基金预算支出情况", "本年度无政府性基金预算支出。",
        "四、国有资本经营预算支出情况", "本年度无国有资本经营预算支出。",
        "五、社会保险基金预算支出情况", "本年度无社会保险基金预算支出。",
        "六、资金使用及绩效情况", "（一）整体支出绩效情况",
        f"{unit.year}年度预算安排金额{_wan(budget)}，实际资金额度{_wan(executed)}，预算资金执行率{executed / budget * 100:.2f}%。",
        "（二）项目支出绩效情况",
    ]
    for i, p in enumerate(unit.projects, start=1):
        lines += [f"（{i}）{p.name}", f"项目支出{_wan(p.total.executed)}，{p.goal[1]}。"]
    lines += [
        "七、存在的问题及原因分析", "部分绩效指标设置不够细化。",
        "八、下一步改进措施", "进一步细化绩效目标，加强预算执行监控。",
        "九、部门整体支出绩效自评结果拟应用和公开情况", "自评结果将在主管部门官网公开。",
        "十、其他需要说明的情况", "无。",
        f"附件：1. {unit.year}年度部门整体支出绩效评价基础数据表",
        f"2. {unit.year}年度部门整体支出绩效自评表", f"3. {unit.year}年度项目支出绩效自评表",
    ]
    return lines


# --- the shipped folder -----------------------------------------------------------------------

BUREAU = "株洲市住房和城乡建设局"
_UNITS = [
    # (file, unit, projects, mistakes, layout, suffix)
    ("03_株洲市住房公积金服务中心.xlsx", "株洲市住房公积金服务中心", 3, (), Layout(), ".xlsx"),
    ("04_株洲市建设工程质量安全监督站.xlsx", "株洲市建设工程质量安全监督站", 2, ("rate_uses_initial", "deduction_without_reason"),
     Layout(top=2, left=1, merge=True, rate_style="fraction", fullwidth=True, bracket="（{w}分）"), ".xlsx"),
    ("05_株洲市城市建设档案馆.xlsx", "株洲市城市建设档案馆", 1, (), Layout(numbered_sheets=True, split_headers=False, rate_style="number", amounts_as_text=True), ".xlsx"),
    ("06_株洲市建筑节能与科技服务中心.xlsx", "株洲市建筑节能与科技服务中心", 4, ("control_rate", "cross_project_sum", "score_over_weight"),
     Layout(one_sheet=True, extra_column=True, bracket="({w}分"), ".xlsx"),
    ("07_株洲市市政设施维护中心.xls", "株洲市市政设施维护中心", 2, ("date_before_year_end", "actual_is_range", "total_score"), Layout(merge=True), ".xls"),
]


def build_samples(out: Path, seed_text: str, report_text: str | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [
        render(seed_canvases(seed_text), out / "01_株洲市保障性住房服务中心_原报.xlsx"),
        render(seed_canvases(seed_text, corrected=True), out / "02_株洲市保障性住房服务中心_更正.xlsx"),
    ]
    if report_text is not None:
        written += [
            write_report_docx(seed_report_lines(report_text), out / "01_株洲市保障性住房服务中心_原报_自评报告.docx"),
            write_report_docx(seed_report_lines(report_text, corrected=True), out / "02_株洲市保障性住房服务中心_更正_自评报告.docx"),
        ]
    rng = random.Random(2023)
    for file, unit, n, mistakes, layout, _suffix in _UNITS:
        spec = make_unit(rng, unit, BUREAU, n, mistakes=mistakes)
        written.append(render(unit_canvases(spec, layout, rng), out / file))
        if report_text is not None:
            written.append(write_report_docx(unit_report_lines(spec), out / f"{Path(file).stem}_自评报告.docx"))
    return written


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "sample_workbooks")
    seed = (out / "seed_tables.txt").read_text(encoding="utf-8")
    report = (out / "seed_report.txt").read_text(encoding="utf-8")
    for path in build_samples(out, seed, report):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
