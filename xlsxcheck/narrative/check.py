"""Reports against their tables: pairing, statement comparison and structure checks.

The run's worker processes check the reports after the workbooks (``check_report``), with
the workbooks' isolation: a time budget, and a report whose reader crashes costs only that
report. Each paired workbook is extracted once more there (a few milliseconds) to read its
fields. The parent only pairs folders and collects (``report_jobs``, ``collect_reports``):
it imports this module but never pandas, which only the comparison in a worker loads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..catalog import Bi, make_finding
from ..checks.common import fmt
from ..model import Finding, Table, Value, Workbook, table_name
from ..values import normalize
from .document import Report, ReportError, ReportSummary, ScannedPdf, heading_level, read_report
from .statements import Statement, extract_statements, report_rules

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["report_jobs", "check_report", "unchecked_report", "collect_reports", "pair", "compare_statements", "field_space", "check_sections", "check_attachments"]


def _named_as_report(path: Path) -> bool:
    return "报告" in path.stem or "自评" in path.stem


def _looks_like_report(report: Report) -> bool:
    return "报告" in report.head(20) or _named_as_report(Path(report.path))


def _entry(code: str) -> dict:
    return next(e for e in report_rules() if e["code"] == code)


# --- pairing -------------------------------------------------------------------------------

def _common_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


class Candidate(NamedTuple):
    """A checked workbook in a report's folder, as the report's worker needs it."""

    path: str
    file: str
    unit: str


def pair(path: Path, head: str, books: list[Candidate]) -> Candidate | None:
    """The workbook of the report's unit among those of its folder: the unit's name must
    appear in the report's opening text or file name; of several workbooks of the unit
    (原报, 更正) the one whose file name shares the longest start with the report's wins."""
    text = normalize(head) + normalize(path.stem)
    matches = [b for b in books if normalize(b.unit) in text]
    if not matches:
        return None
    return max(matches, key=lambda b: (len(normalize(b.unit)), _common_prefix(Path(b.path).stem, path.stem)))


# --- fields --------------------------------------------------------------------------------

def _sum(values: list[Value]) -> Value:
    ok = [v for v in values if v.present]
    status = "invalid" if any(v.status == "invalid" for v in values) else ("ok" if ok else "blank")
    cells = "、".join(f"{v.sheet}!{v.cell}" for v in values)
    return Value("", sum(v.value for v in ok) if ok else None, status, "", cells, "amount", sum(v.tol for v in ok))


def field_space(book: Workbook, project: Table | None) -> dict[str, Value]:
    """The fields a statement may be compared with: base.*, overall.*, project.* and the
    projects.* sums of 年度资金总额."""
    space: dict[str, Value] = {}
    for kind in ("base", "overall"):
        for table in book.of_kind(kind)[:1]:
            space.update({f"{kind}.{k}": v for k, v in table.fields.items()})
    if project is not None:
        space.update({f"project.{k}": v for k, v in project.fields.items()})
    projects = book.of_kind("project")
    if projects:
        for col in ("initial", "budget", "executed"):
            space[f"projects.{col}"] = _sum([t.fields[f"funds_total.{col}"] for t in projects if f"funds_total.{col}" in t.fields])
    return space


def _ref(v: Value) -> str:
    if v.sheet:
        return f"{v.sheet}!{v.cell}"
    return v.cell  # a sum: already "Sheet3!E10, Sheet4!E10"


def _frame(rows: list[tuple[Any, dict[str, Value]]], names: list[str]) -> pd.DataFrame:
    """One row per statement: its stated figure and the fields its expressions read, from
    the statement's own field space (the project of its section)."""
    import pandas as pd  # here, not at the top: the parent process imports this module

    nan = float("nan")
    columns: dict[str, list] = {"stated": [], "stated@status": [], "stated@tol": []}
    for name in names:
        columns.update({name: [], f"{name}@status": [], f"{name}@tol": []})
    for stated, space in rows:
        columns["stated"].append(stated.value)
        columns["stated@status"].append("ok")
        columns["stated@tol"].append(stated.tol)
        for name in names:
            v = space.get(name)
            number = v is not None and isinstance(v.value, (int, float))
            columns[name].append(v.value if number and v.present else nan)
            # absent (None): a field this unit's tables lack; text where a number belongs: unreadable
            columns[f"{name}@status"].append(None if v is None else v.status if number or v.status != "ok" else "invalid")
            columns[f"{name}@tol"].append(v.tol if v is not None else 0.0)
    return pd.DataFrame(columns)


