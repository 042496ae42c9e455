"""Evaluation of the declarative rules: every rule with an `assert` in rules/checks_*.yaml,
expanded over its `foreach` values and evaluated over whole batch frames at once."""

from __future__ import annotations

import itertools
from typing import Any, Iterator

import numpy as np

from ..catalog import Bi, Rule, load_catalog, make_finding
from ..model import Finding
from .common import fmt, short_refs, split_ref
from .expr import Fields, compare, field_names, parse_expression

__all__ = ["run_declarative", "expand", "fill"]


def expand(rule: Rule) -> Iterator[dict[str, tuple[str, str, str]]]:
    """Each binding of the rule's foreach variables: name -> (key, zh name, en name)."""
    names = list(rule.foreach)
    choices = [[(key, *labels) for key, labels in rule.foreach[n].items()] for n in names]
    for combo in itertools.product(*choices):
        yield dict(zip(names, combo))


def fill(text: str, binding: dict[str, tuple[str, str, str]]) -> str:
    return text.format(**{k: v[0] for k, v in binding.items()}) if text else text


def run_declarative(ctx) -> Iterator[Finding]:
    by_kind: dict[str, Fields] = {}
    for rule in load_catalog().values():
        if not rule.assertion:
            continue
        for kind in rule.table.split():
            frame = ctx.batch.tables.get(kind)
            if frame is None or frame.empty:
                continue
            fields = by_kind.setdefault(kind, Fields(frame))
            for binding in expand(rule):
                yield from _evaluate(rule, fields, binding, ctx.batch)


def _evaluate(rule: Rule, fields: Fields, binding, batch) -> Iterator[Finding]:
    frame = fields.frame
    tree = parse_expression(fill(rule.assertion, binding))
    applies, ok, left, right = compare(tree, fields, rule.blank_left_as_zero)
    for needed in fill(rule.when, binding).split():
        # The rule needs a part of the table that was read (not one missing from it).
        status = frame[f"{needed}@status"] if f"{needed}@status" in frame else None
        applies &= status.notna().to_numpy() if status is not None else False
    bad = applies & ~ok
    if not bad.any():
        return
    hint = np.zeros(len(frame), bool)
    if rule.hint:
        h_applies, h_ok, _, _ = compare(parse_expression(fill(rule.hint["assert"], binding)), fields)
        hint = h_applies & h_ok
    at = fill(rule.at, binding) or field_names(tree.body.left)[0]
    is_rate = at.endswith("rate")
    others = [f for f in field_names(tree) if f != at]
    params_static: dict[str, Any] = {k: Bi(v[1], v[2]) for k, v in binding.items()}
    for i in np.flatnonzero(bad):
        row = frame.iloc[i]
        sheet, cell = split_ref(batch.cell(row, at))
        refs = [batch.cell(row, f) for f in others]
        actual = batch.raw(row, at) or (fmt(left.mid[i], is_rate) if row.get(f"{at}@status") != "blank" else "")
        shown_actual = actual or Bi("（空）", "(blank)")
        expected = fmt(right.mid[i], is_rate)
        tolerance = fmt(right.half[i] + left.half[i], is_rate, digits=3)
        hint_text = Bi(rule.hint["zh"], rule.hint["en"]) if hint[i] else ""
        yield make_finding(
            rule.code, row["_file"], sheet or row["_sheet"], cell,
            expected=expected, actual=shown_actual, unit=row["_unit"], field=f"{row['_table']}:{at}",
            tolerance=tolerance, cells=short_refs(refs, sheet), hint=hint_text,
            table=Bi(row["_name_zh"], row["_name_en"]), **params_static,
        )
