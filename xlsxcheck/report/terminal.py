"""The colored error list: findings grouped by file and sheet, then a summary table.

Color only when the output is a terminal; piped or written to a file it is plain text.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..pipeline import RunResult
from .summary import file_summaries

__all__ = ["render_text", "UI"]

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", "waived": "dim"}
UI = {
    "zh": {
        "error": "错误", "warning": "警告", "info": "提示", "waived": "已说明", "file": "文件", "unit": "单位",
        "score": "总分", "grade": "等级", "clean": "未发现问题", "whole": "（整个文件）",
        "total": "共 {files} 个文件：错误 {error}，警告 {warning}，提示 {info}，已说明 {waived}",
        "skipped": "已跳过 {n} 个非 Excel/临时/隐藏文件", "missing": "未找到：{names}",
        "unused": "未使用的审核说明（不再对应任何问题）：", "summary": "汇总",
    },
    "en": {
        "error": "error", "warning": "warning", "info": "info", "waived": "waived", "file": "File", "unit": "Unit",
        "score": "Score", "grade": "Grade", "clean": "no findings", "whole": "(whole file)",
        "total": "{files} files: {error} errors, {warning} warnings, {info} infos, {waived} waived",
        "skipped": "skipped {n} non-Excel, lock or hidden files", "missing": "not found: {names}",
        "unused": "Unused waivers (they match no finding any more):", "summary": "Summary",
    },
}


def render_text(result: RunResult, out: TextIO, lang: str = "zh", color: bool | None = None, width: int | None = None) -> None:
    ui = UI[lang]
    console = Console(file=out, force_terminal=color, no_color=color is False, width=width, highlight=False, soft_wrap=False)
    by_file = {f: list(g) for f, g in groupby(result.findings, key=lambda x: x.file)}
    for book in result.books:
        findings = by_file.pop(book.file, [])
        # the template it was checked as, where the workbook told it (or --profile forced it)
        profile = f"[{book.profile}]" if book.profile and book.profile_source != "default" else ""
        _file_block(console, book.file, f"{book.unit} {book.year or ''} {profile}".strip(), findings, ui, lang)
    for file, findings in by_file.items():  # registry findings name the registry file
        _file_block(console, file, "", findings, ui, lang)
    table = Table(title=ui["summary"], title_justify="left", show_lines=False, pad_edge=False)
    for name, justify in ((ui["file"], "left"), (ui["unit"], "left"), (ui["error"], "right"), (ui["warning"], "right"),
                          (ui["waived"], "right"), (ui["score"], "right"), (ui["grade"], "center")):
        table.add_column(name, justify=justify, overflow="fold")
    for s in file_summaries(result):
        score = "" if s["total_score"] is None else f"{s['total_score']:g}"
        table.add_row(Path(s["file"]).name, s["unit"], Text(str(s["errors"]), STYLE["error"] if s["errors"] else ""),
                      Text(str(s["warnings"]), STYLE["warning"] if s["warnings"] else ""), str(s["waived"]), score, s["grade"] or "")
    console.print(table)
    counts = result.counts()
    console.print(ui["total"].format(files=len(result.books), **counts))
    if result.discovery.skipped:
        console.print(ui["skipped"].format(n=len(result.discovery.skipped)), style="dim")
    if result.discovery.missing:
        console.print(ui["missing"].format(names="、".join(result.discovery.missing)), style=STYLE["error"])
    if result.unused_waivers:
        console.print(ui["unused"], style=STYLE["warning"])
        for w in result.unused_waivers:
            console.print(f"  {w['unit']}  {w['code']}  {w.get('field', '')}  {w['reason']}")


def _file_block(console: Console, file: str, title: str, findings, ui, lang: str) -> None:
    head = Text(file, style="bold underline")
    if title:
        head.append(f"  {title}", style="bold")
    if not findings:
        head.append(f"  {ui['clean']}", style="green")
    console.print(head, soft_wrap=True)  # a file name is never broken across lines
    for sheet, group in groupby(findings, key=lambda f: f.sheet):
        console.print(Text(f"  {sheet or ui['whole']}", style="bold"))
        # A borderless grid: long messages wrap inside their own column, also at 80 columns.
        grid = Table.grid(padding=(0, 1), pad_edge=False)
        grid.add_column(width=3)
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for f in group:
            kind = "waived" if f.waived else f.severity
            message = Text(f.text(lang))
            if f.waived:
                message.append(f"  [{ui['waived']}: {f.waived}]", style="dim")
            grid.add_row("", Text(f.cell or "-", style="bold"), Text(f.code, style=STYLE[kind]), Text(ui[kind], style=STYLE[kind]), message)
        if console.is_terminal and not console.no_color:
            console.print(grid)
        else:  # plain text: without the padding rich adds to wrapped lines
            with console.capture() as captured:
                console.print(grid)
            console.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    console.print()
