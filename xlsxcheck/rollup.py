"""The bureau-wide rollup workbook (汇总): every unit, project, indicator and finding of a run,
written with XlsxWriter as a finance office hands it on.

- Every formula is written together with the value it computes, so previewers, pandas and
  calamine see the totals, while Excel, WPS and LibreOffice keep them live. Totals use
  SUBTOTAL (department subtotals are not counted twice), 执行率 is a ratio of the totals,
  and every statistic is a COUNTIF(S) over the unit rows.
- Every sheet prints on A4 landscape, as wide as one page (基础数据: in pages of whole items
  with the unit column repeated), with the header row repeated, the sheet name on top and the
  run date and page numbers below.
- Units come in registry order when a registry is given, else by 主管部门 and the pinyin of
  their names, the same order in every sheet.
- Units with a duplicate or unreadable filing, and with ``exclude_errors`` units with errors,
  are listed below the totals in 单位汇总 and left out of every other sheet but 问题清单.
- No text from a workbook is ever written as a formula.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, NamedTuple

from .checks.duplicate_filing import duplicates
from .checks.grade_matches_score import GRADES as GRADE_FLOORS
from .model import BookSummary
from .output import atomic_path, refuse_inputs
from .own_outputs import OUTPUT_PROPERTY
from .pipeline import RunResult
from .report.terminal import UI
from .textsafety import printable
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
GRADES = ("优", "良", "中", "差")
RATE_BANDS = ((None, 0.6, "<60%"), (0.6, 0.8, "60%-80%"), (0.8, 0.9, "80%-90%"), (0.9, 1.0, "90%-100%"), (1.0, None, "≥100%"))
_BASE_ITEMS = (("sangong", "三公经费", "Three public expenses"), ("car", "公务用车购置和维护经费", "Official cars"),
               ("abroad", "出国经费", "Travel abroad"), ("reception", "公务接待", "Official reception"),
               ("project", "项目支出", "Project spending"), ("public", "公用经费", "Public funds"),
               ("procurement", "政府采购金额", "Government procurement"))
_BASE_COLS = (("prev_final", "上年决算数", "Last year final"), ("budget", "本年预算数", "Budget"), ("final", "本年决算数", "Final"))
_SOURCE = {"overall": ("整体表", "whole-unit table"), "projects": ("项目表合计", "sum of project tables")}
_STATUS = {
    "unreadable": ("无法读取，未计入", "unreadable, not counted"),
    "no_tables": ("无标准表，未计入", "no template table, not counted"),
    "duplicate": ("重复报送（同 {file}），未计入", "duplicate of {file}, not counted"),
    "superseded": ("已被更正（以 {file} 为准），未计入", "superseded by {file}, not counted"),
    "errors": ("有错误，未计入合计", "has errors, left out of totals"),
}
_TEXT = {
    "subtotal": ("{dep} 小计", "{dep} subtotal"), "total": ("合计", "Total"), "others": ("未计入合计的单位", "Units not counted"),
    "no_dep": ("（未填主管部门）", "(no department)"), "whole_file": ("（整个文件）", "(whole file)"),
    "annotated": ("批注副本", "annotated copy"), "missing": ("名录内单位，未报送", "in the registry, not filed"),
    "extra": ("已报送，但不在名录中（{file}）", "filed, but not in the registry ({file})"),
    "overall_table": ("部门整体支出", "whole-unit spending"), "footer": ("汇总日期 {date}", "Rolled up {date}"),
    "page": ("第 &P 页，共 &N 页", "Page &P of &N"), "no_score": ("无总分", "no score"), "no_rate": ("无法计算", "not computable"),
}
_MAX_LINKS = 65530  # Excel's limit of hyperlinks on one sheet
STREAM_ROWS = 150_000  # indicator rows (about 4000 units) beyond which rows are streamed to disk


class Formula(NamedTuple):
    """A formula xlsxcheck wrote itself (the only text written as a formula) and its value."""

    text: str
    value: Any


class Link(NamedTuple):
    url: str  # "external:relative/path.xlsx#'Sheet'!A1"
    text: str


class Styled(NamedTuple):
    value: Any
    style: str  # a key of _Book.formats


@dataclass(frozen=True)
class _Col:
    key: str
    zh: str
    en: str
    width: float
    style: str = "text"  # text | wrap | amount | rate | score | int | center | link | hidden


@dataclass
class _Unit:
    book: BookSummary
    department: str
    parent: str
    initial: float | None
    budget: float | None
    executed: float | None
    source: str  # "overall" | "projects" | "": where the funds come from
    errors: int
    warnings: int
    status: str  # "" counted | text saying why not
    annotated: Path | None = None

    @property
    def rate(self) -> float | None:
        return self.executed / self.budget if self.executed is not None and self.budget else None


def _t(key: str, lang: str, **kw) -> str:
    return _TEXT[key][lang == "en"].format(**kw)


def _text_width(text: str) -> float:
    """Width in Excel's column units: a CJK character is about 1.8 digits wide."""
    return sum(1.8 if ord(ch) > 0x2E7F else 1 for ch in text)


def _lines(text: str, width: float) -> int:
    usable = max(width - 1, 1)
    return sum(max(1, math.ceil(_text_width(part) / usable)) for part in text.split("\n"))


def _height(values, wrapped: list[tuple[int, float]]) -> float | None:
    """The height (points) of a data row whose wrapped cells need more than one line, else None.
    No spreadsheet grows a stored row when it opens the file, so the height is written; the
    width of a text is estimated from its UTF-8 length (a CJK character: 3 bytes, 1.8 digits wide)."""
    lines = 1
    for i, usable in wrapped:
        v = values[i] if i < len(values) else None
        if v.__class__ is not str:
            if v.__class__ is Link:
                v = v.text
            else:
                continue
        if len(v) * 1.8 > usable or "\n" in v:
            n = math.ceil((len(v) + 0.4 * (len(v.encode()) - len(v))) / usable) + v.count("\n")
            if n > lines:
                lines = n
    return _LINE * lines + 2 if lines > 1 else None


_LINE = 14  # points per line of 10-point text (CJK glyphs stand taller than Latin ones)


