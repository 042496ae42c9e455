"""Figures a report states, found with the patterns of rules/checks_report.yaml.

A statement is one figure with its subject, kind and unit, the paragraph and sentence it
stands in, and the section context: the project whose section it is in, if any. Which
table field it is compared with is data too (``compare`` in the catalog entry).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from ..catalog import load_yaml, rules_dir
from ..values import Parsed, normalize, parse
from .document import Paragraph, Report, heading_level, sentences

__all__ = ["Pattern", "Statement", "patterns", "report_rules", "extract_statements", "project_heading"]

# A figure written as approximate is not compared: 约2.68万, 6600多套, 93万余元, 95%以上.
_NUMBER = r"[:：\s]*(?P<about>约|近|超过|逾)?(?P<n>\d[\d,]*(?:\.\d+)?)(?P<more>多|余)?"  # after a colon or space, as in a table row
_APPROX_AFTER = ("以上", "左右")
_GRADE = r"[:：\s]*(?P<n>优秀|优|良好|良|中等|中|合格|差)"
_GRADE_KEY = {"优秀": "优", "良好": "良", "中等": "中", "合格": "中"}


@dataclass(frozen=True)
class Pattern:
    code: str
    subject_zh: str
    subject_en: str
    regex: re.Pattern
    kind: str  # amount | rate | count | score | grade
    where: str  # unit | project | any
    compare: str  # an expression over the workbook's fields, or "indicator"
    hint: dict = field(default_factory=dict)
    grades: dict = field(default_factory=dict)


@dataclass
class Statement:
    pattern: Pattern
    paragraph: Paragraph
    sentence: str
    span: tuple[int, int]  # of the sentence within the paragraph's text
    stated: str  # the figure as written, with its unit: "32人", "1349.16万元"
    value: Parsed  # the figure as an interval (value ± tol); a grade: its score range
    project: Any = None  # the project Table of the section, or None
    approximate: bool = False  # 约、多、余、以上: not compared
    breakdown: bool = False  # the same pattern gives other values in the sentence (sub-units): not compared
    file: str = ""  # the report, as shown

    @property
    def code(self) -> str:
        return self.pattern.code


@functools.cache
def report_rules() -> tuple[dict, ...]:
    """The raw entries of rules/checks_report.yaml (the catalog keeps only what every rule has)."""
    return tuple(load_yaml(rules_dir() / "checks_report.yaml") or [])


@functools.cache
def patterns() -> tuple[Pattern, ...]:
    out = []
    for entry in report_rules():
        for s in entry.get("statements", ()):
            number = _GRADE if s["kind"] == "grade" else _NUMBER
            out.append(Pattern(
                code=entry["code"], subject_zh=s["subject"]["zh"], subject_en=s["subject"]["en"],
                regex=re.compile(s["pattern"].replace("{n}", number)), kind=s["kind"], where=s.get("where", "any"),
                compare=s["compare"], hint=s.get("hint", {}), grades=s.get("grades", {}),
            ))
    return tuple(out)


_STRIP = re.compile(r"^(?:[（(]?[\d一二三四五六七八九十]+[）)、.．]?)\s*|(?:发放|实施|建设)?(?:项目|费用|经费|资金|专项)+$")


def _core(name: str) -> str:
    text = normalize(name).replace("“", "").replace("”", "").replace('"', "")
    for _ in range(3):
        text = _STRIP.sub("", text)
    return text


def project_heading(text: str, projects: list) -> Any:
    """The project table a short heading names (（1）人才购房补贴发放项目 → 人才购房补贴), or None."""
    if len(text) > 40 or "。" in text or "，" in text:
        return None
    core = _core(text)
    if len(core) < 2:
        return None
    for table in projects:
        name = table.fields.get("project_name")
        if name is None or not name.present:
            continue
        other = _core(name.value)
        if len(other) >= 2 and (other in core or core in other):
            return table
    return None


def _stated_value(p: Pattern, figure: str) -> Parsed:
    if p.kind == "grade":
        lo, hi = p.grades[_GRADE_KEY.get(figure, figure)]
        return Parsed((lo + hi) / 2, "ok", (hi - lo) / 2)
    return parse(p.kind, figure.replace(",", "") + ("%" if p.kind == "rate" else ""))


def _approximate(m: re.Match, sentence: str) -> bool:
    groups = m.groupdict()
    return bool(groups.get("about") or groups.get("more")) or sentence[m.end():].lstrip().startswith(_APPROX_AFTER)


def extract_statements(report: Report, projects: list) -> list[Statement]:
    """Every figure the patterns find, in report order, with its section's project."""
    out: list[Statement] = []
    project = None
    for para in report.paragraphs:
        level = heading_level(para.text)
        named = project_heading(para.text, projects)
        if named is not None:
            project = named
        elif level in (1, 2):
            project = None
        for start, end in sentences(para.text):
            sentence = para.text[start:end]
            for p in patterns():
                if (p.where == "unit" and project is not None) or (p.where == "project" and project is None):
                    continue
                found = list(p.regex.finditer(sentence))
                values = {m.group("n") for m in found}
                for m in found:
                    figure = m.group("n")
                    out.append(Statement(
                        pattern=p, paragraph=para, sentence=sentence.strip(), span=(start, end),
                        stated=(m.group("said") if "said" in p.regex.groupindex else m.group(0)).strip(),
                        value=_stated_value(p, figure), project=project,
                        approximate=_approximate(m, sentence), breakdown=len(values) > 1,
                        file=report.file,
                    ))
    return out
