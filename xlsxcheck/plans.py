"""Extraction plans: a sheet whose layout was seen before is read without working the layout
out again.

Working a layout out (where each table starts, which header names which column, which row is
which funds line, where the indicator block ends) is most of extraction, and it repeats
identically for every workbook made from one template. A sheet's *layout* is the sheet with
what the filer wrote abstracted away:

- every number stands in for every number of its type (the reader looks at numbers only to
  parse them);
- every text the reader cannot take for anything but a value becomes one placeholder: no label
  of any template, no piece of one, no colon, year, "N分" or "(元)" mark, not blank, not an
  Excel error. In header rows and the rows right under them the placeholder keeps the text's
  length class (labels split over two rows join only short texts) and the ends that could
  complete a label split over two cells;
- a text that holds a label and a value (a title, a footer, "单位名称:…") keeps what the
  reader sees in it and stands in for the rest (_mask).

Everything else (labels, titles, merges, the sheet's size) stays as it is. The reader decides
nothing from a value but what it parses out of it, and nothing from the sheet's name (which
only goes into the values and tables it reads), so run on the layout it finds the same tables
at the same cells as on any sheet of that layout, whatever its name. That run, with each value read
again from the real cell, is the plan; a plan is checked once against the layout it was made
from, and a layout is planned the second time it is seen (a layout seen once costs one more
pass over its cells, nothing else).

Once a layout has a plan, a sheet of it is recognised without working its layout out: a guard
made with the plan compares the sheet's rows, laid end to end, with what the layout keeps (one
tuple comparison for the labels and blanks, one for the types of the numbers) and asks of each
value text only whether the reader could take it for a label. Such a sheet never becomes a
dict of cells (reading.Grid makes those on first use).

Filings of one template differ in how many indicator rows each table has, and so nearly every
table of them has a layout of its own. A *banded* plan reads them all: made the second time a
layout is seen without its runs of rows that could be indicator rows (_fold), it reads the rows
above, between and below the indicator rows by the plan (their guards compare them with the rows
moved) and the indicator rows themselves with the reader's own row loop; a sheet's indicator rows
must hold nothing any other part of the reader could see (see "bands" below).

Plans are kept per process (the workers), at most ``_MAX_PLANS``; a sheet of more than
``_MAX_CELLS`` cells is always read in full (its layout would be kept whole). XLSXCHECK_PLANS=0 turns
them off; tests/test_plans.py compares the two on every workbook of the test corpora.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
import unicodedata
from itertools import chain, repeat
from math import isfinite
from operator import itemgetter
from typing import Any, Callable, NamedTuple

from .extract import (_TITLE_NAME_START, _TITLE_PREFIX, _WEIGHT_RE, _YEAR_RE, _YUAN, IndicatorColumns, _name_field, _PlanStats,
                      _level1, _Sheet, _span, _targets, _title_of, _titles_and_anchors, indicator_rows, read_sheet, template)
from .model import BaseItem, Indicator, Table, Value
from .reading import Grid, a1
from .values import BLANK_TEXTS, _label_form_str, _normalize_str, clean_text, label_form, normalize, parse

__all__ = ["sheet_tables"]

_FILL = "\ue000"  # a private-use character: in no label, untouched by normalize() and label_form()
_MAX_PLANS = 256


class _Number(NamedTuple):
    """Every number of one type in a layout (NaN and infinities stay as they are): equal only to
    itself (True == 1 == 1.0 in Python, not to the reader); the layout's reading sees ``one``."""

    type: str
    one: Any


_NUMBER = {t: _Number(t.__name__, one) for t, one in
           ((float, 1.0), (int, 1), (dt.datetime, dt.datetime(2000, 1, 1)), (dt.date, dt.date(2000, 1, 1)))}


class _Vocabulary(NamedTuple):
    marks: tuple[re.Pattern, ...]  # any label of any template, ":", the year, 分 and 元 marks (or more)
    other: re.Pattern  # the marks that are not labels
    starts: re.Pattern  # the longest label starting at each place (an empty match with the label as group 1)
    labels: frozenset[str]
    pieces: frozenset[str]  # every substring of every label
    prefixes: frozenset[str]  # proper prefixes of labels (where a split label starts)
    suffixes: frozenset[str]  # proper suffixes of labels (where one ends, in the cell below)
    longest: int
    header: re.Pattern  # labels of the rows whose columns are found by their header texts
    header_prefixes: frozenset[str]  # where such a label split over two rows starts
    digit_free: bool  # no label holds a digit


def _labels(part: dict) -> set[str]:
    """Every label in a part of the template, and the labels where an indicator block ends."""
    labels = {"填表人", "备注", "说明"}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k != "target_ops":  # comparators are parsed out of values, never looked for
                    walk(v)
        elif isinstance(node, list):
            for x in node:
                walk(x)
        elif isinstance(node, str):
            labels.add(node)

    walk(part)
    labels.discard("")
    return labels


@functools.cache
def _vocabulary() -> _Vocabulary:
    tpl = template()
    labels = _labels(tpl)
    # The weight's digits possessive: the same matches, without trying every shorter run of
    # digits at every digit of a date or a phone number.
    weight = _WEIGHT_RE.pattern.replace(r"\d+", r"\d++")
    # Where a title's unit name ends, and the 附件 before it, tell a title's unit apart too.
    other = [":", _YEAR_RE.pattern, weight, _YUAN.pattern, _TITLE_NAME_START.pattern, _TITLE_PREFIX.pattern]
    header_labels = [*tpl["funds"]["columns"]["rate"], *tpl["funds"]["columns"]["executed"],
                     *tpl["indicators"]["columns"]["level1"], *tpl["base"]["staff"]["authorized"]]
    return _Vocabulary(
        # Finding the texts to keep may find more than the reader would, never less: the labels
        # as one trie, and what holds a digit apart (the regex engine skips ahead by first
        # characters only where every branch starts with a literal).
        marks=(re.compile(_trie([*labels, ":", "元)", "单位:元"])), re.compile(r"(?:19|20)\d\d年|\d分")),
        other=re.compile("|".join(other)),
        # (A label's first character looked for first: one test where no label starts.)
        starts=re.compile(f"(?=[{re.escape(''.join(sorted({lab[0] for lab in labels})))}])(?=({_trie(list(labels))}))"),
        labels=frozenset(labels),
        pieces=frozenset(lab[i:j] for lab in labels for i in range(len(lab)) for j in range(i + 1, len(lab) + 1)),
        prefixes=frozenset(lab[:i] for lab in labels for i in range(1, len(lab))),
        suffixes=frozenset(lab[i:] for lab in labels for i in range(1, len(lab))),
        longest=max(map(len, labels)),
        header=re.compile("|".join(map(re.escape, sorted(header_labels, key=len, reverse=True)))),
        header_prefixes=frozenset(lab[:i] for lab in header_labels for i in range(1, len(lab))),
        digit_free=not any(ch.isdigit() for lab in labels for ch in lab),
    )


