"""Annotated copies of the checked workbooks, to send back to the units: every cell with a
finding filled (red for errors, yellow for warnings) and commented with code and message,
and a first sheet listing every finding with a link to its cell.

Inputs are only read. A legacy .xls is annotated as an .xlsx copy of its values.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..model import Finding, Workbook
from ..output import atomic_path, refuse_inputs
from .terminal import UI

__all__ = ["annotate_all", "FINDINGS_SHEET", "FILLS"]

FINDINGS_SHEET = {"zh": "审核问题", "en": "Findings"}
FILLS = {"error": "FFC7CE", "warning": "FFEB9C", "info": "DDEBF7"}
_HEADERS = {
    "zh": ["序号", "工作表", "单元格", "代码", "级别", "问题说明", "应为", "实为"],
    "en": ["No.", "Sheet", "Cell", "Code", "Severity", "Message", "Expected", "Actual"],
}


def _set_text(cell, value) -> None:
    """Workbook text never becomes a formula in an output, nor breaks it with control characters."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.value = value
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        cell.data_type = "s"


def _load(book: Workbook):
    from openpyxl import Workbook as XWorkbook, load_workbook

    path = Path(book.path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm"), path.suffix.lower()
    from ..reading import read_grids

    grids, _ = read_grids(path, book.file)
    wb = XWorkbook()
    wb.remove(wb.active)
    for g in grids:
        ws = wb.create_sheet(g.name[:31])
        for (r, c), v in g.cells.items():
            _set_text(ws.cell(row=r + 1, column=c + 1), v)
        for r0, c0, r1, c1 in g.merged_ranges():
            ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
    return wb, ".xlsx"


def _cells(ws, ref: str):
    from openpyxl.cell.cell import MergedCell

    target = ws[ref]
    cells = [c for row in target for c in row] if isinstance(target, tuple) else [target]
    return [c for c in cells if not isinstance(c, MergedCell)] or cells[:1]


def annotate_book(book: Workbook, findings: list[Finding], target: Path, lang: str = "zh") -> Path:
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.hyperlink import Hyperlink

    wb, suffix = _load(book)
    target = target.with_suffix(suffix)
    notes: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        if f.sheet and f.cell and f.sheet in wb.sheetnames:
            notes[(f.sheet, f.cell)].append(f)
    for (sheet, ref), group in notes.items():
        ws = wb[sheet]
        worst = "error" if any(f.severity == "error" and not f.waived for f in group) else "warning" if any(
            f.severity == "warning" and not f.waived for f in group) else "info"
        fill = PatternFill("solid", start_color=FILLS[worst], end_color=FILLS[worst])
        text = "\n".join(f"[{f.code}] {f.text(lang)}" + (f" ({UI[lang]['waived']}: {f.waived})" if f.waived else "") for f in group)
        for i, cell in enumerate(_cells(ws, ref)):
            cell.fill = fill
            if i == 0:
                old = cell.comment.text + "\n" if cell.comment else ""
                cell.comment = Comment(old + text, "xlsxcheck", width=360, height=140)
    title = FINDINGS_SHEET[lang]
    if title in wb.sheetnames:
        title += "_xlsxcheck"
    ws = wb.create_sheet(title, 0)
    ws.append(_HEADERS[lang])
    for c in ws[1]:
        c.font = Font(bold=True)
    for n, f in enumerate(findings, start=1):
        kind = "waived" if f.waived else f.severity
        row = [n, f.sheet or "", f.cell or "", f.code, UI[lang][kind], f.text(lang), f.expected, f.actual]
        for col, value in enumerate(row, start=1):
            _set_text(ws.cell(row=n + 1, column=col), value)
        if f.sheet and f.cell and f.sheet in wb.sheetnames:
            link = ws.cell(row=n + 1, column=3)
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{f.sheet}'!{f.cell.split(':')[0]}")
            link.style = "Hyperlink"
    for col, width in zip("ABCDEFGH", (6, 16, 10, 8, 8, 90, 18, 18)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    wb.active = 0
    with atomic_path(target) as tmp:
        wb.save(tmp)
    return target


def annotate_all(books: list[Workbook], findings: list[Finding], out_dir: str | Path, lang: str = "zh") -> list[Path]:
    out = Path(out_dir)
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_file[f.file].append(f)
    written, used = [], set()
    inputs = [b.path for b in books]
    for book in books:
        if not book.readable:
            continue
        name = Path(book.path).name
        stem, n = Path(name).stem, 2
        while name.lower() in used:
            name, n = f"{stem}({n}){Path(name).suffix}", n + 1
        used.add(name.lower())
        target = out / name
        refuse_inputs(target, inputs)
        refuse_inputs(target.with_suffix(".xlsx"), inputs)
        written.append(annotate_book(book, by_file.get(book.file, []), target, lang))
    return written
