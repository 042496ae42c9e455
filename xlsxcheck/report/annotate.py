"""Annotated copies of the checked workbooks, to send back to the units: every cell with a
finding filled (red for errors, yellow for warnings) and commented with code and message,
and a first sheet 审核问题 that lists every finding with a link to its cell, fit to print.

Inputs are only read. A legacy .xls is annotated as an .xlsx copy of its values. Copies
keep the folder structure below the checked folder, so two units' files never collide.
A workbook that cannot be annotated costs that copy only: it gets a D605 finding and every
other copy is written. Copies carry the xlsxcheck properties (see own_outputs.py), so the
next run skips a copy as written and checks a corrected one without its 审核问题 sheet.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path, PurePath
from typing import Callable

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from rich.cells import cell_len

from ..catalog import make_finding
from ..model import Finding
from ..output import atomic_path, refuse_inputs
from ..own_outputs import OUTPUT_PROPERTY, SHEET_PROPERTY, own_properties, seal_copy
from .terminal import UI

__all__ = ["annotate_all", "annotate_book", "copy_target", "FINDINGS_SHEET", "FILLS", "HEADER_ROWS"]

FINDINGS_SHEET = {"zh": "审核问题", "en": "Findings"}
FILLS = {"error": "FFC7CE", "warning": "FFEB9C", "info": "DDEBF7", "waived": "EDEDED"}
HEADER_ROWS = 5  # title, file, counts, instruction, blank; the table's header row follows
_HEADERS = {
    "zh": ["序号", "工作表", "单元格", "代码", "级别", "问题说明", "应为", "实为"],
    "en": ["No.", "Sheet", "Cell", "Code", "Severity", "Message", "Expected", "Actual"],
}
_TEXT = {
    "zh": {"title": "{unit} {year} 自评表审核问题", "file": "文件：{file}    审核日期：{today}    审核工具：xlsxcheck",
           "counts": "错误 {error} 项（须修改），警告 {warning} 项（请核实，可书面说明），信息 {info} 项，已说明 {waived} 项",
           "how": "请按本表逐项修改标注的单元格（红色为错误，黄色为警告；批注中有说明），修改标注单元格后可删除本表，保存后重新报送。"},
    "en": {"title": "{unit} {year} self-evaluation: findings", "file": "File: {file}    checked on {today}    by xlsxcheck",
           "counts": "{error} errors (must be fixed), {warning} warnings (check, or explain in writing), {info} infos, {waived} waived",
           "how": "Fix the marked cells (red: error, yellow: warning; the comment says why); once they are fixed this sheet may be deleted. Save and send the workbook again."},
}
_MAX_STEM_BYTES = 180  # a file name is at most 255 bytes, and the temporary name adds ~20 to the stem
_TOO_BIG = {"R011"}  # a sheet spanning millions of cells: copying it would take gigabytes
_TOO_BIG_REASON = {"zh": "工作表区域过大（R011），不生成副本", "en": "a sheet spans millions of cells (R011); no copy is made"}
_MESSAGE_WIDTH = 70  # columns of the message column (a Chinese character takes two)
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def _clean(value):
    """Workbook text made XML-safe; NaN and infinities (which no XML number can hold) as text."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _set_text(cell, value) -> None:
    """Workbook text never becomes a formula in an output, nor breaks it with control characters."""
    value = _clean(value)
    cell.value = value
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        cell.data_type = "s"


def _sheet_title(name: str, taken: set[str]) -> str:
    """A legal sheet title for a name calamine read from an .xls ([ ] : * ? / \\ and > 31 chars are not)."""
    base = _BAD_TITLE.sub("_", ILLEGAL_CHARACTERS_RE.sub("", name)).strip("'")[:31] or "Sheet"
    title, n = base, 2
    while title.lower() in taken:
        title, n = f"{base[:31 - len(str(n)) - 2]}({n})", n + 1
    taken.add(title.lower())
    return title


def _load(path: Path, file: str):
    """The workbook to annotate, its suffix, and its sheet titles by the names findings use."""
    from openpyxl import Workbook as XWorkbook, load_workbook

    if path.suffix.lower() in (".xlsx", ".xlsm"):
        wb = load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm")
        return wb, path.suffix.lower(), {n: n for n in wb.sheetnames}
    from ..reading import read_grids

    grids, _ = read_grids(path, file)
    wb = XWorkbook()
    wb.remove(wb.active)
    titles: dict[str, str] = {}
    taken: set[str] = set()
    for g in grids:
        titles[g.name] = _sheet_title(g.name, taken)
        ws = wb.create_sheet(titles[g.name])
        for (r, c), v in g.cells.items():
            _set_text(ws.cell(row=r + 1, column=c + 1), v)
        for r0, c0, r1, c1 in g.merged_ranges():
            if r1 >= r0 and c1 >= c0:  # a merge clamped to the used area can end before it starts
                ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
    return wb, ".xlsx", titles


