"""A written report (自评报告) as numbered paragraphs with their section headings.

.docx is read with python-docx, body paragraphs and the tables inside the document in
document order (a table row becomes one paragraph, its cells joined); a PDF with
pdfplumber, its lines joined back into paragraphs. A PDF without a text layer (a scan)
is reported, not guessed at: there is no OCR.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..reading import MAX_FILE_BYTES, MAX_INFLATED_BYTES, MAX_RATIO

__all__ = ["Paragraph", "Report", "ReportSummary", "ReportError", "ScannedPdf", "read_report", "REPORT_SUFFIXES",
           "sentences", "heading_level", "take_report_candidates"]

REPORT_SUFFIXES = frozenset({".docx", ".pdf"})


def _is_candidate(path: Path) -> bool:
    """A .docx or .pdf that is not a lock file, hidden, or inside a hidden folder."""
    if path.suffix.lower() not in REPORT_SUFFIXES or path.name.startswith(("~$", ".")):
        return False
    return not any(part.startswith(".") and part not in (".", "..") for part in path.parts[:-1])


def take_report_candidates(found) -> list[Path]:
    """The .docx and .pdf files of a Discovery, taken out of its files and skipped lists
    (a report given by name is not a workbook; one found in a folder is not skipped)."""
    taken = [p for p in [*found.files, *found.skipped] if _is_candidate(p)]
    if taken:
        keep = set(taken)
        found.files[:] = [p for p in found.files if p not in keep]
        found.skipped[:] = [p for p in found.skipped if p not in keep]
    return taken


@dataclass
class ReportSummary:
    """A checked report, as the reports list it."""

    path: str
    file: str
    kind: str  # docx | pdf
    unit: str
    workbook: str  # the paired workbook (as shown), "" when none
    readable: bool
    paragraphs: int = 0
    statements: int = 0
    superseded_by: str = ""  # its workbook was superseded by this correction: its findings are moot

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "kind": self.kind, "unit": self.unit, "workbook": self.workbook or None,
                "readable": self.readable, "paragraphs": self.paragraphs, "statements": self.statements,
                "superseded_by": self.superseded_by or None}

_SENTENCE_END = "。！？；!?;"
_LEVEL1 = re.compile(r"^[一二三四五六七八九十]+[、.．]")
_LEVEL2 = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")
_LEVEL3 = re.compile(r"^(?:[（(]\d+[）)]|\d+[.、．](?!\d))")


class ReportError(Exception):
    """The report file cannot be read (corrupt, encrypted, too large)."""


class ScannedPdf(ReportError):
    """A PDF whose pages carry no text layer."""


@dataclass
class Paragraph:
    index: int  # 1-based among the report's non-empty paragraphs (what a reviewer is told)
    text: str
    page: int | None = None  # PDF only
    source: Any = None  # the python-docx Paragraph (for annotation), None for PDF

    @property
    def location(self) -> tuple[str, str]:
        """(sheet, cell) of a finding: the page (PDF) or 正文, and the paragraph."""
        return (f"第{self.page}页" if self.page else "正文"), f"第{self.index}段"


@dataclass
class Report:
    path: str
    file: str
    kind: str  # docx | pdf
    paragraphs: list[Paragraph] = field(default_factory=list)

    def head(self, n: int = 12) -> str:
        """The opening paragraphs, where the title and the unit are."""
        return "".join(p.text for p in self.paragraphs[:n])


def heading_level(text: str) -> int:
    """1 for 一、, 2 for （一）, 3 for （1） or 1. (short lines only), 0 for body text."""
    if _LEVEL1.match(text):
        return 1
    if _LEVEL2.match(text):
        return 2
    if _LEVEL3.match(text) and len(text) <= 40 and "。" not in text:
        return 3
    return 0


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a paragraph, the closing mark included."""
    out, start = [], 0
    for i, ch in enumerate(text):
        if ch in _SENTENCE_END:
            out.append((start, i + 1))
            start = i + 1
    if text[start:].strip():
        out.append((start, len(text)))
    return out


def _clean(text: str) -> str:
    return re.sub(r"[ \t\u3000\xa0]+", " ", text).strip()


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ReportError(f"文件过大（{size // 2**20} MB） / file too large")


def _read_docx(path: Path, file: str) -> Report:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph as DocxParagraph

    _check_size(path)
    try:
        with zipfile.ZipFile(path) as zf:
            inflated = sum(i.file_size for i in zf.infolist())
            packed = max(1, sum(i.compress_size for i in zf.infolist()))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReportError(f"不是有效的 .docx 文件 / not a valid .docx file ({exc})") from exc
    if inflated > MAX_INFLATED_BYTES or inflated / packed > MAX_RATIO:
        raise ReportError("解压后过大，疑似压缩炸弹 / inflates too much (zip bomb?)")
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises a variety (KeyError, ValueError, lxml errors) on a broken package
        raise ReportError(f"无法读取 .docx / cannot read the .docx ({type(exc).__name__}: {exc})") from exc
    report = Report(str(path), file, "docx")

    def add(text: str, source) -> None:
        text = _clean(text)
        if text:
            report.paragraphs.append(Paragraph(len(report.paragraphs) + 1, text, None, source))

    for block in document.iter_inner_content():
        if isinstance(block, DocxParagraph):
            add(block.text, block)
        elif isinstance(block, Table):
            for row in block.rows:
                cells = list(dict.fromkeys(c for c in row.cells))  # a merged cell repeats
                texts = [_clean(c.text) for c in cells]
                first = next((p for c in cells for p in c.paragraphs if p.text.strip()), None)
                add("　".join(t for t in texts if t), first)
    return report


_PDF_BREAK_AFTER = "。：:；;！？"


def _read_pdf(path: Path, file: str) -> Report:
    import pdfplumber

    _check_size(path)
    try:
        pdf = pdfplumber.open(str(path))
    except Exception as exc:  # pdfminer raises its own types for encrypted or broken files
        raise ReportError(f"无法读取 PDF / cannot read the PDF ({type(exc).__name__}: {exc})") from exc
    report = Report(str(path), file, "pdf")
    lines: list[tuple[int, str]] = []
    try:
        with pdf:
            for number, page in enumerate(pdf.pages, start=1):
                text = page.extract_text() or ""
                lines += [(number, _clean(line)) for line in text.splitlines() if _clean(line)]
    except Exception as exc:
        raise ReportError(f"无法读取 PDF / cannot read the PDF ({type(exc).__name__}: {exc})") from exc
    if not lines:
        raise ScannedPdf("PDF 无文字层（扫描件） / the PDF has no text layer (a scan)")
    # A PDF breaks paragraphs into lines: a line is joined to the one before unless that one
    # closed a sentence or this one opens a heading.
    width = max(len(t) for _, t in lines)
    current: list[str] = []
    page_of = lines[0][0]
    for i, (page, text) in enumerate(lines):
        if not current:
            page_of = page
        current.append(text)
        following = lines[i + 1][1] if i + 1 < len(lines) else ""
        ends = text[-1] in _PDF_BREAK_AFTER or len(text) < width * 0.6 or heading_level(following) or not following
        if ends:
            report.paragraphs.append(Paragraph(len(report.paragraphs) + 1, "".join(current), page_of))
            current = []
    return report


def read_report(path: str | Path, file: str) -> Report:
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        return _read_pdf(path, file)
    return _read_docx(path, file)
