"""The colored error list: findings grouped by file and sheet, then a summary table.

Color only when the output is a terminal; piped or written to a file it is plain text.
Every text that comes from outside (cells, file and sheet names, waivers, paths) goes
through textsafety.for_terminal: no escape sequence from a workbook reaches the terminal.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import TextIO

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..pipeline import RunResult
from ..textsafety import for_terminal as safe
from .summary import file_summaries

__all__ = ["render_text", "render_summary", "UI", "GRADES_EN"]

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", "waived": "dim"}
UI = {
    "zh": {
        "error": "错误", "warning": "警告", "info": "信息", "waived": "已说明", "file": "文件", "unit": "单位",
        "score": "总分", "grade": "等级", "clean": "未发现问题", "whole": "（整个文件）",
        "total": "共 {files} 个文件：错误 {error}，警告 {warning}，信息 {info}，已说明 {waived}",
        "skipped": "已跳过 {n} 个非 Excel/临时/隐藏文件", "missing": "未找到：{names}",
        "unused": "未使用的审核说明（不再对应任何问题）：", "summary": "汇总",
        "own": "已跳过 {n} 个 xlsxcheck 生成的汇总表或未修改的批注副本", "no": "序号",
        "by_errors": "各单位审核结果（按错误数排序）", "superseded": "已被更正",
        "report_of": "自评报告，对照 {workbook}", "reports": "；自评报告 {n} 份",
        "config": "配置文件：{path}",
        "config_inside": "警告：此配置文件位于被审核的文件夹内，其设置（如 ignore、select、severity）会改变审核结果，请确认它不是随报送文件一起来的",
        "unreadable": "无法读取的文件夹（其中的文件未审核）：{names}", "links": "未跟随的符号链接文件夹：{names}",
    },
    "en": {
        "error": "error", "warning": "warning", "info": "info", "waived": "waived", "file": "File", "unit": "Unit",
        "score": "Score", "grade": "Grade", "clean": "no findings", "whole": "(whole file)",
        "total": "{files} files: {error} errors, {warning} warnings, {info} infos, {waived} waived",
        "skipped": "skipped {n} non-Excel, lock or hidden files", "missing": "not found: {names}",
        "unused": "Unused waivers (they match no finding any more):", "summary": "Summary",
        "own": "skipped {n} rollups or unchanged annotated copies written by xlsxcheck", "no": "No.",
        "by_errors": "Units by number of errors", "superseded": "superseded",
        "report_of": "report, against {workbook}", "reports": "; {n} reports",
        "config": "Configuration: {path}",
        "config_inside": "Warning: this configuration file lies inside a folder being checked; its settings (ignore, select, severity) change what is reported: make sure it did not arrive with the filings",
        "unreadable": "Folders that could not be read (their files were not checked): {names}", "links": "Symlinked folders not followed: {names}",
    },
}
GRADES_EN = {"优": "excellent", "良": "good", "中": "fair", "差": "poor"}


def render_text(result: RunResult, out: TextIO, lang: str = "zh", color: bool | None = None, width: int | None = None) -> None:
    ui = UI[lang]
    console = Console(file=out, force_terminal=color, no_color=color is False, width=width, highlight=False, soft_wrap=False)
    _config_header(console, result, ui)
    by_file = {f: list(g) for f, g in groupby(result.findings, key=lambda x: x.file)}
    for book in result.books:
        findings = by_file.pop(book.file, [])
        # the template it was checked as, where the workbook told it (or --profile forced it)
        profile = f"[{book.profile}]" if book.profile and book.profile_source != "default" else ""
        _file_block(console, book.file, f"{book.unit} {book.year or ''} {profile}".strip(), findings, ui, lang)
    for report in result.reports:  # 自评报告: clean ones are listed too; one of a superseded filing goes with it (JSON lists it)
        if report.superseded_by:
            continue
        title = ui["report_of"].format(workbook=Path(report.workbook).name) if report.workbook else ""
        _file_block(console, report.file, title, by_file.pop(report.file, []), ui, lang)
    for file, findings in by_file.items():  # registry findings name the registry file
        _file_block(console, file, "", findings, ui, lang)
    _print(console, _summary_table(result, ui, lang, by_errors=False, width=console.width))
    counts = result.counts()
    _totals(console, result, ui)
    if result.unused_waivers:
        console.print(ui["unused"], style=STYLE["warning"])
        for w in result.unused_waivers:
            console.print(Text(safe(f"  {w['unit']}  {w['code']}  {w.get('field', '')}  {w['reason']}")))


def render_summary(result: RunResult, out: TextIO, lang: str = "zh", color: bool | None = None, width: int | None = None) -> None:
    """One line per unit, most errors first: a bureau with hundreds of units sees whom to call."""
    ui = UI[lang]
    console = Console(file=out, force_terminal=color, no_color=color is False, width=width, highlight=False, soft_wrap=False)
    _config_header(console, result, ui)
    _print(console, _summary_table(result, ui, lang, by_errors=True, width=console.width))
    _totals(console, result, ui)


def _config_header(console: Console, result: RunResult, ui: dict) -> None:
    """The configuration file the run used, and a loud warning when it came from a checked folder."""
    if result.config:
        console.print(Text(ui["config"].format(path=safe(result.config))), soft_wrap=True)
        if result.config_in_inputs:
            console.print(Text(ui["config_inside"], style=STYLE["error"]))
        console.print()


def _summary_table(result: RunResult, ui: dict, lang: str, by_errors: bool, width: int) -> Table:
    """The per-file table, fitted to ``width``. Names never break mid-word: the unit is
    shortened with … beyond 28 columns, the file name takes the room left (shortened with
    …) and is left out when fewer than 10 columns remain (the unit names the row)."""
    rows = file_summaries(result)
    superseded = {b.file for b in result.books if b.superseded_by}
    if by_errors:
        rows.sort(key=lambda s: (s["file"] in superseded, -s["errors"], -s["warnings"], s["file"]))
    grades = [ui["superseded"], *(GRADES_EN.values() if lang == "en" else GRADES_EN)]
    numbers = [(ui[name], max(cell_len(ui[name]), 5 if name == "score" else 3)) for name in ("error", "warning", "waived", "score")]
    widths = {
        "no": max(cell_len(ui["no"]), len(str(len(rows)))) if by_errors else 0,
        "unit": min(28, max([cell_len(ui["unit"]), *(cell_len(safe(s["unit"])) for s in rows)])),
        "grade": max(map(cell_len, [ui["grade"], *grades])),
    }
    columns = len(numbers) + 2 + by_errors
    others = widths["no"] + widths["grade"] + sum(w for _, w in numbers) + 3 * (columns - 1)  # columns are 3 apart
    widths["unit"] = max(8, min(widths["unit"], width - others))
    room = width - others - widths["unit"] - 3
    names = [safe(Path(s["file"]).name) for s in rows]
    file_width = min(room, max([cell_len(ui["file"]), *map(cell_len, names)])) if room >= 10 else 0

    def fit(text: str, w: int) -> Text:
        t = Text(text)
        t.truncate(w, overflow="ellipsis")
        return t

    table = Table(title=ui["by_errors" if by_errors else "summary"], title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    if by_errors:
        table.add_column(ui["no"], justify="right", no_wrap=True, min_width=widths["no"])
    table.add_column(ui["unit"], no_wrap=True, width=widths["unit"])
    for name, w in numbers:
        table.add_column(name, justify="right", no_wrap=True, min_width=w)
    table.add_column(ui["grade"], justify="center", no_wrap=True, width=widths["grade"])
    if file_width:
        table.add_column(ui["file"], no_wrap=True, width=file_width)
    for n, (s, name) in enumerate(zip(rows, names), start=1):
        score = "" if s["total_score"] is None else f"{s['total_score']:g}"
        grade = s["grade"] or ""
        if s["file"] in superseded:
            grade = ui["superseded"]
        elif lang == "en":
            grade = GRADES_EN.get(grade, grade)
        cells = [fit(safe(s["unit"]), widths["unit"]), Text(str(s["errors"]), STYLE["error"] if s["errors"] else ""),
                 Text(str(s["warnings"]), STYLE["warning"] if s["warnings"] else ""), str(s["waived"]), score, grade]
        if file_width:
            cells.append(fit(name, file_width))
        table.add_row(*([str(n)] if by_errors else []), *cells, style="dim" if s["file"] in superseded else None)
    return table


def _totals(console: Console, result: RunResult, ui: dict) -> None:
    counts = result.counts()
    reports = ui["reports"].format(n=len(result.reports)) if result.reports else ""
    console.print(ui["total"].format(files=len(result.books), **counts) + reports)
    own = len(result.discovery.own_outputs)
    if len(result.discovery.skipped) > own:
        console.print(ui["skipped"].format(n=len(result.discovery.skipped) - own), style="dim")
    if own:
        console.print(ui["own"].format(n=own), style="dim")
    if result.discovery.missing:
        console.print(Text(ui["missing"].format(names="、".join(map(safe, result.discovery.missing))), style=STYLE["error"]))
    for key, paths in (("unreadable", result.discovery.unreadable), ("links", result.discovery.links)):
        if paths:
            console.print(Text(ui[key].format(names="、".join(safe(str(p)) for p in paths)), style=STYLE["error"]), soft_wrap=True)


def _file_block(console: Console, file: str, title: str, findings, ui, lang: str) -> None:
    file, title = safe(file), safe(title)
    head = Text(file, style="bold underline")
    tail = Text(f"  {title}" if title else "", style="bold")
    if not findings:
        tail.append(f"  {ui['clean']}", style="green")
    if cell_len(file) + tail.cell_len <= console.width:
        head.append_text(tail)
        console.print(head, soft_wrap=True)  # a file name is never broken across lines
    else:  # unit and year on their own line rather than split across two
        console.print(head, soft_wrap=True)
        if tail.plain:
            console.print(tail, soft_wrap=True)
    # One column width for the whole file, so that codes line up from sheet to sheet.
    cell_width = max((cell_len(safe(f.cell or "-")) for f in findings), default=1)
    severity_width = max(cell_len(ui[k]) for k in ("error", "warning", "info", "waived"))
    for sheet, group in groupby(findings, key=lambda f: f.sheet):
        console.print(Text(f"  {safe(sheet) if sheet else ui['whole']}", style="bold"))
        # A borderless grid: long messages wrap inside their own column, also at 80 columns.
        grid = Table.grid(padding=(0, 1), pad_edge=False)
        grid.add_column(width=3)
        grid.add_column(no_wrap=True, width=cell_width)
        grid.add_column(no_wrap=True, width=4)
        grid.add_column(no_wrap=True, width=severity_width)
        grid.add_column(overflow="fold")
        for f in group:
            kind = "waived" if f.waived else f.severity
            message = Text(safe(f.text(lang)))
            if f.waived:
                message.append(f"  [{ui['waived']}: {safe(f.waived)}]", style="dim")
            grid.add_row("", Text(safe(f.cell or "-"), style="bold"), Text(f.code, style=STYLE[kind]), Text(ui[kind], style=STYLE[kind]), message)
        _print(console, grid)
    console.print()


def _print(console: Console, renderable) -> None:
    if console.is_terminal and not console.no_color:
        console.print(renderable)
    else:  # plain text: without the padding rich adds to the end of lines
        with console.capture() as captured:
            console.print(renderable)
        console.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