def _trie(words: list[str]) -> str:
    """One regex of the words, factored by their common beginnings: at each position it finds
    the longest word there, as the alternation of the words longest first does, but the
    engine tries only the branch of the character it sees."""
    root: dict = {}
    for w in words:
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


@functools.lru_cache(maxsize=4096)
def _placeholder(n: str, keep_head: bool, keep_tail: bool) -> str | None:
    """A value text's stand-in: whether it is short (the reader joins texts of 10 characters or
    fewer to the header above them), and where asked the longest head that ends a label and
    the longest tail that starts one. None where it cannot stand in."""
    voc = _vocabulary()
    head = next((n[:i] for i in range(min(len(n) - 1, voc.longest), 0, -1) if n[:i] in voc.suffixes), "") if keep_head else ""
    tail = next((n[-i:] for i in range(min(len(n) - 1, voc.longest), 0, -1) if n[-i:] in voc.prefixes), "") if keep_tail else ""
    fill = 1 if len(n) <= 10 else max(1, 11 - len(head) - len(tail))
    if len(head) + len(tail) + fill > len(n):
        return None
    text = head + _FILL * fill + tail
    return text if label_form(text) == text and normalize(text) == text else None


def _events(text: str, voc: _Vocabulary) -> list[tuple[int, int, str]]:
    """(start, end, text) of what the reader can see in a text: each label (the longest one
    starting there; shorter ones are its beginnings), colon, year, weight and 元 mark."""
    found = [(m.start(), m.end(1), m.group(1)) for m in voc.starts.finditer(text)]
    found += [(m.start(), m.end(), m.group()) for m in voc.other.finditer(text)]
    return sorted(found)


def _signature(text: str, voc: _Vocabulary, label_form: bool, events: list | None = None) -> tuple:
    """What the reader can tell of a text: its events in order, which of them start or end it,
    whether anything lies between neighbours, and its length as far as any length test of the
    reader can tell: exact up to a bound past every label's allowance where a label's length
    is measured against the text's (in label form, unless every label is before a colon: then
    against the colon's place) or a year's (as written), else only whether it reaches 7 (a title).
    ``events``: the text's own, where the caller has them."""
    if events is None:
        events = _events(text, voc)
    seen, last = [], 0
    for start, end, what in events:
        seen.append((what, start == 0, end == len(text), start > last))
        last = max(last, end)
    colon = text.find(":")
    if label_form:
        measured = any(what != ":" and (colon < 0 or end > colon) for _, end, what in events)
    else:
        measured = any(_YEAR_RE.fullmatch(what) for _, _, what in events)
    return tuple(seen), last < len(text), min(len(text), _LONG if measured else 7)


_LONG = 24  # longer than any length the reader compares a text with (a label's length + 8)


@functools.lru_cache(maxsize=8192)
def _mask(raw: str, keep_ends: bool) -> str | None:
    """A text that holds a label, with its letters and digits that nothing in the reader looks
    at replaced by one placeholder a run ("填表人:张三 填报日期:2024.4.8" -> "填表人:□ 填报日期:□.□.□"),
    or None when nothing can be replaced without changing what the reader sees. The text before
    its first colon stays (a label and its value share a cell there), so do the last characters
    before a closing bracket (a bracket note) and, with ``keep_ends`` (a header row, or under a
    label's first part: a label may be split over two cells there), both ends."""
    t = normalize(raw)
    if "年" not in t and _vocabulary().digit_free:
        # Without a year (the one pattern that tells digits by value; no label holds one) the
        # reader tells digits apart only by class, so the text with its digits made 0 reads as
        # this one does but for the digits; where its mask keeps none of them, the reader never
        # looks at them, and that mask is this text's too. "按收入性质分: 3136.78" is new in every
        # unit, its digits made 0 are not.
        same = raw.translate(_ZEROS)
        if same != raw and (masked := _mask(same, keep_ends)) is not None and "0" not in masked:
            return masked
    first = _first_mask(raw, keep_ends)
    return None if first is None else _settled(*first)


_ZEROS = str.maketrans("123456789", "000000000")


@functools.lru_cache(maxsize=4096)
def _settled(masked: str, want: tuple) -> str | None:
    """A first try at a mask, made to read as the text does (``want``), or None. Cached apart
    from _mask: a unit's titles and footers are new texts, but their first tries recur."""
    voc = _vocabulary()
    # One placeholder a run where the reader cannot tell the length; else as long as the text
    # was (up to what the reader can tell apart): the last run grows.
    for _ in range(2):
        if _reads(masked, voc) == want:
            return masked
        # As long as the reader can tell in both forms it measures (label form drops more).
        short = max(want[0][2] - len(label_form(masked)), want[1][2] - len(normalize(masked)))
        if short <= 0:
            return None
        at = masked.rindex(_FILL)
        masked = masked[:at] + _FILL * (short + 1) + masked[at + 1:]
    return None


def _reads(text: str, voc: _Vocabulary) -> tuple:
    """What the reader can tell of a text, in label form and as written."""
    return _signature(label_form(text), voc, True), _signature(normalize(text), voc, False)