def _table_label(name: str, book: Workbook, project: Table | None) -> Bi:
    kind = name.split(".", 1)[0]
    if kind == "projects":
        return Bi("各项目支出绩效自评表", "project tables")
    table = project if kind == "project" else next(iter(book.of_kind(kind)), None)
    if table is None:
        return Bi("自评表", "tables")
    return Bi(table_name(table, "zh"), table_name(table, "en"))


def _quote(s: Statement, limit: int = 70) -> str:
    text = s.sentence
    if len(text) <= limit:
        return text
    at = text.find(s.stated)
    start = max(0, min(at - 10, len(text) - limit)) if at >= 0 else 0
    return ("…" if start else "") + text[start:start + limit] + ("…" if start + limit < len(text) else "")


def compare_statements(statements: list[Statement], book: Workbook, workbook_file: str) -> list[Finding]:
    """A finding for each stated figure that cannot agree with its table field. The
    statements of a report are evaluated together: one frame, each expression once."""
    from ..checks.expr import Fields, compare, field_names, parse_expression

    todo = [s for s in statements if not (s.approximate or s.breakdown)]
    out = [f for f in (_compare_indicator(s, book, workbook_file) for s in todo if s.pattern.compare == "indicator") if f is not None]
    todo = [s for s in todo if s.pattern.compare != "indicator"]
    if not todo:
        return out
    spaces: dict[int, dict[str, Value]] = {}
    for s in todo:
        if id(s.project) not in spaces:
            spaces[id(s.project)] = field_space(book, s.project)
    expressions = {e for s in todo for e in (s.pattern.compare, s.pattern.hint.get("compare")) if e}
    names = sorted({n for e in expressions for n in field_names(parse_expression(e))})
    fields = Fields(_frame([(s.value, spaces[id(s.project)]) for s in todo], names))
    evaluated = {e: compare(parse_expression(f"stated == {e}"), fields) for e in expressions}
    place = Path(workbook_file).name
    for i, s in enumerate(todo):
        applies, ok, _, right = evaluated[s.pattern.compare]
        if not applies[i] or ok[i]:
            continue
        hint: Any = ""
        if s.pattern.hint:
            h_applies, h_ok, _, _ = evaluated[s.pattern.hint["compare"]]
            if h_applies[i] and h_ok[i]:
                hint = Bi(s.pattern.hint["zh"], s.pattern.hint["en"])
        used = field_names(parse_expression(s.pattern.compare))
        space = spaces[id(s.project)]
        sheet, cell = s.paragraph.location
        out.append(make_finding(
            s.code, s.file, sheet, cell, expected=fmt(right.mid[i], s.pattern.kind == "rate"), actual=s.stated, unit=book.unit,
            field=f"{s.code}:{s.pattern.compare}", stated=s.stated, sentence=_quote(s), hint=hint,
            table=_table_label(used[0], book, s.project), subject=Bi(s.pattern.subject_zh, s.pattern.subject_en),
            cells=f"{place} " + "、".join(_ref(space[n]) for n in used if n in space),
        ))
    return out


_COUNT_UNITS = ("人", "户", "名")
_COUNT_IN_TEXT = re.compile(r"(\d[\d,]*)\s*(人|户|名)")
_CJK = re.compile(r"[\u4e00-\u9fff]{2}")


def _shares_words(a: str, b: str) -> bool:
    return any(a[i:i + 2] in b for i in range(len(a) - 1) if _CJK.fullmatch(a[i:i + 2]))