def _grade(score: float | None) -> str:
    """The grade of a score by the thresholds of rule S207 (a value: one formula costs XlsxWriter
    about thirty regex passes, and a rollup has a row per project)."""
    return "" if score is None else next(g for floor, g in GRADE_FLOORS if score >= floor)


@lru_cache(maxsize=None)
def _pinyin(text: str) -> tuple[str, ...]:
    """The sort key of Chinese text as a bureau sorts it: by pinyin (tone 1-4 after the letters,
    5 for the neutral tone), the text itself breaking ties. pypinyin reads it in its own tone-mark
    style, each syllable converted once (half the time of its TONE3 style for the same key);
    text without a reading stays as it is."""
    from pypinyin import Style, lazy_pinyin

    return (*(p[1:].casefold() if p[:1] == "\x01" else _tone3(p)
              for p in lazy_pinyin(text, style=Style.TONE, errors=lambda other: "\x01" + other)), "\x00" + text)


@lru_cache(maxsize=None)
def _tone3(syllable: str) -> str:
    from pypinyin.contrib.tone_convert import to_tone3

    return to_tone3(syllable, neutral_tone_with_five=True).casefold()


# What XlsxWriter changes in an inline string (control characters, its own _xHHHH_ escapes,
# U+FFFE/U+FFFF, &, <, >) or marks (white space at either end): a text without any is written as it is.
_NOT_PLAIN = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff&<>]|_x[0-9a-fA-F]{4}_|^\s|\s$")


