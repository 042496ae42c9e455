"""The expression language of declarative rules, evaluated with rounding intervals.

An expression such as ``funds_total.rate == funds_total.executed / funds_total.budget`` is
parsed with ``ast`` and only a whitelist of nodes is accepted: field names, numbers,
+ - * /, one comparison, and the functions min, max and coalesce. Nothing is ``eval``-ed.

Each reported value stands for the interval it was rounded from (v ± tol, see
values.py); arithmetic is done on intervals over whole dataframe columns at once, and a
comparison fails only when the intervals cannot agree (XBRL calculation 1.1 semantics).
A blank cell counts as 0 in a sum; an unreadable one makes the rule not apply (it is
already reported as R007).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Fields", "Interval", "parse_expression", "evaluate", "compare", "field_names", "ExpressionError"]

_EPS = 1e-9
_FUNCS = ("min", "max", "coalesce")
_OPS = {ast.Eq: "==", ast.LtE: "<=", ast.GtE: ">=", ast.Lt: "<", ast.Gt: ">"}


class ExpressionError(ValueError):
    pass


@dataclass
class Interval:
    lo: np.ndarray
    hi: np.ndarray
    known: np.ndarray  # False where a value is unreadable
    blank: np.ndarray  # True where every operand was a blank cell (or a part the table lacks)
    absent: np.ndarray | None = None  # a field the table does not have at all

    @property
    def mid(self) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            return (self.lo + self.hi) / 2

    @property
    def half(self) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            return (self.hi - self.lo) / 2


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    raise ExpressionError(f"not a field name: {ast.dump(node)}")


def _validate(node: ast.AST) -> None:
    if isinstance(node, ast.Expression):
        _validate(node.body)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        _validate(node.left)
        _validate(node.right)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        _validate(node.operand)
    elif isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _OPS:
            raise ExpressionError("exactly one comparison (==, <=, >=, <, >) is allowed")
        _validate(node.left)
        _validate(node.comparators[0])
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords:
            raise ExpressionError(f"only the functions {', '.join(_FUNCS)} are allowed")
        for arg in node.args:
            _validate(arg)
    elif isinstance(node, (ast.Name, ast.Attribute)):
        _name(node)
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        pass
    else:
        raise ExpressionError(f"not allowed in a rule expression: {type(node).__name__}")


@functools.lru_cache(maxsize=None)
def parse_expression(text: str) -> ast.Expression:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {text!r}: {exc.msg}") from exc
    _validate(tree)
    return tree


def field_names(node: ast.AST) -> list[str]:
    """The fields an expression reads, in order of appearance."""
    if isinstance(node, (ast.Name, ast.Attribute)):
        return [_name(node)]
    if isinstance(node, ast.Call):
        return [n for a in node.args for n in field_names(a)]
    out: list[str] = []
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.operator, ast.cmpop, ast.unaryop)):
            out += field_names(child)
    return out


class Fields:
    """A frame's fields as intervals, each computed once however many rules read it. The
    frame is a DataFrame, or its columns as arrays by name and ``n`` rows."""

    def __init__(self, columns: pd.DataFrame | dict[str, np.ndarray], n: int | None = None) -> None:
        self.columns = columns
        self.n = len(columns) if n is None else n
        self._done: dict[str, Interval] = {}

    def __call__(self, name: str) -> Interval:
        got = self._done.get(name)
        if got is None:
            got = self._done[name] = _field(self.columns, self.n, name)
        return got


def _numbers(column: pd.Series | np.ndarray) -> np.ndarray:
    if column.dtype.kind in "fi":
        return np.asarray(column, dtype=float)
    return np.asarray(pd.to_numeric(column, errors="coerce"), dtype=float)


def _field(columns: pd.DataFrame | dict[str, np.ndarray], n: int, name: str) -> Interval:
    """A field as intervals. A part the table does not have (other funds, a breakdown line
    the template lacks) adds 0 to a sum like a blank cell, but is never itself checked.
    The arrays are shared through Fields: never changed in place."""
    if name not in columns:
        zero = np.zeros(n)
        return Interval(zero, zero.copy(), np.ones(n, bool), np.ones(n, bool), np.ones(n, bool))
    status = np.asarray(columns[f"{name}@status"], dtype=object)
    value = _numbers(columns[name])
    tol = _numbers(columns[f"{name}@tol"])
    tol = np.where(np.isnan(tol), 0.0, tol)  # a tolerance is finite where it is known
    absent = pd.isna(status)
    blank = (status == "blank") | absent
    known = (status == "ok") | blank
    value = np.where(blank, 0.0, value)
    return Interval(value - tol, value + tol, known & ~np.isnan(value), blank, absent)


def _const(n: int, x: float) -> Interval:
    arr = np.full(n, float(x))
    return Interval(arr, arr.copy(), np.ones(n, bool), np.zeros(n, bool))


def evaluate(node: ast.AST, frame: Fields) -> Interval:
    n = frame.n
    if isinstance(node, ast.Expression):
        return evaluate(node.body, frame)
    if isinstance(node, (ast.Name, ast.Attribute)):
        return frame(_name(node))
    if isinstance(node, ast.Constant):
        return _const(n, node.value)
    if isinstance(node, ast.UnaryOp):
        a = evaluate(node.operand, frame)
        return Interval(-a.hi, -a.lo, a.known, a.blank)
    if isinstance(node, ast.Call):
        args = [evaluate(a, frame) for a in node.args]
        name = node.func.id  # type: ignore[attr-defined]
        if name == "coalesce":
            out = args[-1]
            for a in reversed(args[:-1]):
                use = a.known & ~a.blank
                out = Interval(np.where(use, a.lo, out.lo), np.where(use, a.hi, out.hi), use | out.known, np.where(use, False, out.blank))
            return out
        fn = np.minimum if name == "min" else np.maximum
        lo, hi = args[0].lo, args[0].hi
        known, blank = args[0].known.copy(), args[0].blank.copy()
        for a in args[1:]:
            lo, hi = fn(lo, a.lo), fn(hi, a.hi)
            known &= a.known
            blank &= a.blank
        return Interval(lo, hi, known, blank)
    if isinstance(node, ast.BinOp):
        a, b = evaluate(node.left, frame), evaluate(node.right, frame)
        known = a.known & b.known
        if isinstance(node.op, ast.Add):
            return Interval(a.lo + b.lo, a.hi + b.hi, known, a.blank & b.blank)
        if isinstance(node.op, ast.Sub):
            return Interval(a.lo - b.hi, a.hi - b.lo, known, a.blank & b.blank)
        # A product or ratio of a blank cell says nothing: the rule does not apply there.
        known = known & ~a.blank & ~b.blank
        if isinstance(node.op, ast.Mult):
            cands = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        else:
            straddles = (b.lo <= 0) & (b.hi >= 0)
            known = known & ~straddles
            with np.errstate(divide="ignore", invalid="ignore"):
                cands = [a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi]
        stack = np.vstack(cands)
        return Interval(np.fmin.reduce(stack, axis=0), np.fmax.reduce(stack, axis=0), known, np.zeros(n, bool))
    raise ExpressionError(f"cannot evaluate {type(node).__name__}")


def compare(tree: ast.Expression, frame: Fields, blank_left_as_zero: bool = False):
    """(applies, ok, left, right) for a comparison expression over every row of ``frame``."""
    node = tree.body
    if not isinstance(node, ast.Compare):
        raise ExpressionError("a rule's assert must be a comparison")
    left, right = evaluate(node.left, frame), evaluate(node.comparators[0], frame)
    applies = left.known & right.known & ~right.blank
    if left.absent is not None:
        applies &= ~left.absent
    if not blank_left_as_zero:
        applies &= ~left.blank
    op = _OPS[type(node.ops[0])]
    with np.errstate(invalid="ignore"):
        if op == "==":
            ok = (left.lo <= right.hi + _EPS) & (right.lo <= left.hi + _EPS)
        elif op == "<=":
            ok = left.lo <= right.hi + _EPS
        elif op == ">=":
            ok = left.hi >= right.lo - _EPS
        elif op == "<":
            ok = left.lo < right.hi
        else:
            ok = left.hi > right.lo
    return applies, ok, left, right