def _first_mask(raw: str, keep_ends: bool) -> tuple[str, tuple] | None:
    """_mask's first try, one placeholder a run, with what the reader can tell of ``raw``
    (``_reads(raw)``): the whole of _mask where its try reads as ``raw`` does."""
    voc = _vocabulary()
    t = normalize(raw)
    if not t or t in BLANK_TEXTS or t.startswith("#"):
        return None
    if unicodedata.is_normalized("NFKC", raw):
        parts = ["" if ch.isspace() else ch for ch in raw]  # what normalize() does to each character
    else:
        parts = list(map(_normalize_str, raw))  # (normalize() of a character, without its wrapper)
    if "".join(parts) != t:
        return None  # characters that normalize together: not worth the risk
    fixed = bytearray(len(t))
    events = _events(t, voc)
    for start, end, _ in events:
        fixed[start:end] = b"\x01" * (end - start)
    body = t.removeprefix("其中:")
    if ":" in body:
        head = len(t) - len(body) + body.index(":")
        fixed[:head] = b"\x01" * head
    if t[-1] in ")]】〕>》":
        fixed[-10:] = b"\x01" * min(10, len(t))
    if keep_ends:
        fixed[:voc.longest] = b"\x01" * min(voc.longest, len(t))
        fixed[-voc.longest:] = b"\x01" * min(voc.longest, len(t))
    out, i, changed = [], 0, False
    for ch, part in zip(raw, parts):
        if len(part) == 1 and not fixed[i] and part.isalnum():
            if out[-1:] != [_FILL]:
                out.append(_FILL)
            changed = True
        else:
            out.append(ch)
        i += len(part)
    if not changed:
        return None
    form = label_form(raw)
    want = (_signature(form, voc, True, events if form == t else None), _signature(t, voc, False, events))
    return "".join(out), want


class _Layout(NamedTuple):
    key: tuple
    cells: dict[tuple[int, int], Any]  # the layout's cells
    values: frozenset[tuple[int, int]]  # the cells whose content the layout does not keep
    ends: dict[tuple[int, int], tuple[bool, bool]]  # a text stand-in's (keep head, keep tail)


class _Text(NamedTuple):
    """What the layout needs to know of a text (cached: labels and many values recur)."""

    norm: str  # label form
    kept: bool  # the reader could take it for a label or a mark, whole or (numbered, bracketed) as written
    piece: bool  # it is a piece of a label (one split over cells): kept whole
    starts_label: bool  # it is where a label split over cells starts
    header: bool  # it names a header row (texts there are joined with the row below)


@functools.lru_cache(maxsize=1 << 16)
def _text(raw: str) -> _Text:
    voc = _vocabulary()
    n, t = _label_form_str(raw), _normalize_str(raw)
    labels, digits = voc.marks[0].search, voc.marks[1].search
    piece = n in voc.pieces
    kept = (not n or piece or t in BLANK_TEXTS or t[0] == "#" or labels(n) is not None or digits(n) is not None
            or (n != t and (labels(t) is not None or digits(t) is not None)))
    return _Text(n, kept, piece, kept and n in voc.prefixes,
                 kept and (n in voc.header_prefixes or voc.header.search(n) is not None))


def _layout(grid: Grid) -> _Layout:
    layout: dict[tuple[int, int], Any] = {}
    values = []
    texts = []
    for k, v in grid.cells.items():
        kind = v.__class__
        if kind is str:
            texts.append((k, v, _text(v)))
            layout[k] = v
        elif kind in _NUMBER and (kind is not float or v - v == 0):
            layout[k] = _NUMBER[kind]
            values.append(k)
        else:
            layout[k] = v
    # Where a label may be split over two cells: header rows (their texts are joined with the
    # row below) and the cells under a label's first part.
    header_rows, under_prefix, near = set(), set(), {}
    for (r, c), _, info in texts:
        if info.starts_label:
            under_prefix.update((grid.origin(r + 1, c), grid.origin(r + 2, c)))
        if info.header:
            header_rows.add(r)
    for k, raw, info in texts:
        r = k[0]
        if info.piece:
            continue  # a piece of a label (one split over cells) stays whole
        head = r in header_rows  # its tail may start a label the row below completes
        ends = r - 1 in header_rows or k in under_prefix  # its head may complete one above
        if not info.kept:
            stand_in = _placeholder(info.norm, ends, head) if ends or head else _FILL
        else:
            stand_in = _mask(raw, ends or head)
        if stand_in is not None:
            layout[k] = stand_in
            values.append(k)
            near[k] = (ends, head)
    key = (grid.n_rows, grid.n_cols, tuple(grid.merged_ranges()), tuple(layout.items()))  # the reader reads nothing from the name
    return _Layout(key, layout, frozenset(values), near)


def _abstract_grid(grid: Grid, layout: dict[tuple[int, int], Any]) -> Grid:
    """The layout as a sheet for the reader: each number stand-in as a number of its type."""
    rows = [list(line) for line in grid.rows]
    r0, c0 = grid.start
    for (r, c), v in layout.items():
        rows[r - r0][c - c0] = v.one if v.__class__ is _Number else v
    return Grid(grid.name, rows, grid.start, grid.merged)


# --- plans ---------------------------------------------------------------------------------

class _Mismatch(Exception):
    """The sheet's values do not fit the plan (a title whose unit part is no name): read it in full."""


class _Plan(NamedTuple):
    """What a layout's tables hold, as indices into the values a sheet gives: first the values
    read as they are from the cells at ``positions`` (their A1 references and kinds beside),
    then the rest. ``values`` holds the values that are the same on every sheet of the layout
    (None where one is read), ``derived`` the values made otherwise (index, how, arguments, the
    value on the layout), in an order where a value comes after the one it is made from."""

    values: list[Value | None]
    positions: tuple[tuple[int, int], ...]
    a1s: tuple[str, ...]
    kinds: tuple[str, ...]
    derived: list[tuple[int, str, tuple, Value]]
    titles: list[tuple[tuple[int, int], tuple[bool, bool]]]  # title cells, with whether year and unit are in them
    tables: list[tuple[dict, list[str]]]  # (each table's shape, its problems)
    sheet: str  # the name of the sheet it was made on, which its values carry
    # A banded plan's indicator rows, read as the reader reads them: (table index, first row,
    # the row that ends them, their columns), by first row; its plans with the rows below
    # each band moved (by how much each band is longer than here).
    bands: tuple[tuple[int, int, int, IndicatorColumns, bool], ...] = ()  # (…, whether right under the header)
    moved: dict | None = None