@lru_cache(maxsize=None)
def _worksheet_class():
    """XlsxWriter's worksheet with a leaner path for the rows a rollup holds by the ten
    thousand: shared strings and finite numbers, each with its own format. XlsxWriter keeps a
    record per cell and writes each with per-cell argument checks, attribute escaping and a test
    of every column of every row; this one makes a row's XML when the row is stored
    (``put_row``; the cell formats are numbered up front, ``fix_formats``) and writes it in one
    piece at the end; in the constant-memory mode it makes the row's XML with inline strings
    and keeps it until the next row flushes it. The XML is XlsxWriter's own byte for byte
    (tests/test_rollup.py compares the two, in both modes). Any other cell, a row stored twice,
    a sheet with comments, or an XlsxWriter whose internals differ goes through XlsxWriter's
    own code (these are private methods: pyproject.toml bounds the version); cells written into
    a stored row later are merged in column order, each over the stored one."""
    from xlsxwriter.worksheet import Worksheet

    class PlainWorksheet(Worksheet):
        @staticmethod
        def fix_formats(formats) -> None:
            """Number the cell formats up front (only the lean writer needs it)."""

        def put_row(self, row: int, values, formats, height: float | None = None) -> None:
            """Store a row: ``values[i]`` (a string or a number; None and "" stay empty) in
            column i with ``formats[i]``; ``height`` in points, as set_row takes it."""
            if height:
                self.set_row(row, height)
            for col, v in enumerate(values):
                if v.__class__ is str:
                    if v:
                        self.write_string(row, col, v, formats[col])
                elif v is not None:
                    self.write_number(row, col, v, formats[col])

    try:
        from xlsxwriter.sharedstrings import SharedStringTable
        from xlsxwriter.utility import _preserve_whitespace, xl_cell_to_rowcol, xl_col_to_name

        if not {"string_table", "unique_count", "count"} <= vars(SharedStringTable()).keys() or not all(
                hasattr(Worksheet, m) for m in ("_write_rows", "_write_row", "_write_empty_row", "_write_cell", "_check_dimensions",
                                                "_write_single_row", "_escape_control_characters", "_escape_data")):
            return PlainWorksheet
    except ImportError:
        return PlainWorksheet

    class RollupWorksheet(PlainWorksheet):
        def __init__(self) -> None:
            super().__init__()
            self.made_rows: dict[int, tuple[int, int, str, int | None]] = {}  # row: first and last column, XML, height in pixels
            self.cell_xml: list[tuple | None] = [None] * 16384  # a column's format and the XML around a cell's row and value
            self.streamed_rows = 0  # rows made by _stream_row (made_rows keeps only the one not yet flushed)

        @staticmethod
        def fix_formats(formats) -> None:
            # XlsxWriter numbers a format when it first writes it; numbered in creation order
            # instead, a row's XML can be made when it is stored (the numbers only order styles.xml).
            for fmt in formats:
                fmt._get_xf_index()

        def _cell_xml(self, col: int, fmt) -> tuple | None:
            if fmt is None:  # XlsxWriter takes the row's or the column's
                return None
            s = fmt.xf_format_indices.get(fmt._get_format_key())  # numbered already: nothing new is numbered
            if s is None:
                return None
            xml = self.cell_xml[col] = (fmt, f'<c r="{xl_col_to_name(col)}', f'" s="{s}" t="s"><v>', f'" s="{s}"><v>',
                                        f'" s="{s}" t="inlineStr"><is><t')
            return xml

        def put_row(self, row: int, values, formats, height: float | None = None) -> None:
            made = self.made_rows
            if self.constant_memory:
                return self._stream_row(row, values, formats, height)
            if row in made or self.table.get(row) or (height and row in self.row_info):
                return super().put_row(row, values, formats, height)
            cells = self._row_xml(row, values, formats, inline=False)
            if cells is None:
                return super().put_row(row, values, formats, height)
            xml, first, last, strings = cells
            if first is None:
                if height:
                    self.set_row(row, height)
                return
            pixels = None
            if height:  # as set_row stores it (and takes the row into the sheet's dimensions)
                if self._check_dimensions(row, self.dim_colmin if self.dim_colmin is not None else 0):
                    return
                pixels = int(height * 4.0 / 3.0 + 0.5)
                self.row_sizes[row] = [pixels, False]
            if self._check_dimensions(row, first) or self._check_dimensions(row, last):
                return
            self.str_table.count += strings
            made[row] = first, last, xml, pixels

        def _row_xml(self, row: int, values, formats, inline: bool) -> tuple[str, int | None, int | None, int] | None:
            """(the XML of a row's cells, its first and last column, its number of strings), the
            strings shared (added to the table as XlsxWriter would add them: a fallback finds
            them there) or ``inline``; None where a cell needs XlsxWriter's own code."""
            cached, n = self.cell_xml, str(row + 1)
            index, sst = self.str_table.string_table, self.str_table
            escape_controls, escape, plain = self._escape_control_characters, self._escape_data, _NOT_PLAIN.search
            parts, first, last, strings = [], None, None, 0
            try:
                for col, v in enumerate(values):
                    if v is None:
                        continue
                    fmt = formats[col]
                    xml = cached[col]
                    if xml is None or xml[0] is not fmt:
                        xml = self._cell_xml(col, fmt)
                        if xml is None:
                            return None
                    if v.__class__ is str:
                        if not v:
                            continue
                        if len(v) >= 16384:  # may need XlsxWriter's truncation
                            return None
                        if not inline:
                            i = index.get(v)
                            if i is None:
                                i = index[v] = sst.unique_count
                                sst.unique_count += 1
                            parts.append(f"{xml[1]}{n}{xml[2]}{i}</v></c>")
                        elif v.startswith("<r>") and v.endswith("</r>"):  # a rich string
                            return None
                        elif plain(v) is None:  # nothing XlsxWriter escapes, no white space at an end
                            parts.append(f"{xml[1]}{n}{xml[4]}>{v}</t></is></c>")
                        else:
                            v = escape_controls(v)
                            space = ' xml:space="preserve"' if _preserve_whitespace(v) else ""
                            parts.append(f"{xml[1]}{n}{xml[4]}{space}>{escape(v)}</t></is></c>")
                        strings += 1
                    elif (v.__class__ is float or v.__class__ is int) and -1e308 < v < 1e308:  # NaN, infinity: error formulas
                        parts.append(f"{xml[1]}{n}{xml[3]}{v:.16G}</v></c>")
                    else:
                        return None
                    if first is None:
                        first = col
                    last = col
            except IndexError:  # beyond the last column
                return None
            return "".join(parts), first, last, strings

        def _stream_row(self, row: int, values, formats, height: float | None) -> None:
            """put_row in the constant-memory mode: the row's XML with inline strings, as
            XlsxWriter writes them, kept until the next row flushes it (_write_single_row)."""
            if self.comments or row < self.previous_row or (row == self.previous_row and (row in self.made_rows or self.table.get(row))):
                return super().put_row(row, values, formats, height)
            cells = self._row_xml(row, values, formats, inline=True)
            if cells is None:
                return super().put_row(row, values, formats, height)
            xml, first, last, _ = cells
            if first is not None and row > self.previous_row:
                self._write_single_row(row)  # as XlsxWriter's first write into a new row does
            if height:
                self.set_row(row, height)
            if first is None or self._check_dimensions(row, first) or self._check_dimensions(row, last):
                return
            self.made_rows[row] = first, last, xml, None
            self.streamed_rows += 1

        def _write_single_row(self, current_row_num: int = 0) -> None:
            own = self.made_rows.pop(self.previous_row, None) if self.constant_memory else None
            if own is None:
                return super()._write_single_row(current_row_num)
            row_num, self.previous_row = self.previous_row, current_row_num
            cells = self.table.get(row_num)
            self._write_row(row_num, None, self.row_info.get(row_num))
            if cells:  # cells written after put_row: in column order, each one over the row's own
                stored = self._cells(own[2])
                for col_num in sorted(stored.keys() | cells.keys()):
                    if col_num in cells:
                        self._write_cell(row_num, col_num, cells[col_num])
                    else:
                        self.fh.write(stored[col_num])
            else:
                self.fh.write(own[2])
            self._xml_end_tag("row")
            self.table.clear()

        @staticmethod
        def _cells(xml: str) -> dict[int, str]:
            """A stored row's cells by column (for the rare row that needs them one by one)."""
            cells = {}
            for part in xml.split("</c>")[:-1]:
                cells[xl_cell_to_rowcol(part[6:part.index('"', 6)])[1]] = part + "</c>"
            return cells

        def _get_range_data(self, row_start, col_start, row_end, col_end):
            # A chart's cached data, read back from the XML of the rows stored by put_row.
            made = self.made_rows
            if self.constant_memory or not any(r in made for r in range(row_start, row_end + 1)):
                return super()._get_range_data(row_start, col_start, row_end, col_end)
            data = []
            for row_num in range(row_start, row_end + 1):
                own, cells = made.get(row_num), self.table.get(row_num) or {}
                if own is None:
                    data += super()._get_range_data(row_num, col_start, row_num, col_end)
                    continue
                stored = self._cells(own[2])
                for col_num in range(col_start, col_end + 1):
                    xml = stored.get(col_num)
                    if col_num in cells:
                        data += super()._get_range_data(row_num, col_num, row_num, col_num)
                    elif xml is None:
                        data.append(None)
                    else:
                        v = xml[xml.index("<v>") + 3:-8]
                        data.append(self.str_table._get_shared_string(int(v)) if 't="s"' in xml else v.replace("E", "e"))
            return data

        def _calculate_spans(self) -> None:
            # The same spans (columns used in each block of 16 rows), from each row's own
            # columns instead of a test of every column of every row.
            if self.comments:
                return super()._calculate_spans()
            spans, table, made, lo, hi = {}, self.table, self.made_rows, None, None
            for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
                cells, own = table.get(row_num), made.get(row_num)
                if cells:
                    a, b = min(cells), max(cells)
                    lo, hi = (a, b) if lo is None else (min(lo, a), max(hi, b))
                if own:
                    a, b = own[0], own[1]
                    lo, hi = (a, b) if lo is None else (min(lo, a), max(hi, b))
                if (row_num + 1) % 16 == 0 or row_num == self.dim_rowmax:
                    if lo is not None:
                        spans[row_num // 16] = f"{lo + 1}:{hi + 1}"
                        lo = None
            self.row_spans = spans

        def _write_rows(self) -> None:
            if self.comments or self.constant_memory:
                return super()._write_rows()
            self._calculate_spans()
            table, info, spans, made, fh = self.table, self.row_info, self.row_spans, self.made_rows, self.fh
            # XlsxWriter's row element, made here when the row has no other properties.
            plain_tag = self.default_row_height == self.original_row_height and self.excel_version != 2010
            for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
                cells, own = table.get(row_num), made.get(row_num)
                span = spans.get(row_num // 16)
                if own is not None and own[3] and row_num not in info and not (plain_tag and not cells):
                    self.set_row_pixels(row_num, own[3])  # XlsxWriter writes this row's element
                if own is not None and not cells:
                    if row_num in info:
                        self._write_row(row_num, span, info[row_num])
                        fh.write(own[2] + "</row>")
                    else:
                        tag = f'<row r="{row_num + 1}" spans="{span}"' if span else f'<row r="{row_num + 1}"'
                        height = f' ht="{own[3] * 0.75:.16g}" customHeight="1">' if own[3] else ">"
                        fh.write(tag + height + own[2] + "</row>")
                    continue
                if not cells:
                    if row_num in info:
                        self._write_empty_row(row_num, span, info[row_num])
                    continue
                self._write_row(row_num, span, info.get(row_num))
                if own is None:
                    for col_num in sorted(cells):
                        self._write_cell(row_num, col_num, cells[col_num])
                else:  # cells written after put_row: in column order, each one over the row's own
                    stored = self._cells(own[2])
                    for col_num in sorted(stored.keys() | cells.keys()):
                        if col_num in cells:
                            self._write_cell(row_num, col_num, cells[col_num])
                        else:
                            fh.write(stored[col_num])
                self._xml_end_tag("row")

    return RollupWorksheet


class _Book:
    """The XlsxWriter workbook with its cell formats and the run's print setup."""

    def __init__(self, path: Path, lang: str, today: dt.date, constant_memory: bool) -> None:
        import xlsxwriter

        self.lang, self.today = lang, today
        self.wb = xlsxwriter.Workbook(str(path), {
            # Up to a few thousand units the cells are kept until the end (shared strings, about
            # 1.7x as fast); beyond, rows stream to disk so memory does not grow with them.
            "constant_memory": constant_memory,
            "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
            "nan_inf_to_errors": True,
            "default_format_properties": {"font_size": 10, "valign": "top"},
        })
        self.wb.set_properties({"title": "预算绩效自评汇总" if lang == "zh" else "Budget performance self-evaluation rollup",
                                "author": "xlsxcheck", "comments": f"xlsxcheck rollup {today.isoformat()}"})
        self.wb.set_custom_property(OUTPUT_PROPERTY, "rollup")  # never read as a filing (own_outputs.py)
        base = {"text": {}, "wrap": {"text_wrap": True}, "amount": {"num_format": "#,##0.00"}, "rate": {"num_format": "0.00%"},
                "score": {"num_format": "0.00"}, "int": {"num_format": "0"}, "center": {"align": "center"},
                "link": {"font_color": "blue", "underline": 1, "text_wrap": True}, "hidden": {}}
        add = self.wb.add_format
        self.formats = {k: add(v) for k, v in base.items()}
        self.formats |= {f"total_{k}": add(v | {"bold": True, "top": 1}) for k, v in base.items()}
        self.formats["error"] = add({"num_format": "0", "bg_color": "#FFC7CE"})
        self.formats["group"] = add({"bold": True})
        self.formats["header"] = add({"bold": True, "bg_color": "#DDEBF7", "align": "center", "valign": "vcenter",
                                      "text_wrap": True, "border": 1})
        _worksheet_class().fix_formats(self.formats.values())

    def sheet(self, key: str, cols: list[_Col], groups: list[tuple[str, int, int]] | None = None,
              fit_width: bool = True) -> "_Sheet":
        return _Sheet(self, SHEETS[key][self.lang == "en"], cols, groups, fit_width)

    def close(self) -> None:
        import zipfile

        from xlsxwriter import workbook as module
        from xlsxwriter.exceptions import FileCreateError

        # XlsxWriter deflates at zlib's default level, a fifth of the writing time; at
        # ZIP_LEVEL it is three times as fast for a file about a fifth larger. XlsxWriter has no
        # option for it: the ZipFile it opens is given the level for the time of the close
        # (should XlsxWriter open it otherwise, the file is written at the default level).
        quick = module.ZipFile is zipfile.ZipFile
        if quick:
            module.ZipFile = partial(zipfile.ZipFile, compresslevel=ZIP_LEVEL)
        try:
            self.wb.close()
        except FileCreateError as exc:  # XlsxWriter's wrapper of the OSError (disk full, no permission)
            raise OSError(str(exc.__cause__ or exc)) from exc
        finally:
            if quick:
                module.ZipFile = zipfile.ZipFile


ZIP_LEVEL = 2  # zlib's levels 1-3 deflate about as fast as each other; 2 packs the rollup's XML best of them


class _Sheet:
    """One sheet, written row by row (in order: XlsxWriter's constant-memory mode requires it)."""

    def __init__(self, book: _Book, title: str, cols: list[_Col], groups, fit_width: bool) -> None:
        self.book, self.title, self.cols = book, title, cols
        self.wrapped = [(i, max(c.width - 1, 1)) for i, c in enumerate(cols) if c.style in ("wrap", "link")]
        self.ix = {c.key: i for i, c in enumerate(cols)}
        ws = self.ws = book.wb.add_worksheet(title, worksheet_class=_worksheet_class())
        fmt = book.formats
        self.fmts = [fmt[c.style] for c in cols]  # every cell carries its format: see _worksheet_class
        for i, c in enumerate(cols):
            ws.set_column(i, i, c.width, fmt[c.style], {"hidden": True} if c.style == "hidden" else None)
        en = book.lang == "en"
        header_rows = 2 if groups else 1
        self.header_rows = header_rows
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        ws.repeat_rows(0, header_rows - 1)
        ws.hide_gridlines(0)  # gridlines on screen and on paper: rows stay readable across a page
        ws.set_header(f"&C&\"-,Bold\"{title}")
        ws.set_footer(f"&L{_t('footer', book.lang, date=book.today.isoformat())}&R{_t('page', book.lang)}")
        if fit_width:
            ws.fit_to_pages(1, 0)
        else:  # too wide for one legible page: pages of whole column groups, the unit column on each
            ws.repeat_columns(0)
        ws.freeze_panes(header_rows, 1)
        head = fmt["header"]
        if groups:
            ws.set_row(0, _LINE * max(_lines(g, sum(c.width for c in cols[a:b + 1])) for g, a, b in groups) + 4)
            for text, first, last in groups:
                if first == last:
                    ws.write_string(0, first, text, head)
                else:
                    ws.merge_range(0, first, 0, last, text, head)
            ws.write_blank(0, 0, None, head)
        row = header_rows - 1
        ws.set_row(row, _LINE * max(_lines(c.en if en else c.zh, c.width) for c in cols) + 4)
        for i, c in enumerate(cols):
            ws.write_string(row, i, c.en if en else c.zh, head)
        self.row = header_rows  # the next row to write, 0-based

    def letter(self, key: str) -> str:
        from xlsxwriter.utility import xl_col_to_name

        return xl_col_to_name(self.ix[key])

    def write(self, values: list[Any], total: bool = False) -> int:
        """Write a row of values in column order; return its 1-based row number."""
        ws, r, fmts, cols, own = self.ws, self.row, self.book.formats, self.cols, self.fmts
        plain, other = [], []  # strings and numbers in their column's format (stored in one call); the rest
        for c, v in enumerate(values):
            cls = v.__class__
            if total and v is not None and v != "" and cls is not Styled:
                # totals in bold; a label overflows into the empty cells beside it
                v, cls = Styled(v, f"total_{'text' if cols[c].style == 'wrap' else cols[c].style}"), Styled
            if cls is str:
                plain.append(printable(v))  # a file name may hold undecodable bytes
            elif cls is float or cls is int:
                plain.append(v)
            else:
                plain.append(None)
                if v is not None:
                    other.append((c, v))
        ws.put_row(r, plain, own, None if total else _height(values, self.wrapped))
        for c, v in other:  # after put_row: a row stored in one call takes them in column order
            style = own[c]
            if v.__class__ is Styled:
                v, style = v.value, fmts[v.style]
            if v.__class__ is Formula:
                ws.write_formula(r, c, v.text, style, v.value)
            elif v.__class__ is Link:
                ws.write_url(r, c, printable(v.url), fmts["link"], string=printable(v.text))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(r, c, v, style)
            elif v is not None and v != "":
                ws.write_string(r, c, printable(str(v)), style)
        self.row += 1
        return self.row

    def skip(self) -> None:
        self.row += 1

    def close(self, last_row: int | None = None) -> None:
        """Autofilter over the header and the data rows (totals below stay out of it); print
        the rows written and no more."""
        last = max(last_row if last_row is not None else self.row, self.header_rows)
        self.ws.autofilter(self.header_rows - 1, 0, last - 1, len(self.cols) - 1)
        self.ws.print_area(0, 0, max(self.row, self.header_rows) - 1, len(self.cols) - 1)


def _units(result: RunResult, registry, exclude_errors: bool, annotated: dict[str, Path], lang: str) -> list[_Unit]:
    dup = duplicates(result.books)
    units = []
    for pos, book in enumerate(result.books):
        if not book.readable:
            status = _STATUS["unreadable"][lang == "en"]
        elif not book.tables:
            status = _STATUS["no_tables"][lang == "en"]
        elif pos in dup:  # a correction that supersedes it, or a copy nothing tells apart (D601)
            status = _STATUS["superseded" if book.superseded_why else "duplicate"][lang == "en"].format(file=result.books[dup[pos]].file)
        else:
            status = ""
        c = result.counts(book.file)
        if not status and exclude_errors and c["error"]:
            status = _STATUS["errors"][lang == "en"]
        department, parent = book.department, ""
        if registry is not None:
            entry = registry.entry(book.unit)
            if entry:
                department, parent = entry[0] or department, entry[1]
        funds, source = book.funds, "overall" if any(v is not None for v in book.funds) else ""
        if not source and book.project_rows:
            # A filing of project tables only: its funds are the sum of its projects'.
            sums = tuple(_sum(getattr(p, k) for p in book.project_rows) for k in ("initial", "budget", "executed"))
            if any(v is not None for v in sums):
                funds, source = sums, "projects"
        units.append(_Unit(book, department or _t("no_dep", lang), parent, *funds, source, c["error"], c["warning"],
                           status, annotated.get(book.file)))
    return units


def _sum(values) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present), 6) if present else None


