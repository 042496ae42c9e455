"""Parsing of cell values as units really write them: the one place that turns raw cells into numbers.

Every parser returns a ``Parsed`` (value, status, tolerance). A value that cannot be parsed
keeps status "invalid" so that the caller reports it with its cell instead of turning it
into NaN or 0.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import Any, NamedTuple

__all__ = [
    "Parsed",
    "Target",
    "BLANK_TEXTS",
    "normalize",
    "label_form",
    "strip_code",
    "clean_text",
    "parse",
    "parse_indicator",
    "decimals_of",
]

# What units write for "nothing here".
BLANK_TEXTS = frozenset({"", "-", "—", "——", "/", "*", "无", "－", "–", "…", "……", "--"})

AMOUNT_UNITS = ("万元", "万")
_NUMBER = r"[+-]?(?:\d+(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+"
_NUMBER_RE = re.compile(rf"^({_NUMBER})$")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_WS_RE = re.compile(r"\s+")
_PLAIN_RE = re.compile(r"\S+(?: \S+)*")  # no leading, trailing, repeated or special white space

# Excel's serial-date epoch (1900 system, with the 1900 leap-year bug absorbed by using 1899-12-30).
_EXCEL_EPOCH = dt.date(1899, 12, 30)


class Parsed(NamedTuple):  # a NamedTuple: one is made for every cell read
    value: Any  # float | datetime.date | str | None
    status: str  # "ok" | "blank" | "invalid"
    tol: float = 0.0  # half-width of the rounding interval the written value stands for


@functools.lru_cache(maxsize=65536)
def _normalize_str(text: str) -> str:
    return _WS_RE.sub("", unicodedata.normalize("NFKC", text))


def normalize(text: Any) -> str:
    """Label form: NFKC (full-width to half-width), every kind of white space removed."""
    if text is None:
        return ""
    return _normalize_str(text if type(text) is str else str(text))


# Decorations that templates add to a label without changing what it names: a leading
# number ("1、", "（一）", "2."), 其中, a bracketed note of any kind ("（万元）", "（A）",
# "(全年执行数/全年预算数)", "(盖章)", "(40分)"), an unclosed bracket and a trailing colon.
_LEAD_NUMBER = re.compile(r"^(?:\(?[0-9一二三四五六七八九十]{1,3}\)|[0-9一二三四五六七八九十]{1,3}[、.．](?!\d)|[0-9]{1,2}(?=[\u4e00-\u9fff]))")
_BRACKETED = re.compile(r"[(\[【〔<《][^()\[\]【】〔〕<>《》]*[)\]】〕>》]")
_UNCLOSED = re.compile(r"[(\[【〔][^()\[\]【】〔〕]*$")
_UNOPENED = re.compile(r"[A-Za-z0-9/+\-*×%.分万元]{0,8}[)\]】〕]$")  # "执行数B)": its "(" was lost


# What _label_form_of can take from a normalized text: numbering, 其中 or a colon at its start,
# a bracket anywhere, a colon at its end. A text with none of them (most value texts) is its own
# label form, and a new text costs one search instead of six substitutions (~1.5 µs, not ~10).
_LABEL_FORM_TOUCHES = re.compile(r"^[(0-9一二三四五六七八九十:]|^其中|[()\[\]【】〔〕<>《》]|:$")


@functools.lru_cache(maxsize=65536)
def _label_form_str(text: str) -> str:
    n = _normalize_str(text)
    return n if _LABEL_FORM_TOUCHES.search(n) is None else _label_form_of(n)


def _label_form_of(n: str) -> str:
    """label_form() of a normalized text."""
    for _ in range(2):  # "1、其中:（一）…" has two layers of prefix
        n = _LEAD_NUMBER.sub("", n).removeprefix("其中").lstrip(":")
    bare = _UNCLOSED.sub("", _BRACKETED.sub("", _BRACKETED.sub("", n)))
    if not any(b in bare for b in "([【〔"):
        bare = _UNOPENED.sub("", bare)
    return bare.rstrip(":") if bare else n.rstrip(":")


def label_form(text: Any) -> str:
    """What a cell says as a label: normalize()d, without numbering, 其中, bracketed notes or
    a trailing colon ("（一）年度资金总额：" -> "年度资金总额", "执行率（B/A）" -> "执行率").
    Template labels and cell texts go through the same function, so they compare alike; a
    text that is nothing but brackets keeps them."""
    if text is None:
        return ""
    return _label_form_str(text if type(text) is str else str(text))


_CODE_PREFIX = re.compile(r"^\s*[0-9][0-9A-Za-z]{2,}\s*[-－—_]\s*")


def strip_code(text: str) -> str:
    """A name without the budget system's code before it ("219001-池州市…" -> "池州市…",
    "51000021R000000019951-工资性支出" -> "工资性支出")."""
    return _CODE_PREFIX.sub("", text, count=1)


def clean_text(raw: Any) -> str:
    """Display form of a text cell: NFKC-free, trimmed, inner runs of space kept as one."""
    if raw is None:
        return ""
    kind = type(raw)
    if kind is str:
        if _PLAIN_RE.fullmatch(raw):
            return raw  # the common case: nothing to fold
    elif kind is float:
        return str(int(raw)) if raw.is_integer() else str(raw)  # no white space to fold
    return _WS_RE.sub(" ", str(raw).replace("\u3000", " ")).strip()


def decimals_of(text: str) -> int:
    """Decimals a number was written with ("981.22" -> 2, "89" -> 0)."""
    _, _, frac = text.partition(".")
    return len(frac.rstrip()) if frac else 0


def _is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and normalize(raw) in BLANK_TEXTS)


def _float_decimals(x: float, cap: int) -> int:
    text = f"{x:.{cap}f}".rstrip("0")
    return decimals_of(text)


def _number_text(raw: Any, units: tuple[str, ...]) -> str | None:
    """The bare number in a text cell after stripping spaces, units and a leading 约."""
    text = normalize(raw)
    text = text.removeprefix("约")
    for unit in units:
        if text.endswith(unit):
            text = text[: -len(unit)]
            break
    return text if _NUMBER_RE.match(text) else None


def _parse_amount(raw: Any) -> Parsed:
    # Amounts are 万元 with 2 decimals: each reported value stands for v ± 0.005.
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Parsed(float(raw), "ok", 0.005)
    text = _number_text(raw, AMOUNT_UNITS)
    if text is None:
        return Parsed(None, "invalid")
    return Parsed(float(text.replace(",", "")), "ok", 0.005)


def _parse_amount_yuan(raw: Any) -> Parsed:
    # A table kept in 元 ("项目资金(元)"): the same amount in 万元, like every other.
    p = _parse_amount(raw)
    return Parsed(p.value / 10000, "ok", p.tol / 10000) if p.status == "ok" else p


def _parse_count(raw: Any) -> Parsed:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Parsed(float(raw), "ok", 0.0)
    text = _number_text(raw, ("人", "个", "户"))
    if text is None:
        return Parsed(None, "invalid")
    return Parsed(float(text.replace(",", "")), "ok", 0.0)


def _parse_score(raw: Any) -> Parsed:
    # A score stands for its value rounded to the decimals it was written with, at least one
    # and at most two: "9" may be a rounded 8.96, but twelve integer scores must not add up to
    # a tolerance of several points.
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Parsed(float(raw), "ok", _score_tol(_float_decimals(float(raw), 4)))
    text = _number_text(raw, ("分",))
    if text is None:
        return Parsed(None, "invalid")
    return Parsed(float(text.replace(",", "")), "ok", _score_tol(decimals_of(text)))


def _score_tol(decimals: int) -> float:
    return 0.5 * 10 ** -min(max(decimals, 1), 2)


def _parse_rate(raw: Any) -> Parsed:
    """A rate as a fraction. "89%" and 89 are percent; 0.89 (a %-formatted cell) is a fraction.

    A bare number up to 2 reads as a fraction (200%), above 2 as percent: no real 执行率 or
    控制率 is below 2% and written as a fraction above 200%.
    """
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        x = float(raw)
        if abs(x) <= 2:
            return Parsed(x, "ok", 0.5 * 10 ** -min(_float_decimals(x * 100, 4) + 2, 4))
        return Parsed(x / 100, "ok", 0.5 * 10 ** -min(_float_decimals(x, 4) + 2, 4))
    text = normalize(raw)
    percent = text.endswith("%")
    text = text.rstrip("%")
    if not _NUMBER_RE.match(text):
        return Parsed(None, "invalid")
    x = float(text.replace(",", ""))
    tol = 0.5 * 10 ** -min(decimals_of(text) + 2, 4)
    if percent or abs(x) > 2:
        return Parsed(x / 100, "ok", tol)
    return Parsed(x, "ok", 0.5 * 10 ** -min(max(decimals_of(text), 2), 4))


_DATE_RE = re.compile(r"^(\d{4})[.\-/年](\d{1,2})(?:[.\-/月](\d{1,2})日?)?月?$")


def _parse_date(raw: Any) -> Parsed:
    if isinstance(raw, dt.datetime):
        return Parsed(raw.date(), "ok")
    if isinstance(raw, dt.date):
        return Parsed(raw, "ok")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if 20000 < raw < 80000:  # an Excel serial date that lost its format
            return Parsed(_EXCEL_EPOCH + dt.timedelta(days=int(raw)), "ok")
        return Parsed(None, "invalid")
    text = normalize(raw)
    m = _DATE_RE.match(text)
    if not m:
        return Parsed(None, "invalid")
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
    try:
        return Parsed(dt.date(year, month, day), "ok")
    except ValueError:
        return Parsed(None, "invalid")


def _parse_text(raw: Any) -> Parsed:
    return Parsed(clean_text(raw), "ok")


_PARSERS = {
    "amount": _parse_amount,
    "amount_yuan": _parse_amount_yuan,
    "count": _parse_count,
    "score": _parse_score,
    "rate": _parse_rate,
    "date": _parse_date,
    "text": _parse_text,
}


_INF = float("inf")
_BLANK = Parsed(None, "blank")
_INVALID = Parsed(None, "invalid")


@functools.lru_cache(maxsize=1 << 16, typed=True)  # labels and common values recur across workbooks
def parse(kind: str, raw: Any) -> Parsed:
    """Parse ``raw`` as a value of ``kind`` (amount, count, score, rate, date, text)."""
    if type(raw) is str and raw.startswith("#") and raw.endswith(("!", "?", "A")):
        return _INVALID  # an Excel error value such as #DIV/0! or #N/A
    if _is_blank(raw):
        return _BLANK
    if type(raw) is float and (raw != raw or raw in (_INF, -_INF)) and kind != "text":
        return _INVALID  # NaN or INF stored as a number: no amount, rate or score
    return _PARSERS[kind](raw)


# --- indicator values --------------------------------------------------------------------

_COMPARATORS = (
    ("≥", ">="), ("≧", ">="), (">=", ">="), ("不低于", ">="), ("不少于", ">="), ("大于等于", ">="), ("不小于", ">="),
    ("≤", "<="), ("≦", "<="), ("<=", "<="), ("不高于", "<="), ("不超过", "<="), ("小于等于", "<="), ("不大于", "<="),
    ("大于", ">"), ("高于", ">"), ("超过", ">"), (">", ">"),
    ("小于", "<"), ("低于", "<"), ("<", "<"),
    ("等于", "="), ("=", "="), ("═", "="),
)
_COMPARATOR_STARTS = frozenset(word[0] for word, _ in _COMPARATORS)
_INDICATOR_RE = re.compile(rf"^(约)?({_NUMBER})(\D*)$")
# A comparator written after the number: "95%以上", "3个月以内", "5天以下".
_SUFFIX_COMPARATORS = (("及以上", ">="), ("以上", ">="), ("及以下", "<="), ("以下", "<="), ("以内", "<="))


class Target(NamedTuple):
    """An indicator value: a comparison with a number and unit, or a qualitative text."""

    comparator: str | None  # ">=", "<=", ">", "<", "=" or None when not written
    number: float | None
    unit: str
    text: str  # the cleaned written text
    status: str  # "ok" | "blank" | "invalid" | "qualitative"
    approximate: bool = False

    @property
    def is_range(self) -> bool:
        return self.comparator in (">=", "<=", ">", "<")


@functools.lru_cache(maxsize=1 << 16, typed=True)
def parse_indicator(raw: Any) -> Target:
    """Split "≥360人" into (">=", 360, "人"); "长期" is qualitative; "98%1" is invalid."""
    shown = clean_text(raw)
    if _is_blank(raw):
        return Target(None, None, "", shown, "blank")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if raw != raw or raw in (_INF, -_INF):
            return Target(None, None, "", shown, "invalid")
        return Target(None, float(raw), "", shown, "ok")
    text = normalize(raw)
    comparator = None
    if text[:1] in _COMPARATOR_STARTS:  # (most values start with none: no 24 tries)
        for word, op in _COMPARATORS:
            if text.startswith(word):
                comparator, text = op, text[len(word):]
                break
    m = _INDICATOR_RE.match(text)
    if m:
        unit = m.group(3)
        for word, op in _SUFFIX_COMPARATORS:
            if unit.endswith(word):
                unit = unit[: -len(word)]
                comparator = comparator or op
                break
        return Target(comparator, float(m.group(2).replace(",", "")), unit, shown, "ok", bool(m.group(1)))
    body = text.removeprefix("约")
    # Numeric-looking text that is not a number ("98%1", "3.5.6") is a typo, not prose.
    if body[:1].isdigit() and not _CJK_RE.search(body):
        return Target(comparator, None, "", shown, "invalid")
    return Target(comparator, None, "", shown, "qualitative")