def _derive(grid: Grid, how: str, args: tuple, like: Value, vals: list, titles: dict) -> Value:
    if how == "cut":
        r, c, where, kind = args
        text = normalize(grid.get(r, c))
        i, j = _span(text, where)
        raw = text[i:j]
        p = parse(kind, raw)
        return Value(raw, p.value, p.status, grid.name, like.cell, kind, p.tol)
    if how == "name":
        key, inner = args
        return _name_field(key, vals[inner])
    r, c = args[:2]
    if how == "title":
        text = titles[(r, c)]
        return tuple.__new__(Value, (text[0], text[args[2]], like.status, grid.name, *like[4:]))
    raw = grid.get(r, c)
    return tuple.__new__(Value, (raw, like.value if how == "raw" else clean_text(raw), like.status, grid.name, *like[4:]))  # "raw" or "clean"


class _Unplannable(Exception):
    pass


def _record(grid: Grid, layout: _Layout, banded: bool = False) -> _Plan | None:
    """The plan of a layout: the reader's tables on the layout itself, each value that came from
    a cell the layout stands in for turned into a read. None when the plan does not give back
    exactly what the reader read there (it is then never used). ``banded``: a plan whose
    indicator rows are read as the reader reads them, wherever they end (None where the sheet
    does not allow one, see _bands_allowed)."""
    g = _abstract_grid(grid, layout.cells)
    recipes: dict[int, tuple[tuple, Value]] = {}  # by the value's id: how it was read, and the value (kept alive)
    found: list | None = [] if banded else None
    read = read_sheet(g, recipes, found)
    bands = ()
    if banded:
        index = {id(t): i for i, (t, _) in enumerate(read)}
        bands = tuple(sorted(((index[id(t)], start, end, how, start == header + 1) for t, start, end, header, how in found),
                             key=itemgetter(1)))
        if not bands or not _bands_allowed(g, read, found):
            return None
    in_band = {i for i, *_ in bands}
    stand_ins = {a1(*k): k for k in layout.values}
    values: list[Value | None] = []
    cells, derived, index = [], [], {}

    def ix(v: Value) -> int:
        i = index.get(id(v))
        if i is not None:
            return i
        how = recipes.get(id(v), ((None,),))[0]
        if how[0] is None or (how[0] != "name" and v.cell not in stand_ins):
            # the same on every sheet of the layout
            if how[0] is None and v.raw is not None and v.cell in stand_ins:
                raise _Unplannable  # made from a stand-in some way the plan cannot redo
            values.append(v)
        elif how[0] == "cell":
            values.append(None)
            cells.append((stand_ins[v.cell], v.cell, how[3], len(values) - 1))
        elif how[0] == "name":
            inner = ix(how[2])
            values.append(None)
            derived.append((len(values) - 1, "name", (how[1], inner), v))
        else:
            values.append(None)
            derived.append((len(values) - 1, how[0], how[1:], v))
        index[id(v)] = len(values) - 1
        return index[id(v)]

    def read_first(v: Value) -> None:
        how = recipes.get(id(v), ((None,),))[0]
        if how[0] == "name":
            read_first(how[2])
        elif how[0] == "cell" and v.cell in stand_ins:
            ix(v)

    try:
        for i, (t, _) in enumerate(read):  # the values read from cells first: _apply makes them in one go
            for v in _values_of(t, i not in in_band):
                read_first(v)
        tables, titles = [], []
        for n, (t, problems) in enumerate(read):
            title = t.fields.get("title")
            if title is not None and id(title) in recipes:
                year = t.fields.get("year")
                titles.append((recipes[id(title)][0][1:3], (year is not None and recipes[id(year)][0][0] == "title", "title_unit" in t.fields)))
            shape = dict(
                kind=t.kind, first_row=t.first_row, last_row=t.last_row, headers=frozenset(t.headers),
                target_columns=t.target_columns, fields=(tuple(t.fields), _getter([ix(v) for v in t.fields.values()])),
                indicators=[] if n in in_band else
                [(i.row, ix(i.level1), i.level1_key, i.level1_weight, *map(ix, i[4:11])) for i in t.indicators],
                goals=[(ix(a), ix(b)) for a, b in t.goals],
                items=[(b.key, b.parent, ix(b.label), [(k, ix(v)) for k, v in b.columns.items()]) for b in t.base_items],
            )
            tables.append((shape, list(problems)))
    except _Unplannable:
        return None
    if any(_FILL in h for t, _ in read for h in t.headers):
        return None  # a header read from a stand-in: never expected
    if any(i != at for at, (*_, i) in enumerate(cells)):
        return None  # a value read from a cell but not found first (never expected)
    positions, a1s, kinds = (tuple(x) for x in zip(*[(rc, cell, kind) for rc, cell, kind, _ in cells])) if cells else ((), (), ())
    plan = _Plan(values, positions, a1s, kinds, derived, titles, tables, grid.name, bands, {} if bands else None)
    if bands:
        used = {r for r, _ in positions} | {_row_of(v.cell) for v in chain(values, (like for *_, like in derived)) if v is not None}
        if any(start <= r < end for r in used for _, start, end, *_ in bands):
            return None  # a value outside the indicator rows read from them (never expected)
    try:
        if not bands:
            return plan if _apply(plan, g) == read else None
        if _apply_banded(plan, g, None, tuple(end for _, _, end, *_ in bands)) != read:
            return None
        longer, ends = _longer(g, bands)  # the same with a row more in each band: the rows below moved
        return plan if _apply_banded(plan, longer, None, ends) == read_sheet(longer) else None
    except _Mismatch:
        return None


def _values_of(t: Table, indicators: bool = True):
    yield from t.fields.values()
    for i in t.indicators if indicators else ():
        yield i.level1
        yield from i[4:11]
    for a, b in t.goals:
        yield a
        yield b
    for b in t.base_items:
        yield b.label
        yield from b.columns.values()


_value = functools.partial(tuple.__new__, Value)


def _on_sheet(values: list[Value | None], name: str) -> list[Value | None]:
    """A plan's values as read on a sheet of another name (a layout is the same whatever the
    sheet's name: "项目1" and "项目2", or sheets named after their projects)."""
    return [v if v is None else tuple.__new__(Value, (v.raw, v.value, v.status, name, *v[4:])) for v in values]


