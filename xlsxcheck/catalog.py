"""The rule catalog, loaded from the YAML files in rules/: codes, severities, docs, messages.

Every finding xlsxcheck reports has a code declared here; ``xlsxcheck rules`` prints this
catalog, so the documentation is the rule definition itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from .model import SEVERITIES, Finding

__all__ = ["Bi", "Rule", "rules_dir", "load_catalog", "make_finding", "GROUPS", "load_yaml"]

# One file a group; the code prefix says the group, so `--select F` selects all funds rules.
GROUPS = {
    "R": ("reading", "读取"),
    "F": ("funds", "资金"),
    "S": ("scores", "分值得分"),
    "I": ("indicators", "绩效指标"),
    "B": ("base data", "基础数据表"),
    "X": ("cross-table", "表间"),
    "D": ("batch", "批量"),
    "N": ("report", "自评报告"),
}


def rules_dir() -> Path:
    """rules/ inside the installed package, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rules", here.parent / "rules"):
        if (candidate / "template.yaml").is_file():
            return candidate
    raise FileNotFoundError("xlsxcheck rules/ folder not found next to the package")


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: ~10x faster


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_SafeLoader)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str
    doc: str = ""  # English
    doc_zh: str = ""
    wrong: str = ""
    right: str = ""
    table: str = ""  # base | overall | project | "" (declarative rules only)
    assertion: str = ""  # the expression of a declarative rule
    foreach: dict[str, list[str]] = field(default_factory=dict)
    at: str = ""  # the field the finding is pinned to (declarative rules)
    when: str = ""  # a field that must be present for the rule to apply
    hint: dict[str, str] = field(default_factory=dict)
    impl: str = ""  # module name of a coded rule in xlsxcheck.checks
    blank_left_as_zero: bool = False  # declarative: a blank left side counts as 0
    required: dict[str, list[str]] = field(default_factory=dict)  # R014: fields per table kind
    scope: str = "book"  # book: within one workbook; batch: across the workbooks of a run

    @property
    def group(self) -> str:
        return GROUPS[self.code[0]][0]

    def explanation(self, lang: str) -> str:
        """The doc paragraph in ``lang`` (Chinese falls back to English where none is written yet)."""
        return self.doc if lang == "en" else (self.doc_zh or self.doc)

    def format(self, lang: str, params: dict[str, Any]) -> str:
        template = self.message_en if lang == "en" else self.message_zh
        chosen = {k: (getattr(v, lang) if isinstance(v, Bi) else v) for k, v in params.items()}
        return template.format_map(_Lenient(chosen)).strip()


class Bi(NamedTuple):
    """A message parameter that reads differently in Chinese and English."""

    zh: str
    en: str


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _rule_from(entry: dict[str, Any], source: str) -> Rule:
    try:
        severity = entry["severity"]
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r}")
        return Rule(
            code=entry["code"],
            name=entry["name"],
            severity=severity,
            title_zh=entry["title"]["zh"],
            title_en=entry["title"]["en"],
            message_zh=entry["message"]["zh"],
            message_en=entry["message"]["en"],
            doc=_doc(entry.get("doc", ""), "en"),
            doc_zh=_doc(entry.get("doc", ""), "zh"),
            wrong=str(entry.get("wrong", "")).strip(),
            right=str(entry.get("right", "")).strip(),
            table=entry.get("table", ""),
            assertion=entry.get("assert", ""),
            foreach=entry.get("foreach", {}),
            at=entry.get("at", ""),
            when=entry.get("when", ""),
            hint=entry.get("hint", {}),
            impl=entry.get("impl", ""),
            blank_left_as_zero=entry.get("blank") == "zero",
            required=entry.get("required", {}),
            scope=entry.get("scope", "book"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: rule {entry.get('code', '?')} is malformed: {exc}") from exc


def _doc(value: str | dict, lang: str) -> str:
    """``doc`` is {zh: …, en: …}, or a plain (English) paragraph."""
    if isinstance(value, dict):
        return str(value.get(lang, "")).strip()
    return str(value).strip() if lang == "en" else ""


@functools.cache
def load_catalog() -> dict[str, Rule]:
    catalog: dict[str, Rule] = {}
    for path in sorted(rules_dir().glob("checks_*.yaml")):
        for entry in load_yaml(path) or []:
            rule = _rule_from(entry, path.name)
            if rule.code in catalog:
                raise ValueError(f"{path.name}: duplicate rule code {rule.code}")
            catalog[rule.code] = rule
    return dict(sorted(catalog.items()))


def make_finding(
    code: str,
    file: str,
    sheet: str | None = None,
    cell: str | None = None,
    *,
    expected: Any = "",
    actual: Any = "",
    unit: str = "",
    field: str = "",
    **params: Any,
) -> Finding:
    rule = load_catalog()[code]
    params = {"unit": unit, "file": file, "sheet": sheet or "", "cell": cell or "", "expected": expected, "actual": actual, **params}
    return Finding(
        code=code,
        severity=rule.severity,
        file=file,
        sheet=sheet,
        cell=cell,
        message=rule.format("zh", params),
        message_en=rule.format("en", params),
        expected=expected.zh if isinstance(expected, Bi) else str(expected),
        actual=actual.zh if isinstance(actual, Bi) else str(actual),
        unit=unit,
        field=field,
    )
