"""Template-anchored extraction: find the standard tables in a workbook's sheets by their
labels and read every value next to its label, keeping the cell it came from.

Nothing here depends on sheet names, sheet order or fixed coordinates: a table starts at
its anchor label (项目支出名称, 财政供养人员情况 …) or title, column positions come from
the header texts of each block (joined over two rows when a header is split), and rows
from their labels. The labels live in rules/template.yaml.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import operator
import re
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

from .catalog import load_yaml, make_finding, rules_dir
from .model import KIND_NAMES, BaseItem, Finding, Indicator, Table, Value, Workbook, table_name
from .reading import Grid, a1, read_grids
from .values import clean_text, label_form, normalize, parse, parse_indicator, strip_code

__all__ = ["extract_workbook", "extract_grids", "template", "level1_of", "use_plans", "plan_counts"]

_new_value = tuple.__new__  # Value(...) without the NamedTuple's Python-level __new__
_YEAR_RE = re.compile(r"[(\[【〔]?((?:19|20)\d{2})年度?[)\]】〕]?")
_FILE_YEAR_RE = re.compile(r"(?<!\d)(20\d{2})(?:年|(?!\d))")
# Where a title's unit name ends: the table's own name starts there.
_TITLE_NAME_START = re.compile(r"部门整体|整体支出|项目支出|部门预算|预算项目|部门项目|项目绩效|绩效自评|绩效评价")
_TITLE_PREFIX = re.compile(r"^附[件表]?[0-9一二三四五六七八九十]*[:-]?")
# "青神县发展和改革局本级", "大英县司法局部门": the department itself, as the budget system names it.
_DEPARTMENT_SUFFIX = re.compile(r"(?<=[局委办院厅府会处站所署校心])(?:本级|部门)$")
# "银川市本级部门项目支出绩效自评表": a title naming a level of government (市本级, 县本级), not a unit.
_LEVEL_ONLY = re.compile(r"\w{0,10}[省市县区州旗盟]本级")
_NAME_EDGES = ":;,.-_·、 ：；，。"  # stray punctuation at a name's ends (brackets only when unbalanced)
_WEIGHT_RE = re.compile(r"(\d+(?:\.\d+)?)分")



def _norm_list(items: list[str]) -> list[str]:
    # Labels in their label form, as cells are compared; longest first, so "年度指标值" wins
    # over "指标值", and in the order listed among equal lengths (a set's order would change
    # from run to run with the hash seed).
    return sorted(dict.fromkeys(f for f in map(label_form, items) if f), key=len, reverse=True)


_extra_rules_dir: str | None = None


class _PlanStats:
    """Table blocks read by a plan (hits) or in full (misses) in this process."""

    enabled = True
    hits = 0
    misses = 0


def use_plans(enabled: bool) -> None:
    """Turn extraction plans on or off (off: every block is read in full, as a reference)."""
    _PlanStats.enabled = enabled


def plan_counts() -> tuple[int, int]:
    """(blocks read by a plan, blocks read in full) in this process so far."""
    return _PlanStats.hits, _PlanStats.misses


def use_rules_dir(extra_dir: str | None) -> None:
    """Read with the labels of the profiles in ``extra_dir`` too (--rules-dir)."""
    global _extra_rules_dir
    if extra_dir != _extra_rules_dir:
        _extra_rules_dir = extra_dir
        for cached in (template, _landmark_labels, _kind_labels, _funds_layout, _level1):
            cached.cache_clear()
        _MATCHERS.clear()
        from .plans import forget

        forget()


@functools.cache
def _template_as_written() -> dict[str, Any]:
    """rules/template.yaml as written, read once (never changed: template() builds new lists)."""
    return load_yaml(rules_dir() / "template.yaml")


def _named(*path: str) -> str:
    """The first spelling of a label list of rules/template.yaml, as written there
    ("预算部门(单位)名称"): how a finding names a label a table lacks."""
    node = _template_as_written()
    for key in path:
        node = node[key]
    return node[0]


def _merge(into: Any, extra: Any) -> Any:
    """A profile's `labels:` added to the template: lists extended, mappings merged."""
    if isinstance(into, dict) and isinstance(extra, dict):
        return {**into, **{k: _merge(into.get(k), v) for k, v in extra.items()}}
    if isinstance(into, list) and isinstance(extra, list):
        return into + [x for x in extra if x not in into]
    return extra if extra is not None else into


@functools.cache
def template() -> dict[str, Any]:
    """rules/template.yaml plus every profile's `labels:`, with every label in label form.
    All templates' spellings are used together: a workbook is read before its profile is
    known, and spellings of different templates never contradict each other."""
    raw = _template_as_written()
    dirs = [rules_dir() / "profiles"] + ([Path(_extra_rules_dir)] if _extra_rules_dir else [])
    for path in sorted(p for d in dirs for p in d.glob("*.yaml")):
        labels = load_yaml(path).get("labels")
        if isinstance(labels, dict):
            raw = _merge(raw, labels)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list) and all(isinstance(x, str) for x in node):
            return _norm_list(node)
        return node

    return walk(raw)


def level1_of(text: Any) -> tuple[str, float | None]:
    """("output", 40.0) for "产出指标(40分)"; brackets of any width, closed or not."""
    n = label_form(text)
    key = ""
    for k, labels in template()["level1"].items():
        if any(n.startswith(lab) for lab in labels):
            key = k
            break
    m = _WEIGHT_RE.search(normalize(text))
    return key, float(m.group(1)) if m else None


_MATCHERS: dict[int, tuple[list[str], re.Pattern, frozenset[str]]] = {}


def _matcher(labels: list[str]) -> tuple[re.Pattern, frozenset[str]]:
    """One compiled alternation per label list (longest first), and the proper prefixes
    of its labels, which is where a label split over cells starts."""
    hit = _MATCHERS.get(id(labels))
    if hit is None or hit[0] is not labels:
        pattern = re.compile("|".join(map(re.escape, labels)))
        prefixes = frozenset(lab[:i] for lab in labels for i in range(1, len(lab)))
        hit = _MATCHERS[id(labels)] = (labels, pattern, prefixes)
    return hit[1], hit[2]


