"""Evaluation of the declarative rules: every rule with an `assert` in rules/checks_*.yaml,
expanded over its `foreach` values and evaluated over whole batch frames at once."""

from __future__ import annotations

import ast
import itertools
from typing import Any, Iterator

import numpy as np
import pandas as pd

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
    """Each rule over the columns of its table kinds (arrays, not the frames: a rule reads
    a few columns, and a finding's cell and text are looked up only where it is made)."""
    batch = ctx.batch
    by_kind: dict[str, Fields] = {}
    for rule in load_catalog().values():
        if not rule.assertion:
            continue
        for kind in rule.table.split():
            frame = batch.tables.get(kind)
            if frame is None or frame.empty:
                continue
            fields = by_kind.setdefault(kind, Fields(batch.columns[kind], len(frame)))
            for binding in expand(rule):
                yield from _evaluate(rule, kind, fields, binding, batch)


def _evaluate(rule: Rule, kind: str, fields: Fields, binding, batch) -> Iterator[Finding]:
    columns = fields.columns
    tree = parse_expression(fill(rule.assertion, binding))
    left = tree.body.left
    if isinstance(left, (ast.Name, ast.Attribute)) and field_names(left)[0] not in columns:
        return  # a part no table of this kind has is never itself checked (expr._field)
    applies, ok, left, right = compare(tree, fields, rule.blank_left_as_zero)
    for needed in fill(rule.when, binding).split():
        # The rule needs a part of the table that was read (not one missing from it).
        status = columns.get(f"{needed}@status")
        applies &= ~pd.isna(status) if status is not None else False
    bad = applies & ~ok
    if not bad.any():
        return
    hint = np.zeros(fields.n, bool)
    if rule.hint:
        h_applies, h_ok, _, _ = compare(parse_expression(fill(rule.hint["assert"], binding)), fields)
        hint = h_applies & h_ok
    at = fill(rule.at, binding) or field_names(tree.body.left)[0]
    is_rate = at.endswith("rate")
    others = [f for f in field_names(tree) if f != at]
    params_static: dict[str, Any] = {k: Bi(v[1], v[2]) for k, v in binding.items()}
    at_status = columns.get(f"{at}@status")
    left_mid, right_mid, spread = left.mid, right.mid, right.half + left.half  # whole columns: once, not per finding
    for i in np.flatnonzero(bad):
        sheet, cell = split_ref(batch.cell_at(kind, i, at))
        refs = [batch.cell_at(kind, i, f) for f in others]
        blank = at_status is not None and at_status[i] == "blank"
        actual = batch.raw_at(kind, i, at) or (fmt(left_mid[i], is_rate) if not blank else "")
        shown_actual = actual or Bi("（空）", "(blank)")
        expected = fmt(right_mid[i], is_rate)
        tolerance = fmt(spread[i], is_rate, digits=3)
        hint_text = Bi(rule.hint["zh"], rule.hint["en"]) if hint[i] else ""
        yield make_finding(
            rule.code, columns["_file"][i], sheet or columns["_sheet"][i], cell,
            expected=expected, actual=shown_actual, unit=columns["_unit"][i], field=f"{columns['_table'][i]}:{at}",
            tolerance=tolerance, cells=short_refs(refs, sheet), hint=hint_text,
            table=Bi(columns["_name_zh"][i], columns["_name_en"][i]), **params_static,
        )