def _apply(plan: _Plan, grid: Grid, raws: tuple | None = None) -> list[tuple[Table, list[str]]]:
    """The plan's tables on a sheet of its layout; ``raws``: the contents of the plan's
    positions where the caller has them."""
    titles = {}
    for at, parts in plan.titles:
        text, year, unit = titles[at] = _title_of(grid, *at)
        if parts != (bool(year), bool(unit)):
            raise _Mismatch  # the title's year or unit is there on one sheet and not on the other
    name, new = grid.name, tuple.__new__
    if raws is None:
        rows, (r0, c0) = grid.rows, grid.start
        raws = [rows[r - r0][c - c0] for r, c in plan.positions]  # stand-ins' cells: never empty
    n = len(raws)
    if n:
        parsed, statuses, tols = zip(*map(parse, plan.kinds, raws))
        vals = list(map(_value, zip(raws, parsed, statuses, repeat(name, n), plan.a1s, plan.kinds, tols)))
        vals += plan.values[n:] if name == plan.sheet else _on_sheet(plan.values[n:], name)
    else:
        vals = plan.values.copy() if name == plan.sheet else _on_sheet(plan.values, name)
    for i, how, args, like in plan.derived:
        vals[i] = _derive(grid, how, args, like, vals, titles)
    out = []
    for shape, problems in plan.tables:
        t = Table(kind=shape["kind"], sheet=name, table_id="", title="", first_row=shape["first_row"],
                  last_row=shape["last_row"], headers=set(shape["headers"]), target_columns=shape["target_columns"])
        keys, get = shape["fields"]
        t.fields = dict(zip(keys, get(vals)))
        if "title" in t.fields:
            t.title = t.fields["title"].value
        op_col, unit_col = shape["target_columns"]
        indicators = t.indicators
        for row, l1, key, weight, *rest in shape["indicators"]:
            level1 = vals[l1]
            if plan.values[l1] is None:  # read from the sheet: its key and weight too
                key, weight = _level1(level1.raw)
            level2, level3, target, actual, weight_v, score, reason = [vals[i] for i in rest]
            parsed = _targets(grid, row, target.raw, actual.raw, op_col, unit_col)
            indicators.append(new(Indicator, (row, level1, key, weight, level2, level3, target, actual, weight_v, score, reason, *parsed)))
        t.goals = [(vals[a], vals[b]) for a, b in shape["goals"]]
        t.base_items = [new(BaseItem, (k, parent, vals[label], {c: vals[i] for c, i in cols})) for k, parent, label, cols in shape["items"]]
        out.append((t, list(problems)))
    return out


# --- bands: the indicator rows of a plan read as the reader reads them, however many ----------
#
# A banded plan is made on a sheet whose indicator rows (a band: from under the header to the
# 总分 row) hold nothing any part of the reader but the indicator row loop can see: no label of
# any template but the level-1 ones (产出指标 … are read only there) and no colon (_band_ok), no
# label split over their cells or from the two rows above into them (_joins_ok). Then every
# other part reads the rows above and below a band alike whatever it holds and however long it
# is, provided that no merge crosses its edges, that no table starts within 7 rows above it
# (_segments pairs a title and an anchor at most 6 rows apart), that no table's first rows,
# where a year is looked for, are in it, and that a header right above it is no merged group
# header (whose columns the row below names): _bands_allowed. A sheet is read by the plan where
# its rows are the plan's rows above, between and below its bands (each part compared as a
# guard compares a sheet, its rows moved) and its bands are runs of such rows; the bands' rows
# are read by the reader's own loop (extract.indicator_rows). Each banded plan is checked when
# it is made on its layout and on its layout with a row more in each band.


@functools.cache
def _band_vocabulary() -> tuple[re.Pattern, frozenset[str], int]:
    """(every label of every template but the level-1 ones, and ":", as one pattern; their
    proper prefixes, where a label split over cells starts; the longest one's length)."""
    labels = _labels({k: v for k, v in template().items() if k != "level1"})
    return (re.compile(_trie([*labels, ":"])), frozenset(lab[:i] for lab in labels for i in range(1, len(lab))),
            max(map(len, labels)))


@functools.lru_cache(maxsize=1 << 16)
def _band_ok(raw: str) -> bool:
    """Whether a text in an indicator row holds nothing but the indicator row loop looks for
    (whole: a label split over cells is looked at by _joins_ok)."""
    rx = _band_vocabulary()[0]
    return rx.search(_label_form_str(raw)) is None and rx.search(_normalize_str(raw)) is None


@functools.lru_cache(maxsize=1 << 16)
def _band_prefix(raw: str) -> bool:
    """Whether a text is where a label split over cells could start."""
    return _label_form_str(raw) in _band_vocabulary()[1]


@functools.lru_cache(maxsize=4096)
def _label_tails(text: str) -> tuple[str, ...]:
    """The ends of a text where a label could start (its tails that begin a label)."""
    prefixes, longest = _band_vocabulary()[1:]
    return tuple(text[k:] for k in range(max(0, len(text) - longest), len(text)) if text[k:] in prefixes)


@functools.lru_cache(maxsize=1 << 14)
def _starts_join(v: Any) -> bool:
    return v.__class__ is str and _band_prefix(v)


def _joins_ok(grid: Grid, start: int, end: int, under_header: bool) -> bool:
    """Whether no label is split over a band's cells, or over the two rows above it and its
    cells (the reader joins a label's first part with the one or two cells below it), and,
    with ``under_header`` (the band's first row is right under the header: the reader joins
    short texts there to the header's), no header text and a text of the first row make one."""
    rx = _band_vocabulary()[0]
    get, r0 = grid.get, grid.start[0]
    for r in range(max(r0, start - 2), end):
        row = grid.rows[r - r0]
        if r < start and not any(map(_starts_join, row)):
            continue
        if r >= start and 2 not in map(_band_cell, row) and not (under_header and r == start):
            continue  # (a band's rows hold band texts only: no label starts in this one)
        for c, v in enumerate(row, grid.start[1]):
            if v.__class__ is not str:
                continue
            if _band_prefix(v):
                joined = _label_form_str(v)
                for below in (1, 2):
                    joined += label_form(get(r + below, c))
                    if rx.match(joined) is not None:
                        if r + below >= start:
                            return False
                        break  # a label above the band, as the reader finds it
            if under_header and r == start and (tails := _label_tails(label_form(get(start - 1, c)))):
                n = _label_form_str(v)
                if len(n) <= 10 and any((m := rx.match(tail + n)) is not None and m.end() > len(tail) for tail in tails):
                    return False
    return True