def _label_length(n: str, end: int) -> int:
    """How long a cell's label is: the text before its colon when the label stands there
    ("单位名称:北京市海淀区学院路街道城市运行服务中心" is a label and its value), else all of it."""
    head = n.find(":")
    return head if 0 <= end - 1 < head else len(n)


class _Sheet:
    """A grid of one file with label look-ups. The label form of every text cell is computed
    once, and labels are found by one regex pass over the sheet's joined label forms (NUL
    between cells), not by one search per cell."""

    def __init__(self, grid: Grid, recipes: dict[int, tuple[tuple, Value]] | None = None, bands: list | None = None) -> None:
        self.grid = grid
        self.name = grid.name
        # While a plan is recorded (plans.py): how each value was read, by the value's id, and
        # each indicator block's rows (table, first row, the row that ends it, header row, columns).
        self.recipes = recipes
        self.bands = bands
        tails = self._tails = grid._anchor
        self._cells = grid.cells
        keys = [(r, c) for r, line in grid.by_row.items() for c, v in line if type(v) is str and (r, c) not in tails]
        # Cell by cell through label_form()'s cache: most texts are labels every workbook repeats.
        norms = [label_form(grid.cells[k]) for k in keys]
        self._keys = keys
        self._norms = norms
        self._norm: dict[tuple[int, int], str] = dict(zip(keys, norms))
        # Offsets come from the lengths, so a NUL inside a cell (an .xls may hold one) cannot
        # shift them; no label contains one, so no match spans two cells.
        self._text = "\x00".join(norms)
        self._starts = list(itertools.accumulate((len(n) + 1 for n in norms[:-1]), initial=0))
        self._found: dict[int, dict[tuple[int, int], str]] = {}

    @classmethod
    def rows_only(cls, grid: Grid) -> _Sheet:
        """A sheet whose known rows are read a column at a time (plans.py reads indicator rows
        so, with ``ending=False``): no labels looked for, no ``cells`` made."""
        sheet = cls.__new__(cls)
        sheet.grid, sheet.name, sheet.recipes, sheet.bands, sheet._tails = grid, grid.name, None, None, grid._anchor
        return sheet

    def norm(self, r: int, c: int) -> str:
        """The label form of a cell (a merged cell's for each of its cells)."""
        key = self._tails.get((r, c), (r, c))
        n = self._norm.get(key)
        if n is None:
            v = self._cells.get(key)
            n = self._norm[key] = "" if v is None else label_form(v)
        return n

    def text(self, r: int, c: int) -> str:
        """A cell's whole text, normalize()d: for labels followed by their value in one cell."""
        return normalize(self._cells.get(self._tails.get((r, c), (r, c))))

    def value(self, r: int, c: int, kind: str) -> Value:
        """The cell as a value of ``kind`` (column() of one row)."""
        return self.column(range(r, r + 1), c, kind)[0]

    def column(self, rows: range, c: int, kind: str) -> list[Value]:
        """Column ``c`` of each of ``rows`` as values of ``kind``, read straight from calamine's
        rows (no ``cells`` needed); a merged cell reads as its merge's first cell. The hot path
        of reading indicator rows, and told to a plan being recorded."""
        grid, name, tails, recipes, new = self.grid, self.name, self._tails, self.recipes, _new_value
        (r0, c0), dense = grid.start, grid.rows
        out = []
        for r in rows:
            origin = tails.get((r, c))
            if origin is None:
                line = dense[r - r0] if 0 <= r - r0 < len(dense) else ()
                raw = line[c - c0] if 0 <= c - c0 < len(line) else None
                cell = a1(r, c)  # (shared strings: a workbook holds thousands of references)
            else:
                raw, cell = grid.get(*origin), a1(*origin)
            if raw is None or raw == "":
                v = new(Value, (None, None, "blank", name, cell, kind, 0.0))
            else:
                value, status, tol = parse(kind, raw)
                v = new(Value, (raw, value, status, name, cell, kind, tol))
            if recipes is not None:
                recipes[id(v)] = (("cell", *(origin or (r, c)), kind), v)
            out.append(v)
        return out

    def cut(self, r: int, c: int, where: tuple, kind: str = "text") -> Value:
        """A value cut out of a cell's text ("填报日期：2024.4.15"), where _span says."""
        text = self.text(r, c)
        i, j = _span(text, where)
        raw = text[i:j]
        p = parse(kind, raw)
        v = Value(raw, p.value, p.status, self.name, a1(r, c), kind, p.tol)
        if self.recipes is not None:
            self.recipes[id(v)] = (("cut", r, c, where, kind), v)
        return v

    def derived(self, v: Value, recipe: tuple) -> Value:
        """``v``, made from a cell's text otherwise (a title's unit, a label's weight): told to
        the plan being recorded."""
        if self.recipes is not None:
            self.recipes[id(v)] = (recipe, v)  # the value kept alive: its id names nothing else meanwhile
        return v

    def cells_in(self, r0: int, r1: int):
        for r in range(r0, r1 + 1):
            for c, v in self.grid.row_values(r):
                yield r, c, v

    def first_matches(self, pattern: re.Pattern) -> list[tuple[tuple[int, int], str, re.Match, int]]:
        """(cell, its label form, first match in it, where the cell starts in the joined text)
        of every text cell the pattern matches, in reading order: what pattern.search would give
        cell by cell, from one pass (no label contains the separator)."""
        out = []
        last = -1
        for m in pattern.finditer(self._text):
            i = bisect.bisect_right(self._starts, m.start()) - 1
            if i != last:
                out.append((self._keys[i], self._norms[i], m, self._starts[i]))
                last = i
        return out

    def labels(self, labels: list[str]) -> dict[tuple[int, int], str]:
        """Every text cell that is (or starts) one of the labels, with that label, in reading
        order. A label is the cell's whole text give or take a few characters (a sentence that
        mentions it is not a label); a label split over two or three cells of one column
        ("项目支" / "出名称") is found at its first cell."""
        found = self._found.get(id(labels))
        if found is not None:
            return found
        pattern, prefixes = _matcher(labels)
        hits = {cell: m.group() for cell, n, m, at in self.first_matches(pattern) if _label_length(n, m.end() - at) <= m.end() - m.start() + 8}
        if not prefixes.isdisjoint(self._norms):
            for (r, c), n in zip(self._keys, self._norms):
                if n in prefixes and (r, c) not in hits:
                    joined = n
                    for below in (1, 2):
                        joined += self.norm(r + below, c)
                        m = pattern.match(joined)
                        if m:
                            hits[(r, c)] = m.group()
                            break
        found = self._found[id(labels)] = dict(sorted(hits.items()))  # (row, col) order is reading order
        return found

    def landmarks(self, r0: int, r1: int) -> dict[str, list[tuple[int, int]]]:
        """Where each labelled part (rules/template.yaml) is in rows r0..r1: group -> cells in
        reading order. Only field labels and 执行数 headers ("全年" above "执行数") may be split
        over cells (as in real filings)."""
        group_of, labels = _landmark_labels()
        found: dict[str, list[tuple[int, int]]] = {}
        for (r, c), label in self.labels(labels).items():
            if r < r0 or r > r1:
                continue
            group = group_of[label]
            if len(self._norm[(r, c)]) < len(label) and not group.startswith(("field:", "funds_executed")):
                continue
            found.setdefault(group, []).append((r, c))
        return found

    def first(self, marks: dict[str, list[tuple[int, int]]], group: str, from_row: int = 0) -> tuple[int, int] | None:
        return next((rc for rc in marks.get(group, ()) if rc[0] >= from_row), None)

    def right_of(self, r: int, c: int, kind: str, stop: set[str]) -> Value:
        """The value of a label at (r, c): the next non-empty cell to the right, not itself a
        label; the cell just right of the label when the value is blank."""
        _, _, _, c_end = self.grid.span(r, c)
        for cc, _v in self.grid.row_values(r):
            if cc <= c_end:
                continue
            if any(lab in self.norm(r, cc) for lab in stop):
                break
            return self.value(r, cc, kind)
        if self.text(r, c).endswith(":"):
            # "填报日期：" with nothing after it: the cell itself is where the value belongs
            return _new_value(Value, (None, None, "blank", self.name, a1(*self.grid.origin(r, c)), kind, 0.0))
        return self.value(r, c_end + 1, kind)

    def inline_value(self, r: int, c: int, labels: list[str], kind: str) -> Value | None:
        """The value written after one of the labels in the label's own cell
        ("单位名称:区商务局", "单位(盖章):绥阳县太白镇人民政府"), or None."""
        text = self.text(r, c)
        head, colon, rest = text.partition(":")
        if not colon or not rest or label_form(head) not in labels:
            return None
        footer = template()["footer"]
        return self.cut(r, c, ("colon", False, footer["stop"] + footer["filer"] + footer["date"]), kind)

    def header_columns(self, r: int, columns: dict[str, list[str]], table: Table) -> tuple[dict[str, int], int]:
        """Column of each header key in the header starting at row r, and the header's depth
        (2 when headers are split over two rows, "年初" above "预算数")."""
        grid = self.grid
        texts = []  # (col, text of row r, text of rows r and r+1 joined)
        below = {c: v for c, v in grid.row_values(r + 1)}
        spanned = {c for r0, c0, r1, _c1 in grid.merged_ranges() if r0 <= r <= r1 for c in range(c0, _c1 + 1)}
        for c in sorted({c for c, _ in grid.row_values(r)} | below.keys() | spanned):
            one = self.norm(r, c)
            # A number under a header (the first data row) cannot complete a label, nor can a
            # sentence ("执行率*该指标分值,…" under 得分计算方法): a label split over rows is short.
            sub = self.norm(r + 1, c) if type(below.get(c)) is str else ""
            sub = sub if len(sub) <= 10 else ""
            _, c0, r1, c1 = grid.span(r, c)
            if sub and c1 > c0 and r1 == r and all(type(below.get(cc)) is str for cc in range(c0, c1 + 1)):
                # A header over several columns ("年度指标值" over 指标性质 | 指标值 | 度量单位):
                # the row below, split into one cell a column, names each column.
                texts.append((c, "", sub))
            else:
                texts.append((c, one, one + sub))
        found: dict[str, int] = {}
        depth = 1
        # A header that is exactly a label wins over one that only contains a label
        # (Sichuan's "年度预算数" group header contains 预算数 but is no column).
        for exact in (True, False):
            for key, labels in columns.items():
                if key in found:
                    continue
                pattern = _matcher(labels)[0]
                match = pattern.fullmatch if exact else pattern.search
                for c, one, two in texts:
                    if c in found.values():
                        continue
                    if match(one):
                        found[key] = c
                        break
                    if match(two):
                        found[key] = c
                        depth = 2
                        break
        if any(grid.origin(r + 1, c)[0] == r for c in found.values()):
            depth = 2  # a header cell merged down over two rows
        table.headers.update(self.norm(r, c) for c in found.values())
        return found, depth