def _cells(ws, ref: str):
    from openpyxl.cell.cell import MergedCell

    target = ws[ref]
    cells = [c for row in target for c in row] if isinstance(target, tuple) and isinstance(target[0], tuple) else (
        list(target) if isinstance(target, tuple) else [target])
    return [c for c in cells if not isinstance(c, MergedCell)] or cells[:1]


def _kind(f: Finding) -> str:
    return "waived" if f.waived else f.severity


def annotate_book(path: str | Path, file: str, unit: str, year, findings: list[Finding], target: Path, lang: str = "zh",
                  today: dt.date | None = None) -> Path:
    """Write the annotated copy of one workbook to ``target`` (its suffix follows the copy's format)."""
    from openpyxl.comments import Comment
    from openpyxl.packaging.custom import StringProperty
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.hyperlink import Hyperlink

    path = Path(path)
    wb, suffix, titles = _load(path, file)
    target = target.with_suffix(suffix)
    old = own_properties(path).get(SHEET_PROPERTY)
    if old and old in wb.sheetnames:  # a corrected copy annotated again: its old listing goes
        del wb[old]
    notes: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        if f.sheet and f.cell and titles.get(f.sheet) in wb.sheetnames:
            notes[(titles[f.sheet], f.cell)].append(f)
    # One style object per kind, shared by every cell (openpyxl indexes each new object it is given).
    fills = {k: PatternFill("solid", start_color=color, end_color=color) for k, color in FILLS.items()}
    wrap, at_top = Alignment(wrap_text=True, vertical="top"), Alignment(vertical="top")
    for (sheet, ref), group in notes.items():
        kinds = {_kind(f) for f in group}
        fill = fills[next(k for k in ("error", "warning", "info", "waived") if k in kinds)]
        text = "\n".join(f"[{f.code}] {f.text(lang)}" + (f" ({UI[lang]['waived']}: {f.waived})" if f.waived else "") for f in group)
        for i, cell in enumerate(_cells(wb[sheet], ref)):
            cell.fill = fill
            if i == 0:
                prior = cell.comment.text + "\n" if cell.comment else ""
                cell.comment = Comment(_clean(prior + text), "xlsxcheck", width=360, height=140)

    title = FINDINGS_SHEET[lang]
    taken = {n.lower() for n in wb.sheetnames}
    if title.lower() in taken:
        title = _sheet_title(title + "_xlsxcheck", taken)
    ws = wb.create_sheet(title, 0)
    text = _TEXT[lang]
    counts = {k: sum(1 for f in findings if _kind(f) == k) for k in ("error", "warning", "info", "waived")}
    heading = [text["title"].format(unit=unit, year=year or ""), text["file"].format(file=file, today=today or dt.date.today()),
               text["counts"].format(**counts), text["how"]]
    for r, line in enumerate(heading, start=1):
        _set_text(ws.cell(row=r, column=1), line)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=len(_HEADERS[lang]))
        ws.cell(row=r, column=1).alignment = wrap
    ws["A1"].font = Font(bold=True, size=14)
    ws["A4"].font = Font(bold=True, color="C00000")
    ws.row_dimensions[4].height = 32
    head = HEADER_ROWS + 1
    for col, name in enumerate(_HEADERS[lang], start=1):
        c = ws.cell(row=head, column=col, value=name)
        c.font = Font(bold=True)
        c.fill = PatternFill("solid", start_color="D9D9D9", end_color="D9D9D9")
    for n, f in enumerate(findings, start=1):
        r = head + n
        row = [n, f.sheet or "", f.cell or "", f.code, UI[lang][_kind(f)], f.text(lang), f.expected, f.actual]
        for col, value in enumerate(row, start=1):
            _set_text(ws.cell(row=r, column=col), value)
            ws.cell(row=r, column=col).alignment = wrap if col == 6 else at_top
        # Heights set here: not every program sizes wrapped rows on opening (LibreOffice does not).
        # A column of width w holds about 1.2 w half-width characters.
        ws.row_dimensions[r].height = 15 * max(1, -(-cell_len(f.text(lang)) // (_MESSAGE_WIDTH * 6 // 5)))
        ws.cell(row=r, column=5).fill = fills[_kind(f)]
        if f.sheet and f.cell and titles.get(f.sheet) in wb.sheetnames:
            link = ws.cell(row=r, column=3)
            quoted = titles[f.sheet].replace("'", "''")
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{quoted}'!{f.cell.split(':')[0]}")
            link.style = "Hyperlink"
            link.alignment = at_top  # the named style brings its own
    for col, width in zip("ABCDEFGH", (6, 14, 9, 7, 7, _MESSAGE_WIDTH, 14, 14)):
        ws.column_dimensions[col].width = width
    last = head + max(len(findings), 1)
    ws.auto_filter.ref = f"A{head}:H{last}"
    ws.freeze_panes = f"A{head + 1}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{head}:{head}"
    ws.print_options.gridLines = True
    for sheet in wb.worksheets:
        sheet.sheet_view.tabSelected = False
    wb.active = 0
    ws.sheet_view.tabSelected = True

    props = [p for p in wb.custom_doc_props if not p.name.startswith("xlsxcheck-")]
    props += [StringProperty(name=OUTPUT_PROPERTY, value="annotated-copy"), StringProperty(name=SHEET_PROPERTY, value=title)]
    wb.custom_doc_props.props = props
    buf = io.BytesIO()
    wb.save(buf)
    data = seal_copy(buf.getvalue())
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target


def copy_target(out_dir: Path, file: str, suffix: str) -> Path:
    """Where the copy of ``file`` (as shown, relative to the checked folder) goes: the same
    relative path below ``out_dir``, the stem shortened when the name would be too long."""
    parts = [p for p in PurePath(file).parts[:-1] if p not in ("..", ".") and not PurePath(p).anchor]
    stem = PurePath(file).stem
    if len(stem.encode("utf-8", "surrogateescape")) > _MAX_STEM_BYTES:
        cut = stem.encode("utf-8", "surrogateescape")[:_MAX_STEM_BYTES - 3].decode("utf-8", "ignore")
        stem = cut + "…"
    return out_dir.joinpath(*parts, stem + suffix)


def _ignore_interrupt() -> None:
    """Workers leave Ctrl-C to the main process, which stops the run with one message."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _annotate_one(task) -> tuple[str, str, str, str]:
    """Worker entry: (file, unit, copy written or "", reason it could not be written or "")."""
    path, file, unit, year, findings, target, lang, inputs = task
    try:
        refuse_inputs(target, inputs)
        return file, unit, str(annotate_book(path, file, unit, year, findings, target, lang)), ""
    except Exception as exc:  # one workbook openpyxl cannot handle must not cost the others their copy
        first = (str(exc).strip().splitlines() or [""])[0]
        return file, unit, "", f"{type(exc).__name__}: {first}"[:200]


def annotate_all(books, findings: list[Finding], out_dir: str | Path, lang: str = "zh", *, include_clean: bool = False,
                 jobs: int = 1, progress: Callable[[int], None] | None = None) -> tuple[list[Path], list[Finding]]:
    """Annotated copies of ``books`` (BookSummary) into ``out_dir``: the copies written and a
    D605 finding for each workbook that could not be annotated. Clean workbooks get a copy
    only with ``include_clean``."""
    out = Path(out_dir)
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_file[f.file].append(f)
    inputs = [b.path for b in books]
    tasks, used = [], set()
    oversized = []
    for book in books:
        if not book.readable or not (include_clean or by_file.get(book.file)):
            continue
        if any(f.code in _TOO_BIG for f in by_file.get(book.file, ())):  # openpyxl would hold every cell of it
            oversized.append(make_finding("D605", book.file, unit=book.unit, reason=_TOO_BIG_REASON[lang]))
            continue
        suffix = ".xlsm" if Path(book.path).suffix.lower() == ".xlsm" else ".xlsx"
        target = copy_target(out, book.file, suffix)
        stem, n = target.stem, 2
        while str(target).lower() in used:  # two inputs that only differ by .xls/.xlsx or by case
            target, n = target.with_name(f"{stem}({n}){suffix}"), n + 1
        used.add(str(target).lower())
        tasks.append((book.path, book.file, book.unit, book.year, by_file.get(book.file, []), target, lang, inputs))
    written, failed = [], []
    if jobs > 1 and len(tasks) > 1:
        executor = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_ignore_interrupt)
        try:
            results = executor.map(_annotate_one, tasks, chunksize=2)  # a copy takes ~0.1 s: small chunks, a quick stop
            failed = _collect(results, written, progress)
        finally:
            executor.shutdown(cancel_futures=True)  # on Ctrl-C, copies not yet started are dropped
    else:
        failed = _collect(map(_annotate_one, tasks), written, progress)
    return written, oversized + failed


def _collect(results, written: list[Path], progress) -> list[Finding]:
    failed = []
    for file, unit, copy, reason in results:
        if copy:
            written.append(Path(copy))
        else:
            failed.append(make_finding("D605", file, unit=unit, reason=reason))
        if progress:
            progress(1)
    return failed
