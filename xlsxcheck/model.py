"""The records that flow through xlsxcheck: values with provenance, tables, workbooks, findings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .values import Target, clean_text

__all__ = ["KIND_NAMES", "table_name", "BookSummary", "ProjectRow", "Value", "Indicator", "BaseItem", "Table", "Workbook", "Finding", "SEVERITIES", "shown"]

SEVERITIES = ("error", "warning", "info")


class Value(NamedTuple):
    """One cell as read and as parsed, with where it came from. (A NamedTuple: a workbook
    holds hundreds of them and they are made in the hot path.)"""

    raw: Any
    value: Any
    status: str  # "ok" | "blank" | "invalid"
    sheet: str
    cell: str  # A1 reference
    kind: str = "text"
    tol: float = 0.0

    @property
    def present(self) -> bool:
        return self.status == "ok"


class Indicator(NamedTuple):
    """One 三级指标 row of a 绩效指标 block."""

    row: int
    level1: Value  # the level-1 label cell, e.g. "产出指标(40分)"
    level1_key: str  # output | benefit | satisfaction | cost | "" when unknown
    level1_weight: float | None  # the weight written in the label
    level2: Value
    level3: Value
    target: Value
    actual: Value
    weight: Value
    score: Value
    reason: Value
    target_parsed: Target
    actual_parsed: Target


class BaseItem(NamedTuple):
    """One row of the 经费控制情况 block of a 基础数据表."""

    key: str  # sangong, car, car_purchase, ..., project, project_item, public, public_office, ...
    parent: str  # key of the row it is part of ("" for top-level rows)
    label: Value
    columns: dict[str, Value]  # prev_final, budget, final


@dataclass(slots=True)
class Table:
    kind: str  # base | overall | project
    sheet: str
    table_id: str  # unique within the workbook: B1, O1, P1, P2 ...
    title: str
    fields: dict[str, Value] = field(default_factory=dict)
    indicators: list[Indicator] = field(default_factory=list)
    base_items: list[BaseItem] = field(default_factory=list)
    goals: list[tuple[Value, Value]] = field(default_factory=list)
    headers: set[str] = field(default_factory=set)  # label forms of its column headers (template detection)
    target_columns: tuple[int | None, int | None] = (None, None)  # 指标性质 and 度量单位 columns of a composite target
    first_row: int = 0
    last_row: int = 0


@dataclass(slots=True)
class Workbook:
    path: str
    file: str  # as shown to the user (relative to where the batch was asked for)
    unit: str = ""
    year: int | None = None
    department: str = ""
    profile: str = ""
    profile_source: str = ""  # detected | forced | default (nothing fitted, or nothing to tell templates apart)
    tables: list[Table] = field(default_factory=list)
    findings: list["Finding"] = field(default_factory=list)  # reading-level findings
    readable: bool = True

    def of_kind(self, kind: str) -> list[Table]:
        return [t for t in self.tables if t.kind == kind]

    def summarize(self, rollup_rows: bool = True) -> "BookSummary":
        """What the reports and the rollup keep once the workbook is checked: its identity,
        counts and rollup rows, not its cells (memory grows with units, not with files).
        Without ``rollup_rows`` the indicator rows and base data, which only the rollup
        shows, are left out: most of a summary's size, and of what a worker sends back."""

        def num(table: Table | None, name: str) -> float | None:
            v = table.fields.get(name) if table is not None else None
            return v.value if v is not None and v.present else None

        overall = next(iter(self.of_kind("overall")), None)
        base = next(iter(self.of_kind("base")), None)
        projects, indicators = [], []
        for t in self.tables:
            if t.kind == "base":
                continue
            name = t.fields.get("project_name")
            title = name.value if name is not None and name.present else ""
            if t.kind == "project":
                projects.append(ProjectRow(title, num(t, "funds_total.initial"), num(t, "funds_total.budget"),
                                           num(t, "funds_total.executed"), num(t, "score_total.score"), t.sheet))
            for i in t.indicators if rollup_rows else ():
                indicators.append((title or "部门整体支出", shown(i.level1), shown(i.level2), shown(i.level3), i.target_parsed.text,
                                   i.actual_parsed.text, i.weight.value if i.weight.present else None,
                                   i.score.value if i.score.present else None, shown(i.reason),
                                   f"{t.sheet}!{i.score.cell or i.level3.cell}"))  # a template may have no 得分 column
        dates = [t.fields["date"].value for t in self.tables if "date" in t.fields and t.fields["date"].present]
        base_values = {} if base is None or not rollup_rows else {k: v.value for k, v in base.fields.items() if v.present and v.kind != "text"}
        return BookSummary(
            path=self.path, file=self.file, unit=self.unit, year=self.year, department=self.department,
            profile=self.profile, profile_source=self.profile_source, readable=self.readable, tables=len(self.tables),
            projects=len(projects), total_score=num(overall, "score_total.score"),
            funds=(num(overall, "funds_total.initial"), num(overall, "funds_total.budget"), num(overall, "funds_total.executed")),
            project_rows=projects, indicator_rows=indicators, base=base_values,
            filed=max((d for d in dates if isinstance(d, dt.date)), default=None),
            kinds=tuple(sorted({t.kind for t in self.tables})),
        )