def _title_of(grid: Grid, r: int, c: int) -> tuple[str, int | None, str]:
    """(title text, fiscal year, unit) of a title cell: "2023年度株洲市…中心项目支出绩效自评表",
    "部门预算项目支出绩效自评表(2023年度)", "附件2：XX局2022年度部门整体支出绩效自评表". The
    unit is "" when the title names none or only a level of government ("银川市本级"); never a
    bracket or a stray character."""
    text = clean_text(grid.get(r, c))
    n = _TITLE_PREFIX.sub("", normalize(text))
    m = _YEAR_RE.search(n)
    year = int(m.group(1)) if m else None
    if m:
        n = n[: m.start()] + n[m.end():]
    cut = _TITLE_NAME_START.search(n)
    unit = _clean_name(n[: cut.start()]) if cut else ""
    return text, year, "" if _LEVEL_ONLY.fullmatch(unit) else unit


@functools.lru_cache(maxsize=4096)  # a unit's name recurs in each of its tables
def _clean_name(text: str) -> str:
    """A unit or project name as written, without a code before it, 盖章 notes and stray
    punctuation at its ends; "" when no name is left (a lone bracket is no name)."""
    name = strip_code(text.strip())
    name = re.sub(r"[(（][^()（）]*盖章[^()（）]*[)）]|盖章", "", name)
    while True:
        name = name.strip(_NAME_EDGES)
        opened, closed = name.count("(") + name.count("（"), name.count(")") + name.count("）")
        if name[:1] in "(（" and opened > closed:
            name = name[1:]
        elif name[-1:] in ")）" and closed > opened:
            name = name[:-1]
        else:
            break
    return name if len(name) >= 2 and not name.isdigit() else ""