@functools.lru_cache(maxsize=1 << 16)
def _band_cell(v: Any) -> int:
    """0: a text a band cannot hold; 1: anything else it can; 2: a text it can hold where a
    label split over cells could start (_joins_ok looks below it)."""
    if v.__class__ is not str:
        return 1
    if not _band_ok(v):
        return 0
    return 2 if _band_prefix(v) else 1


def _row_band_ok(row: list) -> bool:
    return all(map(_band_cell, row))


_A1_RE = re.compile(r"([A-Z]+)(\d+)")


@functools.lru_cache(maxsize=1 << 14)
def _split_a1(cell: str) -> tuple[str, int]:
    """(column letters, 0-based row) of an A1 reference; ("", -1) for none."""
    m = _A1_RE.fullmatch(cell)
    return (m.group(1), int(m.group(2)) - 1) if m else ("", -1)


def _row_of(cell: str) -> int:
    return _split_a1(cell)[1]


def _bands_allowed(g: Grid, read: list, found: list) -> bool:
    """Whether the bands the reader walked on a layout (``found``: table, first row, the row
    that ends them, header row, columns) can be any length: see the section's comment."""
    r0 = g.start[0]
    rows = [(start, end) for _, start, end, _, _ in found]
    if any(start >= end for start, end in rows):
        return False  # a band of no rows
    spans = sorted(rows)
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
        return False
    for _, start, end, header, _ in found:
        if not all(_row_band_ok(g.rows[r - r0]) for r in range(start, end)) or not _joins_ok(g, start, end, start == header + 1):
            return False
        if end < g.n_rows and _row_band_ok(g.rows[end - r0]):
            return False  # the row that ends a band must not pass for one of its rows
    merges = g.merged_ranges()
    for start, end in rows:
        if any((m[0] < start <= m[2]) or (m[0] < end <= m[2]) for m in merges):
            return False  # a merge across a band's edge
    for _, start, _, header, _ in found:
        if start == header + 1 and any(m[2] == header and m[3] > m[1] for m in merges):
            return False  # a merged group header whose columns the band's first row would name
    titles, anchors = _titles_and_anchors(_Sheet(g))
    starts = {r for r, _, _ in chain(titles, anchors)}
    if any(start - 7 <= r < start for r in starts for start, _ in rows):
        return False
    firsts = {t.first_row for t, _ in read}
    return not any(start <= r < end for s in firsts for r in range(s - 2, s + 5) for start, end in rows)


def _longer(g: Grid, bands: tuple) -> tuple[Grid, tuple[int, ...]]:
    """The layout with one more row in each band (a copy of an empty row, or of its first row
    no merge touches), the merges below moved: a check of a banded plan when it is made."""
    r0 = g.start[0]
    rows, merges, ends, added = [list(x) for x in g.rows], list(g.merged_ranges()), [], 0
    for _, start, end, *_ in bands:
        free = [r for r in range(start, end) if not any(m[0] <= r <= m[2] for m in merges)]
        copy = list(g.rows[free[0] - r0]) if free else [""] * len(g.rows[start - r0])
        rows.insert(end - r0 + added, copy)
        added += 1
        ends.append(end + added)
    moved = []
    for m in merges:
        d = sum(1 for _, _, end, *_ in bands if end <= m[0])
        moved.append(((m[0] + d, m[1]), (m[2] + d, m[3])))
    return Grid(g.name, rows, g.start, moved), tuple(ends)


def _moved(plan: _Plan, ends: tuple[int, ...]) -> _Plan:
    """The plan with the rows below each band moved to where a sheet's band ends (``ends``)."""
    key = tuple(e - b[2] for e, b in zip(ends, plan.bands))
    out = plan.moved.get(key)
    if out is not None:
        return out
    ends_here, by = [end for _, _, end, *_ in plan.bands], (0, *key)  # rows from a band's end on move by its d

    def row(r: int) -> int:
        return r + by[bisect.bisect_right(ends_here, r)]

    def cell(v: Value) -> Value:
        letters, r = _split_a1(v.cell)
        if r < 0 or row(r) == r:
            return v
        return _value((*v[:4], f"{letters}{row(r) + 1}", *v[5:]))

    positions = tuple((row(r), c) for r, c in plan.positions)
    a1s = tuple(a1(*rc) for rc in positions)
    values = [None if v is None else cell(v) for v in plan.values]
    derived = [(i, how, (row(args[0]), *args[1:]) if how in ("cut", "title", "raw", "clean") else args, cell(like))
               for i, how, args, like in plan.derived]
    titles = [((row(r), c), parts) for (r, c), parts in plan.titles]
    tables = [({**shape, "first_row": row(shape["first_row"]), "last_row": row(shape["last_row"]),
                "indicators": [(row(r), *rest) for r, *rest in shape["indicators"]]}, problems) for shape, problems in plan.tables]
    out = plan._replace(values=values, positions=positions, a1s=a1s, derived=derived, titles=titles, tables=tables)
    if len(plan.moved) >= 256:
        plan.moved.clear()
    plan.moved[key] = out
    return out


def _apply_banded(plan: _Plan, grid: Grid, raws: tuple | None, ends: tuple[int, ...]) -> list[tuple[Table, list[str]]]:
    """A banded plan's tables on a sheet whose bands end at rows ``ends``: the rest by the plan
    (its rows below a band moved), each band's rows by the reader's own loop."""
    read = _apply(_moved(plan, ends), grid, raws)
    starts, moved = [], 0
    for (_, start, end, _, _), new_end in zip(plan.bands, ends):
        starts.append(start + moved)
        moved = new_end - end
    # The bands' rows hold no label that ends the indicators (_band_ok): they are read as they
    # are, a column at a time, with no label looked for.
    sheet = _Sheet.rows_only(grid)
    for (i, _, _, how, _), start, new_end in zip(plan.bands, starts, ends):
        indicator_rows(sheet, start, new_end - 1, how, read[i][0].indicators, ending=False)
    return read


# --- guards: a sheet of a planned layout recognised without working its layout out ---------