def _compare_indicator(s: Statement, book: Workbook, workbook_file: str) -> Finding | None:
    """A count equals the 实际完成值 of a related indicator, or a count in the goal's
    实际完成情况 of the section's table (the project's, or the whole-unit table)."""
    table = s.project if s.project is not None else next(iter(book.of_kind("overall")), None)
    if table is None:
        return None
    candidates: list[tuple[float, str, Value]] = []
    for ind in table.indicators:
        a = ind.actual_parsed
        if a.number is not None and a.unit in _COUNT_UNITS and not a.approximate and _shares_words(ind.level3.value or "", s.sentence):
            candidates.append((a.number, a.text, ind.actual))
    for _, actual in table.goals:
        text = actual.value if actual.present and isinstance(actual.value, str) else ""
        if _shares_words(text, s.sentence):
            for m in _COUNT_IN_TEXT.finditer(text):
                candidates.append((float(m.group(1).replace(",", "")), m.group(0), actual))
    if not candidates or any(abs(n - s.value.value) <= s.value.tol for n, _, _ in candidates):
        return None
    sheet, cell = s.paragraph.location
    expected = "、".join(dict.fromkeys(text for _, text, _ in candidates))
    refs = "、".join(dict.fromkeys(_ref(v) for _, _, v in candidates))
    return make_finding(
        s.code, s.file, sheet, cell, expected=expected, actual=s.stated, unit=book.unit,
        field=f"{s.code}:{table.table_id}", stated=s.stated, sentence=_quote(s),
        table=Bi(table_name(table, "zh"), table_name(table, "en")), cells=f"{Path(workbook_file).name} {refs}",
    )


# --- structure -----------------------------------------------------------------------------

_NUMBERING = re.compile(r"^[（(]?[一二三四五六七八九十\d]+[）)]?[、.．]?\s*")


def _section_core(text: str) -> str:
    return normalize(_NUMBERING.sub("", text))


def check_sections(report: Report, unit: str) -> list[Finding]:
    entry = _entry("N710")
    if entry.get("applies_to") and entry["applies_to"] not in report.head(20):
        return []
    out, last = [], -1
    for section in entry["sections"]:
        core = _section_core(section)
        at = next((p.index for p in report.paragraphs
                   if len(p.text) <= 60 and heading_level(p.text) == 1 and _section_core(p.text).startswith(core)), None)
        if at is None:
            out.append(make_finding("N710", report.file, unit=unit, field=f"N710:{section}", section=section,
                                    what="缺少", what_en="lacks the part"))
            continue
        if at < last:
            para = report.paragraphs[at - 1]
            out.append(make_finding("N710", report.file, *para.location, unit=unit, field=f"N710:{section}", section=section,
                                    what="部分顺序不对：", what_en="has a part out of order:"))
        last = max(last, at)
    return out


_ITEM = re.compile(r"^(?:附件[:：]?\s*)?\d+\s*[.、．]\s*(.+)$")


def check_attachments(report: Report, book: Workbook) -> list[Finding]:
    """The 附件 list against the kinds of table in the workbook."""
    kinds: dict[str, str] = _entry("N711")["attachments"]
    start = next((i for i, p in enumerate(report.paragraphs) if p.text.startswith("附件")), None)
    if start is None:
        return []
    listed: dict[str, str] = {}
    for p in report.paragraphs[start:]:
        m = _ITEM.match(p.text) or (re.match(r"^附件[:：]\s*(.+)$", p.text) if p.index == start + 1 else None)
        if m is None:
            break
        name = m.group(1).strip()
        for kind, words in kinds.items():  # 项目支出绩效自评表 first: 整体支出绩效自评表 is not part of it
            if words in name:
                listed.setdefault(kind, name)
    para = report.paragraphs[start]
    have = {t.kind for t in book.tables}
    out = []
    for kind, name in listed.items():
        if kind not in have:
            out.append(make_finding("N711", report.file, *para.location, unit=book.unit, field=f"N711:{kind}",
                                    what=f"附件列出“{name}”，但工作簿中没有该表",
                                    what_en=f"The attachments list “{name}”, but the workbook has no such table"))
    for kind in sorted(have - set(listed), key=list(kinds).index):
        zh, en = kinds[kind], {"base": "base data table", "overall": "whole-unit table", "project": "project tables"}[kind]
        out.append(make_finding("N711", report.file, *para.location, unit=book.unit, field=f"N711:{kind}",
                                what=f"工作簿中有{zh}，但附件清单未列出", what_en=f"The workbook has the {en}, but the attachments do not list it"))
    return out