def _year_near(sheet: _Sheet, r0: int, r1: int) -> tuple[int, int, int] | None:
    """A fiscal year written on its own near the top of a table, "(2022年度)" under the title,
    a title above the table's first label that names no table ("绩效目标自评表(2022年度)"),
    or "年度：2022" in the header area: (year, row, col)."""
    for r in [*range(r0, min(r1, r0 + 4) + 1), r0 - 1, r0 - 2]:
        for c, v in sheet.grid.row_values(r):
            if type(v) is not str:
                continue
            text = normalize(v)
            m = _YEAR_RE.search(text)
            if m and (m.group().endswith((")", "]", "】", "〕")) or len(text) <= m.end() - m.start() + 6):
                return int(m.group(1)), r, c
    return None


@functools.cache
def _landmark_labels() -> tuple[dict[str, str], list[str]]:
    """Every label a table part is found by, in one list (longest first), with its group."""
    tpl = template()
    groups = {
        "rate": tpl["funds"]["columns"]["rate"], "funds_executed": tpl["funds"]["columns"]["executed"],
        "goals": tpl["goals"], "level1": tpl["indicators"]["columns"]["level1"],
        "staff": tpl["base"]["staff"]["authorized"], "expense_header": tpl["base"]["expense_header"],
        **{f"field:{k}": v for k, v in tpl["fields"].items()},
    }
    group_of: dict[str, str] = {}
    for group, labels in groups.items():
        for lab in labels:
            group_of.setdefault(lab, group)
    return group_of, sorted(group_of, key=len, reverse=True)


@functools.cache
def _kind_labels() -> tuple[dict[str, str], list[str], dict[str, str], list[str]]:
    """Title and anchor labels of all kinds in one list each (longest first), with the kind
    each label names: one regex search a cell instead of one a kind."""
    tpl = template()
    out = []
    for group in ("titles", "anchors"):
        kind_of = {lab: kind for kind, labels in tpl[group].items() for lab in labels}
        out += [kind_of, sorted(kind_of, key=len, reverse=True)]
    return tuple(out)


def _titles_and_anchors(sheet: _Sheet) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    """(row, col, kind) of every title and of every anchor label on a sheet, in reading order."""
    title_kind, title_labels, anchor_kind, anchor_labels = _kind_labels()
    title_rx = _matcher(title_labels)[0]
    # A title is a long text (a label is short); a cell that holds a title is not an anchor.
    titles = [(*cell, title_kind[m.group()]) for cell, n, m, _ in sheet.first_matches(title_rx) if len(n) >= 7]
    in_title = {(r, c) for r, c, _ in titles}
    anchors = [(r, c, anchor_kind[label]) for (r, c), label in sheet.labels(anchor_labels).items() if (r, c) not in in_title]
    return titles, anchors


def _segments(sheet: _Sheet) -> list[tuple[str, int, int, tuple[int, int] | None]]:
    """(kind, first_row, last_row, title_cell) of every table on a sheet."""
    last = sheet.grid.n_rows - 1
    titles, anchors = _titles_and_anchors(sheet)
    starts: list[tuple[int, str, tuple[int, int] | None]] = []
    used_titles: set[tuple[int, int]] = set()
    prev_row, prev_kind = -1, ""
    for r, _c, kind in sorted(anchors):
        if kind == "base" and prev_kind == "base":
            prev_row = r
            continue  # 财政供养人员情况 and 经费控制情况 belong to one 基础数据表
        title = next(
            ((tr, tc) for tr, tc, tk in reversed(titles) if prev_row < tr < r and r - tr <= 6 and tk == kind),
            None,
        )
        if title:
            used_titles.add(title)
        starts.append((title[0] if title else r, kind, title))
        prev_row, prev_kind = r, kind
    # A title without its anchor label still starts a table (the label is reported missing).
    for tr, tc, tk in titles:
        if (tr, tc) not in used_titles and not any(s <= tr <= s + 6 for s, _, _ in starts):
            starts.append((tr, tk, (tr, tc)))
    starts.sort()
    out = []
    for i, (row, kind, title) in enumerate(starts):
        end = starts[i + 1][0] - 1 if i + 1 < len(starts) else last
        out.append((kind, row, end, title))
    return out


def _footer(sheet: _Sheet, r0: int, r1: int, table: Table) -> None:
    """填表人 and 填报日期: in one cell ("填表人：肖宏 填报日期：2024.4.15 …") or beside their
    labels. The footer is the last thing of a table, so rows are read from the bottom up."""
    tpl = template()["footer"]
    stop = tpl["stop"] + tpl["filer"] + tpl["date"]
    wanted = {"filer": "text", "date": "date"}
    for r in range(r1, r0 - 1, -1):
        for c, v in sheet.grid.row_values(r):
            if type(v) is not str:
                continue
            n = sheet.text(r, c)
            for key in [k for k in wanted if k not in table.fields]:
                lab = next((lab for lab in tpl[key] if lab in n), None)
                if lab is None:
                    continue
                where = ("footer", lab, stop)
                i, j = _span(n, where)
                if j > i:
                    table.fields[key] = sheet.cut(r, c, where, wanted[key])
                else:
                    table.fields[key] = sheet.right_of(r, c, wanted[key], set(stop))
        if all(k in table.fields for k in wanted):
            return


