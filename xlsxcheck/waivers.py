"""Waivers (审核说明): warnings a unit has explained in writing and the bureau accepts.

A waiver names the unit, the rule code, optionally the field (a cell such as D7 or
Sheet3!D7, an indicator label, or the field name shown in the JSON), and the explanation.
A waived warning is reported as waived; an error cannot be waived; a waiver that matches
nothing is reported so that stale explanations do not pile up.
"""

from __future__ import annotations

from dataclasses import replace

from .listfile import ListFileError, read_rows
from .model import Finding
from .values import normalize

__all__ = ["load_waivers", "apply_waivers"]


def load_waivers(path: str) -> list[dict[str, str]]:
    rows = read_rows(path, {"unit": ("单位", "单位名称", "unit"), "code": ("规则", "代码", "code"),
                            "field": ("字段", "单元格", "field"), "reason": ("说明", "审核说明", "reason")},
                     required=("unit", "code", "reason"))
    for i, r in enumerate(rows, start=2):
        if not r["reason"]:
            raise ListFileError(f"{path}: 第 {i} 行没有填写说明 / row {i} has no explanation")
    return rows


def _hits(w: dict[str, str], f: Finding) -> bool:
    if normalize(w["unit"]) != normalize(f.unit) or w["code"].strip().upper() != f.code:
        return False
    want = normalize(w.get("field", ""))
    if not want:
        return True
    return want in (normalize(f.cell or ""), normalize(f"{f.sheet}!{f.cell}")) or want in normalize(f.field)


def apply_waivers(findings: list[Finding], waivers: list[dict[str, str]]) -> tuple[list[Finding], list[dict[str, str]]]:
    used = [False] * len(waivers)
    out = []
    for f in findings:
        for i, w in enumerate(waivers):
            if f.severity != "error" and _hits(w, f):
                f = replace(f, waived=w["reason"])
                used[i] = True
                break
        out.append(f)
    return out, [w for w, u in zip(waivers, used) if not u]