# --- the run -------------------------------------------------------------------------------

class ReportJob(NamedTuple):
    """One report to check, with the checked workbooks of its folder."""

    path: Path
    file: str
    books: list[Candidate]


def report_jobs(candidates: list[tuple[Path, str]], books: list[Any]) -> list[ReportJob]:
    """A job for each report candidate of a run, with its folder's checked workbooks
    (BookSummary). The jobs of one folder share one list (pickled once per chunk)."""
    by_folder: dict[Path, list[Candidate]] = {}
    for b in books:
        if b.readable and b.tables and b.unit:
            by_folder.setdefault(Path(b.path).resolve().parent, []).append(Candidate(b.path, b.file, b.unit))
    return [ReportJob(path, file, by_folder.get(path.resolve().parent, [])) for path, file in candidates]


def check_report(job: ReportJob) -> tuple[ReportSummary | None, list[Finding]]:
    """Worker entry: one report read, paired among its folder's workbooks and compared.
    (None, []) for a .docx/.pdf that is not a report."""
    from ..extract import extract_workbook

    path, file, books = job
    try:
        report = read_report(path, file)
    except ReportError as exc:
        return unchecked_report(job, exc)
    if not _looks_like_report(report):
        return None, []
    paired = pair(path, report.head(), books)
    if paired is None:
        return ReportSummary(str(path), file, report.kind, "", "", True, len(report.paragraphs)), [
            make_finding("N730", file, unit_or_file=path.stem)]
    book = extract_workbook(paired.path, paired.file)
    statements = extract_statements(report, book.of_kind("project"))
    findings = compare_statements(statements, book, paired.file)
    findings += check_sections(report, paired.unit)
    findings += check_attachments(report, book)
    return ReportSummary(str(path), file, report.kind, paired.unit, paired.file, True, len(report.paragraphs), len(statements)), findings


def unchecked_report(job: ReportJob, problem: ReportError | str) -> tuple[ReportSummary | None, list[Finding]]:
    """A report that could not be read: a ReportError, or the reason its worker gave up on it
    (crashed, over its time budget). Unread, only its name tells a report from any other
    document in the folder: (None, []) for one not named as a report."""
    path, file, books = job
    if not _named_as_report(path):
        return None, []
    paired = pair(path, "", books)
    finding = make_finding("N721", file) if isinstance(problem, ScannedPdf) else make_finding("N720", file, reason=str(problem))
    suffix = path.suffix.lower()[1:]
    return ReportSummary(str(path), file, suffix, paired.unit if paired else "", paired.file if paired else "", False), [finding]


def collect_reports(jobs: list[ReportJob], results: list[tuple[ReportSummary | None, list[Finding]]], books: list[Any]
                    ) -> tuple[list[ReportSummary], list[Finding], list[Path]]:
    """(summaries, findings, files that turned out not to be reports) from the checked report
    jobs of a run, and N731 for each workbook (BookSummary) without a report in a folder where
    reports are filed."""
    summaries, findings, not_reports = [], [], []
    for job, (summary, found) in zip(jobs, results):
        if summary is None:
            not_reports.append(job.path)
            continue
        summaries.append(summary)
        findings += found
    folders = {Path(s.path).resolve().parent for s in summaries}
    paired = {s.workbook for s in summaries}
    for b in books:
        if b.tables and b.file not in paired and Path(b.path).resolve().parent in folders:
            findings.append(make_finding("N731", b.file, unit=b.unit))
    return summaries, findings, not_reports