def _span(text: str, where: tuple) -> tuple[int, int]:
    """Where a value written in a label's own cell lies in its normalize()d text: after the
    first colon (("colon", False, stop labels): "单位名称:区商务局"), after the first one past a
    leading 其中: (("colon", True, ()): "其中:基本支出:1349.16"), or after a footer label and its
    colons (("footer", label, stop labels)); up to the first stop label after it, if any
    ("项目单位(盖章):黄石市第三中学 主要领导签字:")."""
    if where[0] == "colon":
        _, after_qizhong, stop = where
        body = text.removeprefix("其中:") if after_qizhong else text
        rest = body.partition(":")[2]
    else:
        _, lab, stop = where
        rest = text.split(lab, 1)[1].lstrip(":")
    start = len(text) - len(rest)
    for other in stop:
        cut = rest.find(other)
        if cut >= 0:
            rest = rest[:cut]
    return start, start + len(rest)


_FUNDS_KINDS = {"rate": "rate", "weight": "score", "score": "score"}


@functools.cache
def _funds_layout() -> tuple[re.Pattern, dict[str, str], re.Pattern]:
    """What ends the funds block (the goals or indicators header), funds row label -> key,
    and one pattern of all row labels (longest first) for labels with words around them."""
    tpl = template()
    ends = re.compile("|".join(map(re.escape, tpl["goals"] + tpl["indicators"]["columns"]["level1"])))
    row_key: dict[str, str] = {}
    for key, labels in tpl["funds"]["rows"].items():
        for lab in labels:
            row_key.setdefault(lab, key)
    return ends, row_key, re.compile("|".join(map(re.escape, sorted(row_key, key=len, reverse=True))))


_YUAN = re.compile(r"(?<!万)元\)|单位:元(?![\u4e00-\u9fff])")  # "项目资金(元)": amounts in 元, not 万元


def _funds(sheet: _Sheet, r0: int, r1: int, table: Table, problems: list[str], marks) -> int:
    """The 项目资金 / 年度预算申请 block; returns the row after it."""
    tpl = template()["funds"]
    # The header is found by its 执行率, or where a template has none (the rate is B/A), by its 执行数.
    at = sheet.first(marks, "rate") or sheet.first(marks, "funds_executed")
    if at is None:
        problems.append("执行率")
        return r0
    hr = at[0]
    cols, depth = sheet.header_columns(hr, tpl["columns"], table)
    first_value_col = min(cols.values())
    yuan = any(_YUAN.search(sheet.text(rr, c)) for rr in (hr - 1, hr) for c, _ in sheet.grid.row_values(rr) if c < first_value_col)
    amount = "amount_yuan" if yuan else "amount"
    r = hr + depth
    ends, row_key, row_rx = _funds_layout()
    while r <= r1:
        line = sheet.grid.row_values(r)
        if any(type(v) is str and ends.match(sheet.norm(r, c)) for c, v in line):  # labels are text
            break
        for c, v in line:
            if c >= first_value_col:
                break
            if type(v) is not str:
                continue
            n = sheet.norm(r, c)
            if ":" in n:
                continue  # a "按收入性质分：…" breakdown cell, not a funds row
            key = row_key.get(n)
            if key is None and (m := row_rx.search(n)) and len(n) <= len(m.group()) + 6:
                key = row_key[m.group()]  # "本年一般公共预算拨款", "年度财政资金总额"
            if key and f"{key}.label" not in table.fields:
                table.fields[f"{key}.label"] = sheet.value(r, c, "text")
                for col_key, col in cols.items():
                    table.fields[f"{key}.{col_key}"] = sheet.value(r, col, _FUNDS_KINDS.get(col_key, amount))
                break
        r += 1
    if "funds_total.label" not in table.fields:
        problems.append("年度资金总额")
    return r


def _breakdown(sheet: _Sheet, r0: int, r1: int, table: Table) -> None:
    for r, c, _v in sheet.cells_in(r0, r1):
        text = sheet.text(r, c)
        label, colon, rest = text.removeprefix("其中:").partition(":")
        if not colon:
            continue
        label = label_form(label)
        for key, labels in template()["breakdown"].items():
            if label in labels and key not in table.fields:
                table.fields[key] = sheet.cut(r, c, ("colon", True, ()), "amount")
                break


def _goals(sheet: _Sheet, r0: int, r1: int, table: Table, marks) -> None:
    at = sheet.first(marks, "goals", r0)
    if at is None:
        return
    header = sheet.grid.row_values(at[0])
    cols = [c for c, _ in header if c > at[1]][:2]
    if len(cols) < 2:
        return
    r = at[0] + 1
    level1 = template()["indicators"]["columns"]["level1"]
    while r <= r1 and not any(lab in sheet.norm(r, c) for c, _ in sheet.grid.row_values(r) for lab in level1):
        exp, act = sheet.value(r, cols[0], "text"), sheet.value(r, cols[1], "text")
        if exp.present or act.present:
            table.goals.append((exp, act))
        r += 1