def shown(v: Value) -> str:
    """The cell as the reports show it (clean_text of what was written)."""
    if v.status == "ok" and v.kind == "text":
        return v.value  # parsing a text cell is clean_text already
    return clean_text(v.raw)


class ProjectRow(NamedTuple):
    name: str
    initial: float | None
    budget: float | None
    executed: float | None
    score: float | None
    sheet: str


@dataclass(slots=True)
class BookSummary:
    """A checked workbook as the reports and the rollup see it (see Workbook.summarize)."""

    path: str
    file: str
    unit: str
    year: int | None
    department: str
    profile: str
    profile_source: str
    readable: bool
    tables: int
    projects: int
    total_score: float | None
    funds: tuple[float | None, float | None, float | None]  # 部门整体: 年初预算数, 全年预算数, 全年执行数
    project_rows: list[ProjectRow]
    indicator_rows: list[tuple]  # (only kept for the rollup) table, level 1/2/3, target, actual, weight, score, reason, source cell
    base: dict[str, Any]  # (only kept for the rollup) numeric fields of the 基础数据表: "staff.authorized", "sangong.final", …
    filed: dt.date | None = None  # the latest 填报日期 of its tables
    kinds: tuple[str, ...] = ()  # the kinds of table it holds (base, overall, project)
    # Set when another filing of the same unit and year is kept instead (checks/duplicate_filing.py):
    superseded_by: str = ""  # the file kept; this one is left out of totals
    superseded_why: str = ""  # the criterion that made that one the latest (date | mtime | mark); "" if none did (D601)


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: str
    file: str
    sheet: str | None
    cell: str | None  # A1 or A1:B2; None for a whole-file finding
    message: str  # Chinese
    message_en: str
    expected: str = ""
    actual: str = ""
    unit: str = ""
    field: str = ""  # what the finding is about, for waivers: a field name or indicator label
    waived: str = ""  # the written explanation when a waiver (审核说明) accepts it

    def text(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {
            "file": self.file,
            "sheet": self.sheet,
            "cell": self.cell,
            "code": self.code,
            "severity": self.severity,
            "message": self.text(lang),
            "expected": self.expected,
            "actual": self.actual,
            "unit": self.unit,
            "field": self.field,
            "waived": self.waived or None,
        }


KIND_NAMES = {
    "base": ("基础数据表", "base data table"),
    "overall": ("部门整体支出绩效自评表", "whole-unit self-evaluation table"),
    "project": ("项目支出绩效自评表", "project self-evaluation table"),
}


def table_name(table: Table, lang: str = "zh") -> str:
    """"项目支出绩效自评表「人才购房补贴」": the kind, and the project where there is one."""
    name = KIND_NAMES[table.kind][1 if lang == "en" else 0]
    project = table.fields.get("project_name")
    if project is not None and project.present:
        return f"{name}「{project.value}」" if lang != "en" else f"{name} “{project.value}”"
    return name