class _Guard(NamedTuple):
    """What a sheet must hold, cell by cell in calamine's rows laid end to end, to have the
    layout of a plan: the same texts, blanks and booleans where the layout keeps them, a number
    of the same type where it has a number, a text the reader cannot take for anything but a
    value where it has a placeholder, and where it masks a label cell, a text with the same mask."""

    fixed: Callable[[list], tuple]
    fixed_values: tuple
    odd: Callable[[list], tuple]  # the kept contents that are no text (a text equals only a text)
    odd_types: tuple
    numbers: Callable[[list], tuple]
    number_types: tuple
    floats: Callable[[list], tuple]
    plain: Callable[[list], tuple]  # value texts far from any header: one placeholder each
    plain_types: tuple
    shaped: tuple[tuple[int, bool, bool, str], ...]  # value texts near a header: (index, keep head, keep tail, stand-in)
    masked: tuple[tuple[int, str, bool, str, tuple[bool, bool]], ...]  # (index, text, keep ends, mask, header flags)
    reads: Callable[[list], tuple]  # the contents of the plan's positions


def _shape(grid: Grid) -> tuple:
    return grid.start, tuple(map(len, grid.rows)), tuple(grid.merged_ranges())


def _getter(indices: list[int]) -> Callable[[list], tuple]:
    """The items at ``indices`` of a list, as a tuple (operator.itemgetter gives a bare item for one)."""
    if len(indices) > 1:
        return itemgetter(*indices)
    if indices:
        i = indices[0]
        return lambda flat: (flat[i],)
    return lambda flat: ()


def _guard(grid: Grid, layout: _Layout, positions: tuple, lo: int = 0, hi: int | None = None) -> _Guard:
    """The guard of the sheet's rows lo:hi (all of them by default) and the plan's positions there."""
    fixed, numbers, floats, plain, shaped, masked, at = [], [], [], [], [], [], {}
    r0, c0 = grid.start
    flat = list(chain.from_iterable(grid.rows[lo:hi]))
    i = 0
    for r, line in enumerate(grid.rows[lo:hi], r0 + lo):
        for c, v in enumerate(line, c0):
            k = (r, c)
            at[k] = i
            token = layout.cells.get(k, v)
            if token.__class__ is _Number:
                numbers.append(i)
                if token.type == "float":
                    floats.append(i)
            elif k not in layout.values:
                fixed.append(i)
            elif (info := _text(v)).kept:
                masked.append((i, v, any(layout.ends[k]), token, (info.header, info.starts_label)))
            elif not any(layout.ends[k]):
                plain.append(i)
            else:
                shaped.append((i, *layout.ends[k], token))
            i += 1
    get = _getter(fixed)
    odd = [i for i in fixed if type(flat[i]) is not str]
    return _Guard(get, get(flat), _getter(odd), tuple(type(flat[i]) for i in odd), _getter(numbers), tuple(type(flat[i]) for i in numbers),
                  _getter(floats), _getter(plain), (str,) * len(plain), tuple(shaped), tuple(masked),
                  _getter([at[k] for k in positions]))


@functools.lru_cache(maxsize=1 << 16)
def _inert(raw: str) -> bool:
    return not _text(raw).kept


def _admits(guard: _Guard, flat: list) -> bool:
    """Whether a sheet, its rows laid end to end, has the layout the guard was made from (its
    shape is known to be the same)."""
    got = guard.fixed(flat)
    if got != guard.fixed_values or tuple(map(type, guard.odd(flat))) != guard.odd_types:
        return False
    if tuple(map(type, guard.numbers(flat))) != guard.number_types or not isfinite(sum(guard.floats(flat), 0.0)):
        return False  # (a sum of finite numbers that overflows only sends the sheet the long way)
    texts = guard.plain(flat)
    if tuple(map(type, texts)) != guard.plain_types or not all(map(_inert, texts)):
        return False
    for i, keep_head, keep_tail, stand_in in guard.shaped:
        v = flat[i]
        if type(v) is not str or not _inert(v) or _placeholder(_text(v).norm, keep_head, keep_tail) != stand_in:
            return False
    for i, text, keep, stand_in, flags in guard.masked:
        v = flat[i]
        if v == text and type(v) is str:
            continue  # as on the sheet the guard was made from
        if type(v) is not str:
            return False
        info = _text(v)
        if not info.kept or info.piece or (info.header, info.starts_label) != flags or _mask(v, keep) != stand_in:
            return False
    return True


class _Banded(NamedTuple):
    """A banded plan with what a sheet must hold to be read by it: which of its rows could be
    band rows (_row_classes), as a pattern whose groups are the bands; per part of its rows
    (above, between and below its bands) a guard, the number of rows and their lengths, the
    merges (rows from the part's first); how the parts' reads make the plan's positions."""

    plan: _Plan
    rows: re.Pattern
    parts: tuple[tuple[_Guard, int, tuple[int, ...], frozenset], ...]
    order: Callable[[list], tuple]


def _row_classes(grid: Grid) -> bytes:
    """b"\x01" for each row that could be a band's row, b"\x00" for each other."""
    return bytes(map(_row_band_ok, grid.rows))


def _banded_guard(grid: Grid, layout: _Layout, plan: _Plan) -> _Banded:
    r0 = grid.start[0]
    edges = [r0, *chain.from_iterable((start, end) for _, start, end, *_ in plan.bands), grid.n_rows]
    merges = grid.merged_ranges()
    classes = _row_classes(grid)
    parts, laid = [], []
    for lo, hi in zip(edges[::2], edges[1::2]):
        here = [rc for rc in plan.positions if lo <= rc[0] < hi]
        laid += here
        parts.append((_guard(grid, layout, tuple(here), lo - r0, hi - r0), hi - lo, tuple(map(len, grid.rows[lo - r0:hi - r0])),
                      frozenset((a - lo, b, c - lo, d) for a, b, c, d in merges if lo <= a <= c < hi)))
    # The parts' rows as they are here, a band as a run of band rows (its end: the first other row).
    pattern = b"(\x01+)".join(re.escape(classes[lo - r0:hi - r0]) for lo, hi in zip(edges[::2], edges[1::2]))
    where = {rc: i for i, rc in enumerate(laid)}
    return _Banded(plan, re.compile(pattern), tuple(parts), _getter([where[rc] for rc in plan.positions]))