def _indicators(sheet: _Sheet, r0: int, r1: int, table: Table, problems: list[str], marks) -> None:
    tpl = template()["indicators"]
    at = sheet.first(marks, "level1", r0)
    if at is None:
        problems.append("一级指标")
        return
    cols, depth = sheet.header_columns(at[0], tpl["columns"], table)
    # 一级指标 merged sideways over 二级指标 reads as a group header that the first indicator
    # row names column by column: its own column is still where the label was found.
    cols.setdefault("level1", at[1])
    if "level3" not in cols:
        problems.append(_named("indicators", "columns", "level3"))
        return
    # The block's header, where rules that judge a block as a whole (S206) look for the table:
    # one whose header was not read has R006 instead.
    table.fields["indicators.header"] = sheet.value(at[0], at[1], "text")
    # Some templates score nothing per indicator (a county's 专项资金 table): without a 得分
    # column there is no 总分 row to expect either. Hubei's 项目自评表 has 得分 but no 分值
    # column: its weights are only in the block labels.
    scored = "score" in cols
    if "weight" in cols and not scored:
        problems.append(_named("indicators", "columns", "score"))  # weights to score against, but no 得分 column
    _block_label(sheet, at[0], cols["level1"], table)
    first_col = min(cols.values())
    columns = tuple((cols.get(k), kind) for k, kind in (
        ("level3", "text"), ("target", "text"), ("actual", "text"), ("weight", "score"), ("score", "score"), ("reason", "text")))
    table.target_columns = cols.get("target_op"), cols.get("target_unit")
    score_edge = min((cols[k] for k in ("weight", "score") if k in cols), default=first_col + 1)
    how = IndicatorColumns(cols["level1"], cols.get("level2"), first_col, score_edge, columns, *table.target_columns)
    start = at[0] + depth
    end, total_at = indicator_rows(sheet, start, r1, how, table.indicators)
    if sheet.bands is not None:
        sheet.bands.append((table, start, end, at[0], how))
    if total_at is not None:
        table.fields["score_total.label"] = sheet.value(end, total_at, "text")
        for key in ("weight", "score"):
            if key in cols:
                table.fields[f"score_total.{key}"] = sheet.value(end, cols[key], "score")
        return
    if scored:
        problems.append("总分")


class IndicatorColumns(NamedTuple):
    """What an indicator block's header says about its rows: the level-1 and level-2 columns,
    the first column, where weights start, (column, kind) of level 3 … reason, and the
    columns of a target written over 指标性质 | 指标值 | 度量单位."""

    level1: int
    level2: int | None
    first: int
    score_edge: int
    columns: tuple
    op: int | None
    unit: int | None


def indicator_rows(sheet: _Sheet, start: int, r1: int, how: IndicatorColumns, out: list, ending: bool = True) -> tuple[int, int | None]:
    """The indicator rows from ``start`` to the block's end, each appended to ``out``: (the row
    that ends the block, the column of its 总分 label or None). The row that ends it is a 总分
    row, a 填表人/备注/说明 row or r1 + 1; ``ending=False``: rows known to hold none of those
    labels (plans.py reads such rows), not looked at for them."""
    c1, c2, first_col, score_edge, columns, op_col, unit_col = how
    end, total_at = _block_end(sheet, start, r1, first_col, score_edge) if ending else (r1 + 1, None)
    rows = range(start, end)
    # Column by column (the hot path of reading indicators); a merged label is taken once,
    # from the first row it covers (each row's value of it names the merge's anchor cell).
    blank = Value(None, None, "blank", sheet.name, "", "text")
    level1s = sheet.column(rows, c1, "text")
    level2s = sheet.column(rows, c2, "text") if c2 is not None else [blank] * len(rows)
    cells = [sheet.column(rows, c, kind) if c is not None else [blank] * len(rows) for c, kind in columns]
    l1_val = l2_val = None
    key, weight = "", None
    for r, l1, l2, level3, target, actual, weight_v, score, reason in zip(rows, level1s, level2s, *cells):
        if l1.present and (l1_val is None or l1.cell != l1_val.cell):
            l1_val, l2_val = l1, None
            key, weight = _level1(l1.raw)
        if l2.present and (l2_val is None or l2.cell != l2_val.cell):
            l2_val = l2
        if target.status == "blank" and actual.status == "blank" and weight_v.status == "blank" and score.status == "blank":
            continue  # a placeholder row such as "社会成本指标" with nothing filed
        target_parsed, actual_parsed = _targets(sheet.grid, r, target.raw, actual.raw, op_col, unit_col)
        out.append(_new_value(Indicator, (
            r, l1_val or blank, key, weight, l2_val or blank, level3, target, actual, weight_v, score, reason,
            target_parsed, actual_parsed,
        )))
    return end, total_at


def _block_end(sheet: _Sheet, start: int, r1: int, first_col: int, score_edge: int) -> tuple[int, int | None]:
    """(the row that ends an indicator block, the column of its 总分 label or None)."""
    totals = template()["indicators"]["total"]
    for r in range(start, r1 + 1):
        line = sheet.grid.row_values(r)
        # 总分 usually leads its row; Yunnan's closing row "其他需要说明事项 | 无 | 总分 | 100 | 96"
        # has it just left of the numbers.
        total_at = next((c for c, v in line if c < score_edge and type(v) is str and sheet.norm(r, c) in totals), None)
        if total_at is not None:
            return r, total_at
        if any(sheet.norm(r, c).startswith(("填表人", "备注", "说明")) for c, _ in line if c <= first_col):
            return r, None
    return r1 + 1, None


_level1 = functools.lru_cache(maxsize=4096)(level1_of)  # the same few labels in every workbook


def _targets(grid: Grid, r: int, target: Any, actual: Any, op_col: int | None, unit_col: int | None):
    """The parsed target and actual of an indicator row, the target written in one cell or
    over columns (指标性质 | 指标值 | 度量单位)."""
    if op_col is None and unit_col is None:
        return parse_indicator(target), parse_indicator(actual)
    op = grid.get(*grid.origin(r, op_col)) if op_col is not None else None
    unit = clean_text(grid.get(*grid.origin(r, unit_col))) if unit_col is not None else ""
    return parse_indicator(_composite(op, target, unit)), parse_indicator(_composite(None, actual, unit))


def _block_label(sheet: _Sheet, r: int, level1_col: int, table: Table) -> None:
    """The label left of the indicator header that weighs the whole block ("绩效指标(90分)",
    "年度绩效目标(80分)"), kept as indicators.label with its weight as indicators.weight."""
    for c, v in sheet.grid.row_values(r):
        if c >= level1_col or type(v) is not str:
            continue
        m = _WEIGHT_RE.search(normalize(v))
        if m:
            at = sheet.grid.origin(r, c)
            cell = a1(*at)
            table.fields["indicators.label"] = sheet.derived(Value(v, clean_text(v), "ok", sheet.name, cell, "text"), ("clean", *at))
            table.fields["indicators.weight"] = sheet.derived(Value(v, float(m.group(1)), "ok", sheet.name, cell, "score"), ("raw", *at))
            return