def _ordered(units: list[_Unit], registry) -> tuple[list[list[_Unit]], list[_Unit]]:
    """Counted units grouped by department, and the units not counted, in the order a bureau
    expects: the registry's order when there is one, else 主管部门 then unit name by pinyin.
    Units missing from the registry follow the registered ones in pinyin order."""
    rank = {normalize(name): i for i, name in enumerate(registry.units)} if registry is not None else {}

    def key(u: _Unit) -> tuple:
        r = rank.get(normalize(u.book.unit))
        if r is not None:
            return (0, r, u.book.file)
        return (1, _pinyin(u.department), _pinyin(u.book.unit), u.book.file)

    by_dep: dict[str, list[_Unit]] = defaultdict(list)
    for u in sorted((u for u in units if not u.status), key=key):
        by_dep[u.department].append(u)
    return list(by_dep.values()), sorted((u for u in units if u.status), key=key)


def _relative(path: Path, start: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return str(path.resolve())


def _units_sheet(book: _Book, groups: list[list[_Unit]], others: list[_Unit], registry, links: bool, out_dir: Path) -> dict:
    lang = book.lang
    cols = [_Col("unit", "单位", "Unit", 22, "wrap"), _Col("department", "主管部门", "Department", 14, "wrap")]
    if registry is not None:
        cols.append(_Col("parent", "上级单位", "Parent", 12, "wrap"))
    cols += [_Col("year", "年度", "Year", 6, "int"), _Col("initial", "年初预算数", "Initial budget", 12, "amount"),
             _Col("budget", "全年预算数", "Full-year budget", 12, "amount"), _Col("executed", "全年执行数", "Executed", 12, "amount"),
             _Col("rate", "执行率", "Rate", 8.5, "rate"), _Col("score", "自评总分", "Score", 7, "score"),
             _Col("grade", "等级", "Grade", 5.5, "center"), _Col("projects", "项目数", "Projects", 5.5, "int"),
             _Col("errors", "错误", "Errors", 5.5, "int"), _Col("warnings", "警告", "Warnings", 5.5, "int"),
             _Col("source", "数据来源", "Figures from", 8, "wrap"), _Col("file", "来源文件", "File", 20, "wrap")]
    if links:
        cols.append(_Col("annotated", "批注副本", "Annotated", 9, "link"))
    cols += [_Col("status", "状态", "Status", 14, "wrap"), _Col("path", "完整路径", "Full path", 40, "hidden")]
    sheet = book.sheet("units", cols)
    L = sheet.letter

    def unit_row(u: _Unit) -> None:
        b = u.book
        link = Link("external:" + _relative(u.annotated, out_dir), _t("annotated", lang)) if u.annotated else None
        score = b.total_score  # of the 整体表: a filing of project tables only has none
        values: dict[str, Any] = {
            "unit": b.unit, "department": u.department, "parent": u.parent, "year": b.year, "initial": u.initial,
            "budget": u.budget, "executed": u.executed, "rate": u.rate,
            "score": score, "grade": _grade(score), "projects": b.projects,
            "errors": Styled(u.errors, "error") if u.errors else u.errors, "warnings": u.warnings,
            "source": _SOURCE[u.source][lang == "en"] if u.source else "", "file": b.file, "annotated": link,
            "status": u.status, "path": b.path,
        }
        sheet.write([values.get(c.key) for c in cols])

    summed = ("initial", "budget", "executed", "projects", "errors", "warnings")

    def total_row(label: str, first: int, last: int, members: list[_Unit]) -> int:
        r = sheet.row + 1
        values: dict[str, Any] = {"unit": label}
        for key in summed:
            col = L(key)
            # A range with no unit rows is the header cell: SUBTOTAL of text is 0, never circular.
            ref = f"{col}{first}:{col}{last}" if last >= first else f"{col}1"
            values[key] = Formula(f"=SUBTOTAL(9,{ref})", _total(members, key))
        budget, executed = values["budget"].value, values["executed"].value
        values["rate"] = Formula(f'=IF(N({L("budget")}{r})=0,"",{L("executed")}{r}/{L("budget")}{r})',
                                 executed / budget if budget else "")
        return sheet.write([values.get(c.key) for c in cols], total=True)

    counted = [u for g in groups for u in g]
    for members in groups:
        first = sheet.row + 1
        for u in members:
            unit_row(u)
        total_row(_t("subtotal", lang, dep=members[0].department), first, sheet.row, members)
    total_at = total_row(_t("total", lang), 2, sheet.row, counted)
    if others:
        sheet.skip()
        sheet.write([Styled(_t("others", lang), "group")])
        for u in others:
            unit_row(u)
    sheet.close(total_at - 1)
    return {"sheet": sheet.title, "last": total_at - 1, "total": total_at, "counted": counted,
            "grade": L("grade"), "rate": L("rate"), "file": L("file"), "score": L("score")}


def _total(units: list[_Unit], key: str) -> float | int:
    if key in ("projects",):
        return sum(u.book.projects for u in units)
    if key in ("errors", "warnings"):
        return sum(getattr(u, key) for u in units)
    return round(sum(v for u in units if (v := getattr(u, key)) is not None), 6)


def _projects_sheet(book: _Book, counted: list[_Unit]) -> int:
    lang = book.lang
    cols = [_Col("unit", "单位", "Unit", 20, "wrap"), _Col("department", "主管部门", "Department", 14, "wrap"),
            _Col("project", "项目名称", "Project", 26, "wrap"), _Col("initial", "年初预算数", "Initial budget", 12, "amount"),
            _Col("budget", "全年预算数", "Full-year budget", 12, "amount"), _Col("executed", "全年执行数", "Executed", 12, "amount"),
            _Col("rate", "执行率", "Rate", 8.5, "rate"), _Col("score", "自评得分", "Score", 7, "score"),
            _Col("grade", "等级", "Grade", 5.5, "center"), _Col("file", "来源", "Source", 22, "wrap"),
            _Col("path", "完整路径", "Full path", 40, "hidden")]
    sheet = book.sheet("projects", cols)
    L = sheet.letter
    rows = [(u, p) for u in counted for p in u.book.project_rows]
    for u, p in rows:
        rate = p.executed / p.budget if p.executed is not None and p.budget else None
        sheet.write([u.book.unit, u.department, p.name, p.initial, p.budget, p.executed,
                     rate, p.score, _grade(p.score), f"{u.book.file} / {p.sheet}", u.book.path])
    last, r = sheet.row, sheet.row + 1
    sums = [round(sum(v for _, p in rows if (v := getattr(p, k)) is not None), 6) for k in ("initial", "budget", "executed")]
    totals = [Formula(f"=SUBTOTAL(9,{c}2:{c}{last})" if last >= 2 else f"=SUBTOTAL(9,{c}1)", s)
              for c, s in zip((L("initial"), L("budget"), L("executed")), sums)]
    sheet.write([_t("total", lang), None, None, *totals,
                 Formula(f'=IF(N({L("budget")}{r})=0,"",{L("executed")}{r}/{L("budget")}{r})', sums[2] / sums[1] if sums[1] else "")],
                total=True)
    sheet.close(last)
    return len(rows)


def _indicators_sheet(book: _Book, counted: list[_Unit]) -> None:
    cols = [_Col("unit", "单位", "Unit", 16, "wrap"), _Col("table", "表", "Table", 16, "wrap"),
            _Col("level1", "一级指标", "Level 1", 13, "wrap"), _Col("level2", "二级指标", "Level 2", 11, "wrap"),
            _Col("level3", "三级指标", "Level 3", 20, "wrap"), _Col("target", "年度指标值", "Target", 11, "wrap"),
            _Col("actual", "实际完成值", "Actual", 11, "wrap"), _Col("weight", "分值", "Weight", 6, "score"),
            _Col("score", "得分", "Score", 6, "score"), _Col("reason", "偏差原因分析及改进措施", "Reason for deviation", 22, "wrap"),
            _Col("cell", "来源单元格", "Source cell", 12, "text")]
    sheet = book.sheet("indicators", cols)
    # The largest sheet (every indicator of every table): written straight to the sheet,
    # strings and numbers only, no per-cell dispatch.
    ws, r, wrapped, fmts = sheet.ws, sheet.row, sheet.wrapped, sheet.fmts
    put_row = ws.put_row
    overall = _t("overall_table", book.lang)
    for u in counted:
        unit = printable(u.book.unit)  # the cells' own texts come from calamine, always valid Unicode
        for row in u.book.indicator_rows:
            table = row[0]
            values = (unit, table if table != "部门整体支出" else overall, *row[1:])
            put_row(r, values, fmts, _height(values, wrapped))
            r += 1
    sheet.row = r
    sheet.close()


def _base_sheet(book: _Book, counted: list[_Unit]) -> None:
    en = book.lang == "en"
    cols = [_Col("unit", "单位", "Unit", 20, "wrap"), _Col("staff.authorized", "编制数", "Authorized", 7, "int"),
            _Col("staff.actual", "实际在职人数", "Actual", 7, "int"), _Col("staff.control_rate", "控制率", "Control rate", 8.5, "rate")]
    groups = [("财政供养人员情况" if not en else "Staff", 1, 3)]
    for key, zh, en_name in _BASE_ITEMS:
        groups.append((en_name if en else zh, len(cols), len(cols) + len(_BASE_COLS) - 1))
        cols += [_Col(f"{key}.{col}", czh, cen, 10.5, "amount") for col, czh, cen in _BASE_COLS]
    sheet = book.sheet("base", cols, groups=groups, fit_width=False)
    # Vertical page breaks between items, so that no item is split over two pages.
    breaks, width, first_width = [], cols[0].width, cols[0].width
    for _, first, last in groups:
        w = sum(c.width for c in cols[first:last + 1])
        if width + w > 135 and width > first_width:  # what an A4 landscape page holds at 90%, with room to spare
            breaks.append(first)
            width = first_width
        width += w
    sheet.ws.set_v_pagebreaks(breaks)
    sheet.ws.set_print_scale(90)
    keys = [c.key for c in cols[1:]]
    for u in counted:
        base = u.book.base
        if base:
            sheet.write([u.book.unit, *(base.get(k) for k in keys)])
    sheet.close()


def _findings_sheet(book: _Book, result: RunResult, order: dict[str, int], annotated: dict[str, Path], out_dir: Path) -> None:
    lang = book.lang
    cols = [_Col("unit", "单位", "Unit", 16, "wrap"), _Col("file", "文件", "File", 18, "wrap"),
            _Col("where", "位置", "Cell", 12, "wrap"), _Col("code", "代码", "Code", 6), _Col("severity", "级别", "Severity", 6, "center"),
            _Col("message", "问题说明", "Message", 56, "wrap"), _Col("expected", "应为", "Expected", 10, "wrap"),
            _Col("actual", "实为", "Actual", 10, "wrap"), _Col("waived", "审核说明", "Waiver", 14, "wrap"),
            _Col("path", "完整路径", "Full path", 40, "hidden")]
    sheet = book.sheet("findings", cols)
    paths = {b.file: b.path for b in result.books}
    findings = sorted(result.findings, key=lambda f: order.get(f.file, len(order)))  # stable: cells stay in order
    links = 0
    for f in findings:
        where: Any = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else (f.sheet or _t("whole_file", lang))
        copy = annotated.get(f.file)
        if copy is not None and f.sheet and f.cell and links < _MAX_LINKS:
            sheet_ref = f.sheet.replace("'", "''")
            where = Link(f"external:{_relative(copy, out_dir)}#'{sheet_ref}'!{f.cell.split(':')[0]}", where)
            links += 1
        severity = UI[lang]["waived" if f.waived else f.severity]
        sheet.write([f.unit, f.file, where, f.code, severity, f.text(lang), f.expected, f.actual, f.waived,
                     paths.get(f.file, f.file)])
    sheet.close()


def _stats_sheet(book: _Book, units: dict) -> None:
    lang = book.lang
    cols = [_Col("label", "等级", "Grade", 14, "text"), _Col("count", "单位数", "Units", 9, "int"), _Col("share", "占比", "Share", 9, "rate")]
    sheet = book.sheet("stats", cols)
    src, last = units["sheet"].replace("'", "''"), max(units["last"], 2)

    def rng(col: str) -> str:
        return f"'{src}'!${col}$2:${col}${last}"

    def table(rows: list[tuple[str, str, int]]) -> int:
        """Label, COUNTIFS criteria and count per row, then a total row; every figure a formula."""
        first, n = sheet.row + 1, sum(count for _, _, count in rows)
        total = f"$B${first + len(rows)}"
        for label, criteria, count in rows:
            r = sheet.row + 1
            # Unit rows are the ones with a source file: subtotal rows are not counted.
            sheet.write([label, Formula(f'=COUNTIFS({rng(units["file"])},"<>"{criteria})', count),
                         Formula(f'=IF({total}=0,"",B{r}/{total})', count / n if n else "")])
        sheet.write([_t("total", lang), Formula(f"=SUM(B{first}:B{sheet.row})", n)], total=True)
        return first

    counted: list[_Unit] = units["counted"]
    grades = Counter(_grade(u.book.total_score) for u in counted)
    grade_rows = [(g, f',{rng(units["grade"])},"{g}"', grades[g]) for g in GRADES]
    # Units without a score or a rate are counted too, so that each table adds up to the units.
    grade_first = table(grade_rows + [(_t("no_score", lang), f',{rng(units["grade"])},""', grades[""])])
    sheet.skip()
    for i, text in enumerate(("执行率区间", "单位数", "占比") if lang == "zh" else ("Execution rate", "Units", "Share")):
        sheet.ws.write_string(sheet.row, i, text, book.formats["header"])
    sheet.skip()
    rates = [u.rate for u in counted if u.rate is not None]
    band_rows = []
    for lo, hi, label in RATE_BANDS:
        criteria = "".join(f',{rng(units["rate"])},"{op}{bound:g}"' for op, bound in ((">=", lo), ("<", hi)) if bound is not None)
        band_rows.append((label, criteria, sum(1 for x in rates if (lo is None or x >= lo) and (hi is None or x < hi))))
    band_first = table(band_rows + [(_t("no_rate", lang), f',{rng(units["rate"])},""', len(counted) - len(rates))])
    for title, first, rows, anchor in ((("等级分布", "Grades"), grade_first, grade_rows, "E2"),
                                       (("执行率分布", "Execution rates"), band_first, band_rows, "E18")):
        chart = book.wb.add_chart({"type": "column"})
        chart.add_series({"categories": [sheet.title, first - 1, 0, first + len(rows) - 2, 0],
                          "values": [sheet.title, first - 1, 1, first + len(rows) - 2, 1],
                          "data_labels": {"value": True}, "fill": {"color": "#5B9BD5"}})
        chart.set_title({"name": title[lang == "en"]})
        chart.set_legend({"none": True})
        # Counts of units: whole numbers on the axis, never steps of 0.5.
        chart.set_y_axis({"min": 0, "major_unit": _nice_step(max((c for _, _, c in rows), default=0)), "num_format": "0",
                          "name": "单位数" if lang == "zh" else "Units"})
        chart.set_size({"width": 480, "height": 280})
        sheet.ws.insert_chart(anchor, chart)
    sheet.ws.hide_gridlines(1)  # on paper the charts stand on white, not on a grid of empty cells


def _nice_step(top: int) -> int:
    """A whole axis step giving at most eight gridlines: 1, 2, 5, 10, 20, 50, …"""
    step, i = 1, 0
    while top / step > 8:
        step, i = int(step * (2, 2.5, 2)[i % 3]), i + 1
    return step


def _missing_sheet(book: _Book, result: RunResult, registry, order: dict[str, int]) -> tuple[int, int]:
    lang = book.lang
    cols = [_Col("unit", "单位", "Unit", 30, "wrap"), _Col("department", "主管部门", "Department", 20, "wrap"),
            _Col("why", "情况", "Status", 40, "wrap"), _Col("path", "完整路径", "Full path", 40, "hidden")]
    sheet = book.sheet("missing", cols)
    missing, extra = registry.compare(result.books)  # the same reading as D602 and D603
    for unit, dep in missing:
        sheet.write([unit, dep, _t("missing", lang)])
    for b in sorted(extra, key=lambda b: order.get(b.file, len(order))):
        sheet.write([b.unit, b.department, _t("extra", lang, file=b.file), b.path])
    sheet.close()
    return len(missing), len(extra)


def _write(output: Path, result: RunResult, groups, others, order, copies, lang: str, today) -> tuple[tuple[int, int], int]:
    """Write the workbook to a temporary file renamed into place; return (missing, extra) and the number of projects."""
    registry, counted, out_dir = result.registry, [u for g in groups for u in g], output.parent
    with atomic_path(output) as tmp:
        streamed = sum(len(u.book.indicator_rows) for u in counted) > STREAM_ROWS
        book = _Book(tmp, lang, today or dt.date.today(), constant_memory=streamed)
        info = _units_sheet(book, groups, others, registry, bool(copies), out_dir)
        n_projects = _projects_sheet(book, counted)
        _indicators_sheet(book, counted)
        _base_sheet(book, counted)
        _findings_sheet(book, result, order, copies, out_dir)
        _stats_sheet(book, info)
        missing = _missing_sheet(book, result, registry, order) if registry is not None else (0, 0)
        book.close()
    return missing, n_projects


def load_writer() -> None:
    """Load XlsxWriter and pypinyin's dictionaries ahead of writing (about half a second): the
    rollup command has it done while the workers check (pipeline.run's ``meanwhile``)."""
    _worksheet_class()
    _pinyin("长沙市")


def write_rollup(result: RunResult, output: str | Path, lang: str = "zh", exclude_errors: bool = False,
                 annotated: dict[str, str | Path] | None = None, today: dt.date | None = None) -> str:
    """Write the rollup atomically; return a one-line summary for the terminal.

    ``annotated`` maps a file (as the run shows it) to its annotated copy: its unit row and its
    findings then link to the copy."""
    if not result.rollup_rows:
        raise ValueError("the run did not keep rollup rows: run it with Options(rollup_rows=True)")
    output = Path(output)
    refuse_inputs(output, [b.path for b in result.books])
    # XlsxWriter keeps a record per cell (half a million for 1000 units) and pypinyin loads its
    # dictionaries, none of it in a reference cycle; the cyclic collector would only rescan them
    # and the whole run again and again (a fifth of the rollup's time), so it waits until the end.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _rollup(result, output, lang, exclude_errors, annotated, today)
    finally:
        if collecting:
            gc.enable()


def _rollup(result: RunResult, output: Path, lang: str, exclude_errors: bool, annotated, today) -> str:
    registry = result.registry
    copies = {k: Path(v) for k, v in (annotated or {}).items()}
    units = _units(result, registry, exclude_errors, copies, lang)
    groups, others = _ordered(units, registry)
    counted = [u for g in groups for u in g]
    order = {u.book.file: i for i, u in enumerate(counted + others)}
    missing, n_projects = _write(output, result, groups, others, order, copies, lang, today)
    skipped = Counter(u.status for u in units if u.status)
    if lang == "en":
        note = "; ".join(f"{k}: {v}" for k, v in skipped.items())
        text = f"rollup: {len(counted)} units in the totals, {n_projects} projects → {output}"
        if registry is not None:
            text += f"; not filed {missing[0]}, not in the registry {missing[1]}"
        return text + (f" ({note})" if note else "")
    note = "；".join(f"{k} {v}" for k, v in skipped.items())
    text = f"汇总：{len(counted)} 个单位计入合计，{n_projects} 个项目 → {output}"
    if registry is not None:
        text += f"；未报送 {missing[0]}，名录外 {missing[1]}"
    return text + (f"（{note}）" if note else "")