def _admit_banded(b: _Banded, grid: Grid, classes: bytes) -> tuple[tuple, tuple[int, ...]] | None:
    """(the contents of the plan's positions, where each band ends) where a sheet (its rows'
    ``classes``) has the rows of the plan's parts with runs of band rows between them, else None."""
    found = b.rows.fullmatch(classes)
    if found is None:
        return None
    rows, r0 = grid.rows, grid.start[0]
    reads, ends, edges = [], [], [r0]
    for n in range(1, len(b.parts)):
        start, end = found.span(n)
        if not _joins_ok(grid, r0 + start, r0 + end, b.plan.bands[n - 1][4]):
            return None
        ends.append(r0 + end)
        edges.append(r0 + end)
    for (guard, count, lengths, _), edge in zip(b.parts, edges):
        part = rows[edge - r0:edge - r0 + count]
        if tuple(map(len, part)) != lengths:
            return None
        flat = list(chain.from_iterable(part))
        if not _admits(guard, flat):
            return None
        reads += guard.reads(flat)
    # Each merge within one part (where the plan has it) or within one band.
    merges: list[set] = [set() for _ in b.parts]
    for m in grid.merged_ranges():
        n = bisect.bisect_right(edges, m[0]) - 1
        if n < 0:
            return None
        lo = edges[n]
        if m[2] < lo + b.parts[n][1]:
            merges[n].add((m[0] - lo, m[1], m[2] - lo, m[3]))
        elif m[0] < lo + b.parts[n][1] or n + 1 < len(edges) and m[2] >= edges[n + 1]:
            return None  # across a part's edge, or from a band into the next part
    if any(got != part[3] for got, part in zip(merges, b.parts)):
        return None
    return b.order(reads), tuple(ends)


_plans: dict[tuple, _Plan | None] = {}  # by layout
_guarded: dict[tuple, list[tuple[_Guard, _Plan]]] = {}  # by shape: the plans with the guards that let a sheet use them
_seen: set[tuple] = set()
_banded: dict[tuple, list[_Banded]] = {}  # by first cell and width
_folds: dict[tuple, bool] = {}  # layouts without their band rows: seen once (False), or a banded plan tried (True)
_GUARDS_A_SHAPE = 8
_MAX_CELLS = 20_000  # a larger sheet is read in full: its layout would be kept whole (a unit's has a few thousand)


def forget() -> None:
    """Drop every plan and what they rest on (another rules directory: other labels)."""
    _plans.clear()
    _guarded.clear()
    _seen.clear()
    _banded.clear()
    _folds.clear()
    for cached in (_vocabulary, _text, _inert, _placeholder, _mask, _settled, _band_vocabulary, _band_ok, _band_prefix, _band_cell, _split_a1, _label_tails, _starts_join):
        cached.cache_clear()


def _plan_of(grid: Grid, shape: tuple, guards: int) -> _Plan | None:
    """The plan of the sheet's layout, worked out: made the second time a layout is seen, and
    given a guard for the sheet's shape."""
    layout = _layout(grid)
    plan = _plans.get(layout.key)
    if plan is None and layout.key not in _plans:
        if layout.key not in _seen:
            if len(_seen) >= 4 * _MAX_PLANS:
                _seen.clear()
            _seen.add(layout.key)
            _fold(grid, layout)
            return None
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
            _guarded.clear()
        plan = _plans[layout.key] = _record(grid, layout)
    if plan is not None and guards < _GUARDS_A_SHAPE:
        if len(_guarded) >= 4 * _MAX_PLANS:
            _guarded.clear()
        _guarded.setdefault(shape, []).append((_guard(grid, layout, plan.positions), plan))
    return plan


def _fold(grid: Grid, layout: _Layout) -> None:
    """A banded plan made the second time a layout is seen without its runs of band rows (of
    any length and content): the first time a sheet of the template with other indicator rows
    comes."""
    family = (grid.start, grid.n_cols)  # (the reader reads nothing from the name)
    if len(_banded.get(family, ())) >= _GUARDS_A_SHAPE:
        return
    r0, c0 = grid.start
    folded, run = [], False
    for r, row in enumerate(grid.rows, r0):
        if _row_band_ok(row):
            if not run:
                folded.append(None)
            run = True
        else:
            run = False
            folded.append(tuple(layout.cells.get((r, c), v) for c, v in enumerate(row, c0)))
    key = (*family, tuple(folded))
    if key not in _folds:
        if len(_folds) >= 4 * _MAX_PLANS:
            _folds.clear()
        _folds[key] = False
    elif not _folds[key]:
        _folds[key] = True
        plan = _record(grid, layout, banded=True)
        if plan is not None:
            if len(_banded) >= _MAX_PLANS:
                _banded.clear()
            _banded.setdefault(family, []).append(_banded_guard(grid, layout, plan))


def sheet_tables(grid: Grid) -> list[tuple[Table, list[str]]]:
    """Every table on a sheet with the labels it lacks: by the plan of its layout where there
    is one, else read in full. A sheet a guard admits skips working its layout out."""
    if not _PlanStats.enabled:
        return read_sheet(grid)
    plan = raws = None
    if grid.n_rows * grid.n_cols <= _MAX_CELLS:
        shape = _shape(grid)
        guarded = _guarded.get(shape, ())
        if guarded:
            flat = list(chain.from_iterable(grid.rows))
            guard, plan = next(((g, p) for g, p in guarded if _admits(g, flat)), (None, None))
            if guard is not None:
                raws = guard.reads(flat)
        if plan is None:
            family = _banded.get((grid.start, grid.n_cols), [])
            classes = _row_classes(grid) if family else b""
            for at, banded in enumerate(family):
                got = _admit_banded(banded, grid, classes)
                if got is not None:
                    try:
                        read = _apply_banded(banded.plan, grid, *got)
                    except _Mismatch:
                        break
                    if at:  # the plan last used tried first (a unit's project sheets come together)
                        family.insert(0, family.pop(at))
                    _PlanStats.hits += len(read)
                    return read
            else:
                plan = _plan_of(grid, shape, len(guarded))
    if plan is not None:
        try:
            read = _apply(plan, grid, raws)
        except _Mismatch:
            pass
        else:
            _PlanStats.hits += len(read)
            return read
    read = read_sheet(grid)
    _PlanStats.misses += len(read)
    return read