def _composite(op: Any, value: Any, unit: str) -> Any:
    """One indicator text from 指标性质 | 指标值 | 度量单位: ("≥", 13, "台") -> "≥13台". A
    number takes the unit; a text value (定性, "有效保障") stands as written."""
    if value is None or (type(value) is str and not value.strip()):
        return value
    ops = template()["indicators"]["target_ops"]
    written = normalize(op)
    comparator = ops.get(written, written) if op is not None else ""
    if type(value) is str:
        text = clean_text(value)
        number = parse("amount", text).status == "ok"
    else:
        text, number = clean_text(value), True
    if not number:
        return value if not comparator else comparator + text
    return f"{comparator}{text}{unit}"


def _evaluation(sheet: _Sheet, kind: str, r0: int, r1: int, table: Table, problems: list[str]) -> None:
    tpl = template()
    stop = {lab for labs in tpl["fields"].values() for lab in labs} | set(tpl["footer"]["filer"] + tpl["footer"]["date"])
    wanted = ("project_name", "department", "implementer") if kind == "project" else ("unit_name",)
    marks = sheet.landmarks(r0, r1)
    for key in (*wanted, "filer_unit", "grade"):
        at = sheet.first(marks, f"field:{key}")
        if at is not None:
            v = sheet.inline_value(*at, tpl["fields"][key], "text") or sheet.right_of(*at, "text", stop)
            table.fields[key] = name = _name_field(key, v)
            if name is not v:
                sheet.derived(name, ("name", key, v))
        elif key not in ("filer_unit", "grade"):
            problems.append(_named("fields", key))
    end = _funds(sheet, r0, r1, table, problems, marks)
    if kind == "overall":
        _breakdown(sheet, r0, r1, table)
    _goals(sheet, end, r1, table, marks)
    _indicators(sheet, end, r1, table, problems, marks)


def _name_field(key: str, v: Value) -> Value:
    """A name as kept: the budget system's code and 盖章 left out, a department without 本级."""
    if key == "grade" or not v.present:
        return v
    name = _clean_name(v.value) or v.value
    return _new_value(Value, (v.raw, _DEPARTMENT_SUFFIX.sub("", name) if key == "department" else name, *v[2:]))


def _base(sheet: _Sheet, r0: int, r1: int, table: Table, problems: list[str]) -> None:
    tpl = template()["base"]
    marks = sheet.landmarks(r0, r1)
    staff = sheet.first(marks, "staff")
    if staff is None:
        problems.append("编制数")
    else:
        cols, depth = sheet.header_columns(staff[0], tpl["staff"], table)
        r = staff[0] + 1
        while r <= r1 and not any(sheet.grid.get(r, c) not in (None, "") for c in cols.values()):
            r += 1
        for key, c in cols.items():
            table.fields[f"staff.{key}"] = sheet.value(r, c, "rate" if key == "control_rate" else "count")
    head = sheet.first(marks, "expense_header")
    if head is None:
        problems.append("经费控制情况")
        return
    hr, label_col = head
    header = [(c, sheet.norm(hr, c)) for c, _ in sheet.grid.row_values(hr) if c > label_col]
    budget_col = next((c for c, n in header if any(lab in n for lab in tpl["columns"]["budget"])), None)
    finals = [c for c, n in header if any(lab in n for lab in tpl["columns"]["final"])]
    cols: dict[str, int] = {}
    if budget_col is not None:
        cols["budget"] = budget_col
    before = [c for c in finals if budget_col is None or c < budget_col]
    after = [c for c in finals if budget_col is not None and c > budget_col]
    if before and after:
        cols["prev_final"], cols["final"] = before[0], after[0]
    elif len(finals) >= 2:
        cols["prev_final"], cols["final"] = finals[0], finals[1]
    elif finals:
        cols["final"] = finals[0]
    if set(cols) != {"prev_final", "budget", "final"}:
        problems.append("上年决算数/本年预算数/本年决算数")
    items = tpl["items"]
    section = ""
    for r in range(hr + 1, r1 + 1):
        label_text = sheet.norm(r, label_col)
        if any(label_text.startswith(lab) for lab in tpl["section_end"]):
            break
        has_values = any(sheet.grid.get(r, c) not in (None, "") for c in cols.values())
        key = next((k for k, spec in items.items() if label_text in spec["labels"]), None)
        if key is None:
            if not (section and items[section].get("free_children") and (label_text or has_values)):
                continue
            key, parent = f"{section}_item", section
        else:
            parent = items[key]["parent"]
            if not parent:
                section = key
        item = BaseItem(
            key=key,
            parent=parent,
            label=sheet.value(r, label_col, "text"),
            columns={name: sheet.value(r, c, "amount") for name, c in cols.items()},
        )
        table.base_items.append(item)
        if not key.endswith("_item"):
            for name, v in item.columns.items():
                table.fields.setdefault(f"{key}.{name}", v)


def extract_grids(grids: list[Grid], path: str, file: str) -> Workbook:
    """The workbook's tables, with reading findings for what is missing or unreadable."""
    from .plans import sheet_tables

    book = Workbook(path=path, file=file)
    counters: Counter[str] = Counter()
    for grid in grids:
        for table, problems in sheet_tables(grid):
            counters[table.kind] += 1
            table.table_id = f"{_ID_PREFIX[table.kind]}{counters[table.kind]}"
            for label in problems:
                book.findings.append(make_finding("R006", file, grid.name, a1(table.first_row, 0), label=label, table=table_name(table)))
            book.tables.append(table)
    if not book.tables:
        book.findings.append(make_finding("R005", file, sheets="、".join(g.name for g in grids) or "-"))
    for kind in ("base", "overall"):  # filed once a unit; project tables repeat, one a project
        if counters[kind] > 1:
            dup = book.of_kind(kind)[1]
            book.findings.append(make_finding("R012", file, dup.sheet, a1(dup.first_row, 0), table=KIND_NAMES[kind][0]))
    _identify(book)
    book.findings.extend(_parse_failures(book))
    return book


