"""A copy of each .docx report with a Word comment on every sentence a finding is about,
to send back to the unit with its annotated workbook. Inputs are only read; a PDF report
gets no copy (its findings are in every other output)."""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from pathlib import Path

from ..catalog import make_finding
from ..model import Finding
from ..output import atomic_path, refuse_inputs
from .document import Paragraph, ReportSummary, read_report, sentences

__all__ = ["annotate_reports"]

_PARAGRAPH = re.compile(r"^第(\d+)段$")


def _split(run, at: int):
    """Split a python-docx run at a character offset; the two halves keep its formatting."""
    from docx.text.run import Run

    text = run.text
    twin = copy.deepcopy(run._r)
    run._r.addnext(twin)
    right = Run(twin, run._parent)
    run.text, right.text = text[:at], text[at:]
    return run, right


def _sentence_runs(paragraph, needle: str) -> list:
    """The runs holding exactly the sentence that contains ``needle`` (split where needed);
    all runs of the paragraph when the sentence cannot be found."""
    runs = list(paragraph.runs)
    text = "".join(r.text for r in runs)
    at = text.find(needle) if needle else -1
    if at < 0:
        return runs
    start, end = next(((a, b) for a, b in sentences(text) if a <= at < b), (0, len(text)))
    while start < end and text[start].isspace():
        start += 1
    chosen, offset = [], 0
    for run in runs:
        a, b = offset, offset + len(run.text)
        offset = b
        if b <= start or a >= end:
            continue
        if a < start:
            run = _split(run, start - a)[1]
            a = start
        if b > end:
            run = _split(run, end - a)[0]
        chosen.append(run)
    return chosen or runs


def annotate_report(report: ReportSummary, findings: list[Finding], target: Path, lang: str = "zh") -> Path | None:
    document_report = read_report(report.path, report.file)
    by_index: dict[int, Paragraph] = {p.index: p for p in document_report.paragraphs}
    first = next((p for p in document_report.paragraphs if p.source is not None and p.source.runs), None)
    if first is None:  # no text to anchor a comment on: nothing to send back
        return None
    document = first.source.part.document
    notes: dict[int, list[Finding]] = defaultdict(list)
    for f in findings:
        m = _PARAGRAPH.match(f.cell or "")
        para = by_index.get(int(m.group(1))) if m else None
        notes[para.index if para is not None and para.source is not None and para.source.runs else first.index].append(f)
    for index, group in sorted(notes.items()):
        para = by_index[index]
        for f in group:
            runs = _sentence_runs(para.source, f.actual)
            document.add_comment(runs, text=f"[{f.code}] {f.text(lang)}", author="xlsxcheck", initials="XC")
    with atomic_path(target) as tmp:
        document.save(str(tmp))
    return target


def annotate_reports(reports: list[ReportSummary], findings: list[Finding], out_dir: str | Path, inputs: list[str],
                     lang: str = "zh", include_clean: bool = False) -> tuple[list[Path], list[Finding]]:
    """(copies written, D605 findings for reports that could not be annotated). Like the
    workbooks, a report without findings gets a copy only with ``include_clean``."""
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_file[f.file].append(f)
    written, failed = [], []
    for report in reports:
        if report.kind != "docx" or not report.readable or not (include_clean or by_file.get(report.file)):
            continue
        target = Path(out_dir) / Path(report.path).name
        refuse_inputs(target, [*inputs, *(r.path for r in reports)])
        try:
            path = annotate_report(report, by_file.get(report.file, []), target, lang)
        except Exception as exc:  # python-docx on an odd document: that copy is lost, not the run
            failed.append(make_finding("D605", report.file, unit=report.unit, reason=f"{type(exc).__name__}: {exc}"))
            continue
        if path is not None:
            written.append(path)
    return written, failed
