"""The bureau-wide rollup workbook (汇总): every unit, project, indicator and finding of a run.

Totals are live Excel formulas (SUBTOTAL, so that department subtotals are not counted
twice, and 执行率 as a ratio of the totals). Units with a duplicate filing, and with
``exclude_errors`` units with errors, are listed below the totals instead of in them.
No text from a workbook is ever written as a formula.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .checks.duplicate_filing import duplicates
from .checks.grade_matches_score import grade_of
from .model import BookSummary
from .output import atomic_path, refuse_inputs
from .pipeline import RunResult
from .report.terminal import UI

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


class Formula(str):
    """A formula xlsxcheck wrote itself: the only strings written as formulas."""


class _Sheet:
    """One sheet written row by row in openpyxl's write-only mode (streamed to disk, so a
    rollup of ten thousand units does not hold millions of cell objects)."""

    def __init__(self, wb, title: str, headers: list[str], widths: list[int]) -> None:
        from openpyxl.utils import get_column_letter

        self.ws = wb.create_sheet(title)
        self.n_cols = len(headers)
        for i, w in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = w
        self.ws.freeze_panes = "B2"
        # Printed (or exported to PDF) landscape, as wide as one page.
        self.ws.page_setup.orientation = "landscape"
        self.ws.sheet_properties.pageSetUpPr.fitToPage = True
        self.ws.page_setup.fitToWidth, self.ws.page_setup.fitToHeight = 1, 0
        self.row = 0
        self.append(headers, style="header")

    def append(self, values: list[Any], fmts: list[str | None] | None = None, style: str = "", fill_col: int | None = None) -> int:
        """Write a row; return its number."""
        cells = [self._cell(v, fmts[i] if fmts else None, style, fill_col == i) for i, v in enumerate(values)]
        self.ws.append(cells)
        self.row += 1
        return self.row

    def _cell(self, value: Any, fmt: str | None, style: str, red: bool):
        if isinstance(value, str) and not isinstance(value, Formula):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters an .xls may hold
            if not (value[:1] in ("=", "+", "-", "@") or style or red):
                return value
        elif not (fmt or style or red or isinstance(value, Formula)):
            return value
        cell = WriteOnlyCell(self.ws, value=value)
        if isinstance(value, str) and not isinstance(value, Formula):
            cell.data_type = "s"  # workbook text stays text
        if fmt:
            cell.number_format = fmt
        if style:
            cell.font, cell.fill, cell.alignment = _STYLES[style]
        if red:
            cell.fill = _RED
        return cell

    def close(self, last_row: int | None = None) -> None:
        from openpyxl.utils import get_column_letter

        self.ws.auto_filter.ref = f"A1:{get_column_letter(self.n_cols)}{max(last_row or self.row, 1)}"


def _styles():
    from openpyxl.styles import Alignment, Font, PatternFill

    header = (Font(bold=True), PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7"),
              Alignment(horizontal="center", vertical="center", wrap_text=True))
    total = (Font(bold=True), PatternFill(fill_type=None), Alignment())
    return {"header": header, "total": total}, PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")


_STYLES, _RED = _styles()


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
            entry = registry.entry(book.unit)
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
    sheet = _Sheet(wb, SHEETS["units"][0 if lang == "zh" else 1],
                   ["单位", "主管部门", "上级单位", "年度", "年初预算数", "全年预算数", "全年执行数", "执行率", "自评总分", "等级",
                    "项目数", "错误", "警告", "来源文件", "状态"],
                   [30, 26, 18, 7, 13, 13, 13, 9, 9, 6, 7, 6, 6, 40, 24])
    counted = [u for u in units if not u.status]
    by_dep: dict[str, list[_Unit]] = defaultdict(list)
    for u in counted:
        by_dep[u.department].append(u)
    for dep in sorted(by_dep):
        first = sheet.row + 1
        for u in sorted(by_dep[dep], key=lambda x: x.book.unit):
            _unit_row(sheet, u)
        _total_row(sheet, first, sheet.row, f"{dep} 小计")
    total_row = _total_row(sheet, 2, sheet.row, "合计")
    others = [u for u in units if u.status]
    if others:
        sheet.append([])
        sheet.append(["未计入合计的单位"], style="total")
        for u in others:
            _unit_row(sheet, u)
    sheet.close(total_row)
    return total_row, len(counted)


_UNIT_FMTS = [None, None, None, None, AMOUNT, AMOUNT, AMOUNT, RATE] + [None] * 7


def _unit_row(sheet: _Sheet, u: _Unit) -> None:
    b = u.book
    rate = u.executed / u.budget if u.executed is not None and u.budget else None
    sheet.append([b.unit, u.department, u.parent, b.year, u.initial, u.budget, u.executed, rate, u.score,
                  grade_of(u.score) if u.score is not None else "", b.projects, u.errors, u.warnings, b.file, u.status],
                 _UNIT_FMTS, fill_col=11 if u.errors else None)


def _total_row(sheet: _Sheet, first: int, last: int, label: str) -> int:
    row = sheet.row + 1
    values: list[Any] = [label] + [None] * 14
    for col in (5, 6, 7, 11, 12, 13):
        letter = "ABCDEFGHIJKLMNO"[col - 1]
        values[col - 1] = Formula(f"=SUBTOTAL(9,{letter}{first}:{letter}{last})")
    values[7] = Formula(f'=IF(F{row}=0,"",G{row}/F{row})')
    return sheet.append(values, _UNIT_FMTS, style="total")


def _projects_sheet(wb, units: list[_Unit], lang: str) -> int:
    sheet = _Sheet(wb, SHEETS["projects"][0 if lang == "zh" else 1],
                   ["单位", "主管部门", "项目名称", "年初预算数", "全年预算数", "全年执行数", "执行率", "自评得分", "等级", "来源"],
                   [30, 26, 30, 13, 13, 13, 9, 9, 6, 40])
    fmts = [None, None, None, AMOUNT, AMOUNT, AMOUNT, RATE, None, None, None]
    for u in filter(_listed, units):
        for p in u.book.project_rows:
            rate = p.executed / p.budget if p.executed is not None and p.budget else None
            sheet.append([u.book.unit, u.department, p.name, p.initial, p.budget, p.executed, rate, p.score,
                          grade_of(p.score) if p.score is not None else "", f"{u.book.file} / {p.sheet}"], fmts)
    last = sheet.row
    row = last + 1
    sheet.append(["合计", None, None, *(Formula(f"=SUM({c}2:{c}{max(last, 2)})") for c in "DEF"),
                  Formula(f'=IF(E{row}=0,"",F{row}/E{row})')], fmts, style="total")
    sheet.close(last)
    return last - 1  # rows 2..last hold the projects


def _indicators_sheet(wb, units: list[_Unit], lang: str) -> None:
    sheet = _Sheet(wb, SHEETS["indicators"][0 if lang == "zh" else 1],
                   ["单位", "表", "一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施", "来源单元格"],
                   [28, 30, 18, 18, 30, 16, 16, 7, 7, 30, 22])
    for u in filter(_listed, units):
        for indicator in u.book.indicator_rows:
            sheet.append([u.book.unit, *indicator])
    sheet.close()


def _base_sheet(wb, units: list[_Unit], lang: str) -> None:
    headers = ["单位", "编制数", "实际在职人数", "控制率"] + [f"{item}·{col}" for _, item in _BASE_ITEMS for _, col in _BASE_COLS]
    sheet = _Sheet(wb, SHEETS["base"][0 if lang == "zh" else 1], headers, [30, 8, 10, 9] + [14] * (len(headers) - 4))
    fmts = [None, None, None, RATE] + [AMOUNT] * (len(headers) - 4)
    for u in filter(_listed, units):
        base = u.book.base
        if base:
            sheet.append([u.book.unit, base.get("staff.authorized"), base.get("staff.actual"), base.get("staff.control_rate")]
                         + [base.get(f"{key}.{col}") for key, _ in _BASE_ITEMS for col, _ in _BASE_COLS], fmts)
    sheet.close()


def _findings_sheet(wb, result: RunResult, lang: str) -> None:
    sheet = _Sheet(wb, SHEETS["findings"][0 if lang == "zh" else 1],
                   ["单位", "文件", "工作表", "单元格", "代码", "级别", "问题说明", "应为", "实为", "审核说明"],
                   [28, 36, 14, 9, 7, 7, 80, 14, 14, 24])
    for f in result.findings:
        sheet.append([f.unit, f.file, f.sheet or "", f.cell or "", f.code, UI[lang][f.severity], f.text(lang), f.expected, f.actual, f.waived])
    sheet.close()


def _stats_sheet(wb, units_ws_name: str, units: list[_Unit], total_row: int, lang: str) -> None:
    from openpyxl.chart import BarChart, Reference

    sheet = _Sheet(wb, SHEETS["stats"][0 if lang == "zh" else 1], ["等级", "单位数"], [16, 10])
    ref = f"'{units_ws_name}'!$J$2:$J${max(total_row - 1, 2)}"
    for g in GRADES:
        sheet.append([g, Formula(f'=COUNTIF({ref},"{g}")')])
    sheet.append([])
    sheet.append(["执行率区间", "单位数"], style="header")
    counted = [u for u in units if not u.status]
    for lo, hi, label in RATE_BANDS:
        sheet.append([label, sum(1 for u in counted if u.budget and u.executed is not None and lo <= u.executed / u.budget < hi)])
    for title, first, last, anchor in (("等级分布", 2, 5, "D2"), ("执行率分布", 8, 7 + len(RATE_BANDS), "D18")):
        chart = BarChart()
        chart.title, chart.legend = title, None
        chart.add_data(Reference(sheet.ws, min_col=2, min_row=first, max_row=last), titles_from_data=False)
        chart.set_categories(Reference(sheet.ws, min_col=1, min_row=first, max_row=last))
        chart.height, chart.width = 7, 12
        sheet.ws.add_chart(chart, anchor)


def _missing_sheet(wb, result: RunResult, registry, lang: str) -> tuple[int, int]:
    sheet = _Sheet(wb, SHEETS["missing"][0 if lang == "zh" else 1], ["单位", "主管部门", "情况"], [34, 28, 30])
    missing, extra = registry.compare(result.books)  # the same reading as D602 and D603
    for unit, dep in missing:
        sheet.append([unit, dep, "名录内单位，未报送"])
    for b in extra:
        sheet.append([b.unit, b.department, f"已报送，但不在名录中（{b.file}）"])
    sheet.close()
    return len(missing), len(extra)


def write_rollup(result: RunResult, output: str | Path, lang: str = "zh", exclude_errors: bool = False) -> str:
    """Write the rollup atomically; return a one-line summary for the terminal."""
    from openpyxl import Workbook as XWorkbook

    if not result.rollup_rows:
        raise ValueError("the run did not keep rollup rows: run it with Options(rollup_rows=True)")
    output = Path(output)
    refuse_inputs(output, [b.path for b in result.books])
    registry = result.registry
    units = _units(result, registry, exclude_errors)
    wb = XWorkbook(write_only=True)
    total_row, n_units = _units_sheet(wb, units, lang)
    n_projects = _projects_sheet(wb, units, lang)
    _indicators_sheet(wb, units, lang)
    _base_sheet(wb, units, lang)
    _findings_sheet(wb, result, lang)
    _stats_sheet(wb, SHEETS["units"][0 if lang == "zh" else 1], units, total_row, lang)
    missing = (0, 0)
    if registry is not None:
        missing = _missing_sheet(wb, result, registry, lang)
    try:
        with atomic_path(output) as tmp:
            wb.save(tmp)
    except BaseException:
        for ws in wb.worksheets:  # release the streamed sheets' temporary files
            with contextlib.suppress(Exception):
                ws.close()
        raise
    skipped = Counter(u.status for u in units if u.status)
    note = "；".join(f"{k} {v}" for k, v in skipped.items())
    text = f"汇总：{n_units} 个单位计入合计，{n_projects} 个项目 → {output}"
    if registry is not None:
        text += f"；未报送 {missing[0]}，名录外 {missing[1]}"
    return text + (f"（{note}）" if note else "")