_ID_PREFIX = {"base": "B", "overall": "O", "project": "P"}


def read_sheet(grid: Grid, recipes: dict[int, tuple[tuple, Value]] | None = None, bands: list | None = None) -> list[tuple[Table, list[str]]]:
    """Every table on one sheet, each with the labels it lacks (R006), read in full. With
    ``recipes`` and ``bands``, how each value was read and where each indicator block's rows
    are is told there (plans.py records a plan so)."""
    sheet = _Sheet(grid, recipes, bands)
    out = []
    for kind, r0, r1, title in _segments(sheet):
        table = Table(kind=kind, sheet=grid.name, table_id="", title="", first_row=r0, last_row=r1)
        if title:
            text, year, unit = _title_of(grid, *title)
            table.title = text
            cell = a1(*title)
            table.fields["title"] = sheet.derived(Value(text, text, "ok", grid.name, cell, "text"), ("title", *title, 0))
            if year:
                table.fields["year"] = sheet.derived(Value(text, year, "ok", grid.name, cell, "count"), ("title", *title, 1))
            if unit:
                table.fields["title_unit"] = sheet.derived(Value(text, unit, "ok", grid.name, cell, "text"), ("title", *title, 2))
        if "year" not in table.fields and (near := _year_near(sheet, r0, r1)):
            year, yr, yc = near
            table.fields["year"] = sheet.derived(Value(grid.get(yr, yc), year, "ok", grid.name, a1(yr, yc), "count"), ("raw", yr, yc))
        problems: list[str] = []
        if kind == "base":
            _base(sheet, r0, r1, table, problems)
        else:
            _evaluation(sheet, kind, r0, r1, table, problems)
        _footer(sheet, r0, r1, table)
        out.append((table, problems))
    return out


def _identify(book: Workbook) -> None:
    units: Counter[str] = Counter()
    years: Counter[int] = Counter()
    departments: Counter[str] = Counter()
    # The unit: the whole-unit table's name cell and the titles weigh most; a project
    # table's 实施单位 and a 填报单位 cell name it where titles do not.
    for t in book.tables:
        for key, weight in (("unit_name", 3), ("title_unit", 2), ("filer_unit", 2), ("implementer", 1), ("department", 0.5)):
            v = t.fields.get(key)
            if v is not None and v.present and v.value and not (key == "implementer" and _is_section(v.value)):
                units[v.value] += weight
        if "year" in t.fields:
            years[t.fields["year"].value] += 1
        dep = t.fields.get("department")
        if dep is not None and dep.present:
            departments[dep.value] += 1
    stem = Path(book.file).stem
    book.year = years.most_common(1)[0][0] if years else None
    if book.year is None and (m := _FILE_YEAR_RE.search(stem)):
        book.year = int(m.group(1))
    filed = [d for t in book.tables if (d := t.fields.get("date")) is not None and isinstance(d.value, dt.date)]
    if book.year is None and filed:
        book.year = max(d.value for d in filed).year - 1  # a self-evaluation is filed after its year ends
    if units:
        book.unit = units.most_common(1)[0][0]
    else:
        book.unit = stem
        if book.tables:
            book.findings.append(make_finding("R015", book.file, None, None, unit=stem))
    # A project table may name the unit itself as 主管部门; the department is someone else.
    above = Counter({d: n for d, n in departments.items() if normalize(d) != normalize(book.unit)})
    book.department = (above or departments).most_common(1)[0][0] if departments else ""


_SECTION_END = re.compile(r"(?:股|科|室|组)$")


def _is_section(name: str) -> bool:
    """An internal section (粮食调控储备与产业发展股, 办公室) is no budget unit: where it is
    named as 实施单位, the unit is the one above it."""
    return bool(_SECTION_END.search(name)) and not name.endswith(("研究室", "实验室"))


_STATUS = operator.attrgetter("status")
_WEIGHT_SCORE = operator.attrgetter("weight", "score")
_TARGET_ACTUAL = operator.attrgetter("target_parsed", "actual_parsed")


def _parse_failures(book: Workbook) -> list[Finding]:
    """R007 for each value that does not parse as its kind. Most tables have none: their
    statuses are looked through first, without a Python step a value."""
    out = []
    names = {"amount": "金额（万元）", "amount_yuan": "金额（元）", "rate": "百分比", "score": "分数", "count": "人数", "date": "日期"}
    chain = itertools.chain
    for t in book.tables:
        values = list(chain(t.fields.values(), chain.from_iterable(map(_WEIGHT_SCORE, t.indicators)),
                            chain.from_iterable(b.columns.values() for b in t.base_items)))
        if "invalid" in map(_STATUS, values):
            for v in values:
                if v.status == "invalid":
                    out.append(make_finding("R007", book.file, v.sheet, v.cell, actual=clean_text(v.raw), expected=names.get(v.kind, v.kind), unit=book.unit))
        if "invalid" in map(_STATUS, chain.from_iterable(map(_TARGET_ACTUAL, t.indicators))):
            for ind in t.indicators:
                for v, p in ((ind.target, ind.target_parsed), (ind.actual, ind.actual_parsed)):
                    if p.status == "invalid":
                        out.append(make_finding("R007", book.file, v.sheet, v.cell, actual=p.text, expected="指标值（如 ≥95%、360人）", unit=book.unit))
    return out


def extract_workbook(path: str | Path, file: str | None = None) -> Workbook:
    """Read and extract one workbook. Never raises for a bad file: problems become findings."""
    path = Path(path)
    file = file or path.name
    grids, findings = read_grids(path, file)
    if not grids:
        book = Workbook(path=str(path), file=file, unit=path.stem, readable=False)
        book.findings.extend(findings)
        return book
    book = extract_grids(grids, str(path), file)
    book.findings[:0] = findings
    return book
