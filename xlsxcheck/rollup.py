"""The bureau-wide rollup workbook (汇总): every unit, project, indicator and finding of a run.

Totals are live Excel formulas (SUBTOTAL, so that department subtotals are not counted
twice, and 执行率 as a ratio of the totals). Units with a duplicate filing, and with
``exclude_errors`` units with errors, are listed below the totals instead of in them.
No text from a workbook is ever written as a formula.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .checks.duplicate_filing import duplicates
from .checks.grade_matches_score import grade_of
from .model import BookSummary
from .output import atomic_path, refuse_inputs
from .pipeline import RunResult
from .values import normalize

__all__ = ["write_rollup", "SHEETS", "RATE_BANDS"]

SHEETS = {
    "units": ("单位汇总", "Units"),
    "projects": ("项目汇总", "Projects"),
    "indicators": ("指标明细", "Indicators"),
    "base": ("基础数据", "Base data"),
    "findings": ("问题清单", "Findings"),
    "stats": ("统计", "Statistics"),
    "missing": ("未报送", "Not filed"),
}
AMOUNT = "#,##0.00"
RATE = "0.00%"
GRADES = ("优", "良", "中", "差")
RATE_BANDS = ((0, 0.6, "<60%"), (0.6, 0.8, "60%-80%"), (0.8, 0.9, "80%-90%"), (0.9, 1.0, "90%-100%"), (1.0, float("inf"), "≥100%"))
_BASE_ITEMS = (("sangong", "三公经费"), ("car", "公务用车购置和维护经费"), ("abroad", "出国经费"), ("reception", "公务接待"),
               ("project", "项目支出"), ("public", "公用经费"), ("procurement", "政府采购金额"))
_ERRORS_EXCLUDED = "有错误，未计入合计"
_BASE_COLS = (("prev_final", "上年决算数"), ("budget", "本年预算数"), ("final", "本年决算数"))


@dataclass
class _Unit:
    book: BookSummary
    department: str
    parent: str
    initial: float | None
    budget: float | None
    executed: float | None
    score: float | None
    errors: int
    warnings: int
    status: str  # "" counted | text saying why not


def _set(ws, row: int, col: int, value: Any, fmt: str | None = None):
    if isinstance(value, str) and not isinstance(value, Formula):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters an .xls may hold
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not getattr(value, "is_formula", False):
        cell.data_type = "s"  # workbook text stays text
    if fmt:
        cell.number_format = fmt
    return cell


class Formula(str):
    """A formula xlsxcheck wrote itself (the only strings written as formulas)."""

    is_formula = True


def _header(ws, headers: list[str], widths: list[int]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    fill = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
    for i, (h, w) in enumerate(zip(headers, widths), start=1):
        c = _set(ws, 1, i, h)
        c.font, c.fill, c.alignment = Font(bold=True), fill, Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[c.column_letter].width = w
    ws.freeze_panes = "B2"


def _filter(ws, n_cols: int, last_row: int) -> None:
    from openpyxl.utils import get_column_letter

    ws.auto_filter.ref = f"A1:{get_column_letter(n_cols)}{max(last_row, 1)}"


def _units(result: RunResult, registry, exclude_errors: bool) -> list[_Unit]:
    dup = duplicates(result.books)
    units = []
    for pos, book in enumerate(result.books):
        if not book.readable or not book.tables:
            status = "无法读取，未计入" if not book.readable else "无标准表，未计入"
        elif pos in dup:
            status = f"重复报送（同 {Path(result.books[dup[pos]].file).name}），未计入"
        else:
            status = ""
        c = result.counts(book.file)
        if not status and exclude_errors and c["error"]:
            status = _ERRORS_EXCLUDED
        department, parent = book.department, ""
        if registry is not None:
            entry = next((v for k, v in registry.units.items() if normalize(k) == normalize(book.unit)), None)
            if entry:
                department, parent = entry[0] or department, entry[1]
        units.append(_Unit(book, department or "（未填主管部门）", parent, *book.funds, book.total_score,
                           c["error"], c["warning"], status))
    return units


def _listed(u: _Unit) -> bool:
    """Units whose projects, indicators and base data the detail sheets show: all but
    duplicates and unreadable files (units left out of totals for errors are shown)."""
    return not u.status or u.status == _ERRORS_EXCLUDED


def _units_sheet(wb, units: list[_Unit], lang: str) -> tuple[int, int]:
    from openpyxl.styles import Font, PatternFill

    ws = wb.create_sheet(SHEETS["units"][0 if lang == "zh" else 1])
    headers = ["单位", "主管部门", "上级单位", "年度", "年初预算数", "全年预算数", "全年执行数", "执行率", "自评总分", "等级",
               "项目数", "错误", "警告", "来源文件", "状态"]
    _header(ws, headers, [30, 26, 18, 7, 13, 13, 13, 9, 9, 6, 7, 6, 6, 40, 24])
    bold = Font(bold=True)
    red = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")
    row = 2
    counted = [u for u in units if not u.status]
    by_dep: dict[str, list[_Unit]] = defaultdict(list)
    for u in counted:
        by_dep[u.department].append(u)
    for dep in sorted(by_dep):
        first = row
        for u in sorted(by_dep[dep], key=lambda x: x.book.unit):
            _unit_row(ws, row, u, red)
            row += 1
        _total_row(ws, row, first, row - 1, f"{dep} 小计", bold)
        row += 1
    total_row = row
    _total_row(ws, row, 2, row - 1, "合计", bold)
    last_data = row
    row += 2
    others = [u for u in units if u.status]
    if others:
        _set(ws, row, 1, "未计入合计的单位").font = bold
        row += 1
        for u in others:
            _unit_row(ws, row, u, red)
            row += 1
    _filter(ws, len(headers), last_data)
    return total_row, len(counted)


def _unit_row(ws, row: int, u: _Unit, red) -> None:
    b = u.book
    rate = u.executed / u.budget if u.executed is not None and u.budget else None
    values = [b.unit, u.department, u.parent, b.year, u.initial, u.budget, u.executed, rate, u.score,
              grade_of(u.score) if u.score is not None else "", b.projects, u.errors, u.warnings,
              b.file, u.status]
    fmts = [None, None, None, None, AMOUNT, AMOUNT, AMOUNT, RATE] + [None] * 7
    for col, (v, f) in enumerate(zip(values, fmts), start=1):
        _set(ws, row, col, v, f)
    if u.errors:
        ws.cell(row=row, column=12).fill = red


def _total_row(ws, row: int, first: int, last: int, label: str, bold) -> None:
    _set(ws, row, 1, label).font = bold
    for col in (5, 6, 7, 11, 12, 13):
        letter = ws.cell(row=row, column=col).column_letter
        c = _set(ws, row, col, Formula(f"=SUBTOTAL(9,{letter}{first}:{letter}{last})"), AMOUNT if col < 8 else None)
        c.font = bold
    c = _set(ws, row, 8, Formula(f'=IF(F{row}=0,"",G{row}/F{row})'), RATE)
    c.font = bold


def _projects_sheet(wb, units: list[_Unit], lang: str) -> int:
    from openpyxl.styles import Font

    ws = wb.create_sheet(SHEETS["projects"][0 if lang == "zh" else 1])
    headers = ["单位", "主管部门", "项目名称", "年初预算数", "全年预算数", "全年执行数", "执行率", "自评得分", "等级", "来源"]
    _header(ws, headers, [30, 26, 30, 13, 13, 13, 9, 9, 6, 40])
    row = 2
    for u in filter(_listed, units):
        for p in u.book.project_rows:
            rate = p.executed / p.budget if p.executed is not None and p.budget else None
            values = [u.book.unit, u.department, p.name, p.initial, p.budget, p.executed, rate, p.score,
                      grade_of(p.score) if p.score is not None else "", f"{u.book.file} / {p.sheet}"]
            fmts = [None, None, None, AMOUNT, AMOUNT, AMOUNT, RATE, None, None, None]
            for col, (v, f) in enumerate(zip(values, fmts), start=1):
                _set(ws, row, col, v, f)
            row += 1
    last = row - 1
    _set(ws, row, 1, "合计").font = Font(bold=True)
    for col in (4, 5, 6):
        letter = ws.cell(row=row, column=col).column_letter
        _set(ws, row, col, Formula(f"=SUM({letter}2:{letter}{max(last, 2)})"), AMOUNT).font = Font(bold=True)
    _set(ws, row, 7, Formula(f'=IF(E{row}=0,"",F{row}/E{row})'), RATE).font = Font(bold=True)
    _filter(ws, len(headers), last)
    return last - 1  # rows 2..last hold the projects


def _indicators_sheet(wb, units: list[_Unit], lang: str) -> None:
    ws = wb.create_sheet(SHEETS["indicators"][0 if lang == "zh" else 1])
    headers = ["单位", "表", "一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施", "来源单元格"]
    _header(ws, headers, [28, 30, 18, 18, 30, 16, 16, 7, 7, 30, 22])
    row = 2
    for u in filter(_listed, units):
        for indicator in u.book.indicator_rows:
            for col, v in enumerate((u.book.unit, *indicator), start=1):
                _set(ws, row, col, v)
            row += 1
    _filter(ws, len(headers), row - 1)


def _base_sheet(wb, units: list[_Unit], lang: str) -> None:
    ws = wb.create_sheet(SHEETS["base"][0 if lang == "zh" else 1])
    headers = ["单位", "编制数", "实际在职人数", "控制率"] + [f"{item}·{col}" for _, item in _BASE_ITEMS for _, col in _BASE_COLS]
    _header(ws, headers, [30, 8, 10, 9] + [14] * (len(headers) - 4))
    row = 2
    for u in filter(_listed, units):
        base = u.book.base
        if not base:
            continue
        values: list[Any] = [u.book.unit, base.get("staff.authorized"), base.get("staff.actual"), base.get("staff.control_rate")]
        values += [base.get(f"{key}.{col}") for key, _ in _BASE_ITEMS for col, _ in _BASE_COLS]
        for col, v in enumerate(values, start=1):
            _set(ws, row, col, v, RATE if col == 4 else AMOUNT if col > 4 else None)
        row += 1
    _filter(ws, len(headers), row - 1)


def _findings_sheet(wb, result: RunResult, lang: str) -> None:
    ws = wb.create_sheet(SHEETS["findings"][0 if lang == "zh" else 1])
    headers = ["单位", "文件", "工作表", "单元格", "代码", "级别", "问题说明", "应为", "实为", "审核说明"]
    _header(ws, headers, [28, 36, 14, 9, 7, 7, 80, 14, 14, 24])
    names = {"error": "错误", "warning": "警告", "info": "提示"}
    for row, f in enumerate(result.findings, start=2):
        values = [f.unit, f.file, f.sheet or "", f.cell or "", f.code, names[f.severity], f.text(lang), f.expected, f.actual, f.waived]
        for col, v in enumerate(values, start=1):
            _set(ws, row, col, v)
    _filter(ws, len(headers), len(result.findings) + 1)


def _stats_sheet(wb, units_ws_name: str, units: list[_Unit], total_row: int, lang: str) -> None:
    from openpyxl.chart import BarChart, Reference

    ws = wb.create_sheet(SHEETS["stats"][0 if lang == "zh" else 1])
    _header(ws, ["等级", "单位数"], [16, 10])
    ref = f"'{units_ws_name}'!$J$2:$J${max(total_row - 1, 2)}"
    for i, g in enumerate(GRADES, start=2):
        _set(ws, i, 1, g)
        _set(ws, i, 2, Formula(f'=COUNTIF({ref},"{g}")'))
    _set(ws, 7, 1, "执行率区间")
    _set(ws, 7, 2, "单位数")
    counted = [u for u in units if not u.status]
    for i, (lo, hi, label) in enumerate(RATE_BANDS, start=8):
        n = sum(1 for u in counted if u.budget and u.executed is not None and lo <= u.executed / u.budget < hi)
        _set(ws, i, 1, label)
        _set(ws, i, 2, n)
    for title, first, last, anchor in (("等级分布", 2, 5, "D2"), ("执行率分布", 8, 7 + len(RATE_BANDS), "D18")):
        chart = BarChart()
        chart.title, chart.legend = title, None
        chart.add_data(Reference(ws, min_col=2, min_row=first, max_row=last), titles_from_data=False)
        chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
        chart.height, chart.width = 7, 12
        ws.add_chart(chart, anchor)


def _missing_sheet(wb, result: RunResult, registry, lang: str) -> tuple[int, int]:
    ws = wb.create_sheet(SHEETS["missing"][0 if lang == "zh" else 1])
    _header(ws, ["单位", "主管部门", "情况"], [34, 28, 30])
    filed = {normalize(b.unit) for b in result.books if b.tables}
    known = {normalize(u) for u in registry.units}
    row = 2
    missing = [(u, dep) for u, (dep, _) in registry.units.items() if normalize(u) not in filed]
    for unit, dep in missing:
        for col, v in enumerate((unit, dep, "名录内单位，未报送"), start=1):
            _set(ws, row, col, v)
        row += 1
    extra = [b for b in result.books if b.tables and normalize(b.unit) not in known]
    for b in extra:
        for col, v in enumerate((b.unit, b.department, f"已报送，但不在名录中（{b.file}）"), start=1):
            _set(ws, row, col, v)
        row += 1
    _filter(ws, 3, row - 1)
    return len(missing), len(extra)


def write_rollup(result: RunResult, output: str | Path, lang: str = "zh", exclude_errors: bool = False) -> str:
    """Write the rollup atomically; return a one-line summary for the terminal."""
    from openpyxl import Workbook as XWorkbook

    output = Path(output)
    refuse_inputs(output, [b.path for b in result.books])
    registry = result.registry
    units = _units(result, registry, exclude_errors)
    wb = XWorkbook()
    wb.remove(wb.active)
    total_row, n_units = _units_sheet(wb, units, lang)
    n_projects = _projects_sheet(wb, units, lang)
    _indicators_sheet(wb, units, lang)
    _base_sheet(wb, units, lang)
    _findings_sheet(wb, result, lang)
    _stats_sheet(wb, wb.worksheets[0].title, units, total_row, lang)
    missing = (0, 0)
    if registry is not None:
        missing = _missing_sheet(wb, result, registry, lang)
    with atomic_path(output) as tmp:
        wb.save(tmp)
    skipped = Counter(u.status for u in units if u.status)
    note = "；".join(f"{k} {v}" for k, v in skipped.items())
    text = f"汇总：{n_units} 个单位计入合计，{n_projects} 个项目 → {output}"
    if registry is not None:
        text += f"；未报送 {missing[0]}，名录外 {missing[1]}"
    return text + (f"（{note}）" if note else "")
