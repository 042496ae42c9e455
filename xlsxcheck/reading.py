"""Finding workbooks in a folder and reading their cells (values and merged ranges) safely.

Values come from python-calamine, which reads .xlsx, .xlsm and legacy .xls alike in well
under a millisecond per unit workbook. Inputs are only ever opened for reading. Before a
zip is handed to calamine its inflated size is bounded, the parts calamine parses are
screened for DTDs and the sheets for cells so far apart that calamine would allocate
gigabytes, so a zip bomb or an entity-expansion file becomes a clear finding instead of a hang
or a crash. The parts xlsxcheck parses itself (the workbook's relationships and sheet list)
go through defusedxml, which refuses entities.
"""

from __future__ import annotations

import functools
import io
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .catalog import make_finding
from .model import Finding

__all__ = ["Grid", "discover", "read_grids", "a1", "col_letter", "EXCEL_SUFFIXES", "Discovery"]

EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls"})
# Spreadsheet formats a unit may send that xlsxcheck does not read: reported, not skipped.
UNSUPPORTED_SUFFIXES = frozenset({".et", ".ett", ".ods", ".xlsb", ".numbers", ".xltx", ".xlt"})

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_INFLATED_BYTES = 300 * 1024 * 1024
MAX_RATIO = 200  # a real workbook inflates 5-20x; a zip bomb thousands of times
MAX_CELLS = 2_000_000  # per sheet: the dense grid of a sane unit workbook is a few thousand

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"


def _col_letter(col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_LETTERS = [_col_letter(c) for c in range(702)]  # A..ZZ, computed once


def col_letter(col: int) -> str:
    """0-based column index to Excel letters (0 -> A, 26 -> AA)."""
    return _LETTERS[col] if col < len(_LETTERS) else _col_letter(col)


_A1: dict[tuple[int, int], str] = {}  # the same few thousand cells recur in every workbook


def a1(row: int, col: int) -> str:
    """0-based (row, col) to an A1 reference."""
    ref = _A1.get((row, col))
    if ref is None:
        ref = f"{col_letter(col)}{row + 1}"
        if len(_A1) < 1 << 16:
            _A1[(row, col)] = ref
    return ref


_MERGES: dict[tuple, tuple[dict, dict]] = {}  # the sheets of one template share their merges
_MAX_MERGED_KEPT = 200_000  # merged cells kept in _MERGES at most (a template has a few hundred)
_merged_kept = 0


def _resolve_merges(merged: tuple, n_rows: int, n_cols: int) -> tuple[dict, dict]:
    """(merge tail -> anchor, anchor -> (r0, c0, r1, c1)) of a sheet's merged ranges. The
    dicts are shared between sheets with the same merges and only ever read."""
    key = (merged, n_rows, n_cols)
    known = _MERGES.get(key)
    if known is not None:
        return known
    anchor: dict[tuple[int, int], tuple[int, int]] = {}
    span: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for (mr0, mc0), (mr1, mc1) in merged:
        # Only the part inside the used area matters; a merge over a whole column must
        # not expand into a million entries, and one below or right of it is no merge.
        if mr0 >= n_rows or mc0 >= n_cols:
            continue
        mr1, mc1 = min(mr1, n_rows - 1), min(mc1, n_cols - 1)
        span[(mr0, mc0)] = (mr0, mc0, mr1, mc1)
        for r in range(mr0, mr1 + 1):
            for c in range(mc0, mc1 + 1):
                if (r, c) != (mr0, mc0):
                    anchor[(r, c)] = (mr0, mc0)
    global _merged_kept
    if _merged_kept + len(anchor) > _MAX_MERGED_KEPT:  # (a hostile batch's huge merges are not kept)
        _MERGES.clear()
        _merged_kept = 0
    if len(anchor) <= _MAX_MERGED_KEPT // 4:
        _MERGES[key] = anchor, span
        _merged_kept += len(anchor)
    return anchor, span


class Grid:
    """The non-empty cells of one sheet, 0-based from A1, with merged ranges resolved.

    ``rows`` are calamine's rows as read (an empty cell is ""). ``cells`` and ``by_row`` are
    made on first use: a sheet read by an extraction plan (plans.py) never needs them."""

    def __init__(self, name: str, rows: list[list[Any]], start: tuple[int, int], merged: Iterable) -> None:
        self.name = name
        self.rows = rows
        self.start = start
        self.merged = merged
        r0, c0 = start
        self.n_rows = r0 + len(rows)
        self.n_cols = c0 + max(map(len, rows), default=0)
        self._anchor, self._span = _resolve_merges(tuple(merged or ()), self.n_rows, self.n_cols)

    def __getattr__(self, name: str) -> Any:
        if name not in ("cells", "by_row"):
            raise AttributeError(name)
        self.cells: dict[tuple[int, int], Any] = {}
        self.by_row: dict[int, list[tuple[int, Any]]] = {}
        r0, c0 = self.start
        for i, row in enumerate(self.rows):
            # Rows come top to bottom, cells left to right.
            line = [(c0 + j, v) for j, v in enumerate(row) if v != "" and v is not None]
            if line:
                r = r0 + i
                self.by_row[r] = line
                for c, v in line:
                    self.cells[(r, c)] = v
        return self.__dict__[name]

    def origin(self, row: int, col: int) -> tuple[int, int]:
        """The cell that holds the value shown at (row, col): the merge anchor or itself."""
        return self._anchor.get((row, col), (row, col))

    def get(self, row: int, col: int) -> Any:
        r, c = self._anchor.get((row, col), (row, col))
        r -= self.start[0]
        c -= self.start[1]
        if 0 <= r < len(self.rows) and 0 <= c:
            line = self.rows[r]
            if c < len(line):
                v = line[c]
                return None if v == "" else v
        return None

    def span(self, row: int, col: int) -> tuple[int, int, int, int]:
        """(r0, c0, r1, c1) of the merged range at (row, col), or the cell alone."""
        anchor = self.origin(row, col)
        return self._span.get(anchor, (*anchor, *anchor))

    def merged_ranges(self) -> list[tuple[int, int, int, int]]:
        """(r0, c0, r1, c1) of every merged range that spans more than one cell."""
        return [span for span in self._span.values() if span[:2] != span[2:]]

    def is_merge_tail(self, row: int, col: int) -> bool:
        return (row, col) in self._anchor

    def row_values(self, row: int) -> list[tuple[int, Any]]:
        """(col, value) of the non-empty cells of a row, merge tails excluded, left to right."""
        return self.by_row.get(row, [])


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # lock files, hidden and non-Excel files, own outputs
    own_outputs: dict[Path, str] = field(default_factory=dict)  # skipped, written by xlsxcheck: "rollup" | "annotated-copy"
    missing: list[str] = field(default_factory=list)  # arguments that matched nothing
    unreadable: list[Path] = field(default_factory=list)  # folders that could not be listed
    links: list[Path] = field(default_factory=list)  # symlinked folders, not followed


def _wanted(path: Path) -> bool | None:
    """True: check it; False: skip it silently but count it; None: not a candidate at all."""
    name = path.name
    if name.startswith("~$") or name.startswith("."):
        return False
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES or suffix in UNSUPPORTED_SUFFIXES:
        return True
    return False


def _own_output(path: Path, explicit: bool) -> str | None:
    """Why a workbook xlsxcheck wrote is not a filing: a rollup always; an annotated copy
    still as written unless named explicitly (one corrected and saved again is a filing)."""
    from .own_outputs import is_untouched_copy, own_output_kind

    kind = own_output_kind(path)
    if kind == "annotated-copy" and (explicit or not is_untouched_copy(path)):
        return None
    return kind


def _walk(root: Path, found: Discovery) -> list[tuple[Path, Path]]:
    """Every file below root, in path order, with its resolved path. A folder that cannot
    be listed is reported, never silently left out; a symlinked folder is reported and not
    followed (it may lead outside the folder being checked, or in a circle). What a listing
    says of its entries is used as it is: no system call a file but for symlinked files."""
    files: list[tuple[Path, Path]] = []
    todo = [str(root)]
    while todo:
        folder = todo.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as err:
            found.unreadable.append(Path(err.filename) if err.filename else root)
            continue
        real = Path(os.path.realpath(folder))
        subfolders = []
        for entry in entries:
            try:
                if entry.is_dir():  # through a symlink too, as os.walk lists it
                    if entry.is_symlink():
                        found.links.append(Path(entry.path))
                    else:
                        subfolders.append(entry.path)
                elif entry.is_file():
                    path = Path(entry.path)
                    files.append((path, path.resolve() if entry.is_symlink() else real / entry.name))
            except OSError:
                continue  # gone, or not to be looked at: as os.walk, left out
        todo += reversed(subfolders)  # depth first, in listing order
    return sorted(files, key=lambda f: f[0].parts)


def discover(args: Iterable[str | os.PathLike]) -> Discovery:
    """Expand folders (recursively), files and glob patterns into the workbooks to check."""
    found = Discovery()
    seen: set[Path] = set()

    def add(path: Path, explicit: bool, key: Path | None = None) -> None:
        key = key or path.resolve()
        if key in seen:
            return
        seen.add(key)
        kind = _own_output(path, explicit) if path.suffix.lower() in (".xlsx", ".xlsm") else None
        if kind:
            found.own_outputs[path] = kind
            found.skipped.append(path)
        elif (explicit and not path.name.startswith("~$")) or _wanted(path):  # a lock file however named
            found.files.append(path)
        else:
            found.skipped.append(path)

    for arg in args:
        path = Path(arg)
        if path.is_dir():
            depth = len(path.parts)
            for sub, key in _walk(path, found):
                if any(part.startswith(".") for part in sub.parts[depth:-1]):
                    found.skipped.append(sub)
                    continue
                add(sub, False, key)
        elif path.is_file():
            add(path, explicit=True)
        else:
            matches = sorted(p for p in Path().glob(str(arg)) if p.is_file()) if any(ch in str(arg) for ch in "*?[") else []
            if not matches:
                found.missing.append(str(arg))
            for sub in matches:
                add(sub, explicit=False)
    return found


# Before calamine sees a sheet, its extent is bounded: calamine allocates rows x columns at once,
# and places a cell without an r= reference after the previous one (a row without r= after the
# previous row), so references alone do not tell the extent. Every pattern here is linear in the
# size of the part, also on crafted input: no unbounded lazy match, no backtracking over a body.
#
# The usual sheet (Excel, WPS and every library write r= first, as `<c r="B3"`) is known to
# be small from two searches at C speed: every cell tag starts with a plain reference within
# A1:Z9999, and no cell or row tag has a namespace prefix. Then every cell is placed by its
# reference (rows place only cells without one), so the area is at most 26 x 9999 cells.
# Otherwise the exact walk below places every cell.
# (Each pattern starts with a literal, which the regex engine scans for fast; one alternation
# of both would stop at every '<' and is several times slower.)
_IRREGULAR_CELL = re.compile(rb'<c(?! r="[A-Z][0-9]{1,4}")[\s/>]')
_PREFIXED_TAG = re.compile(rb':(?:c|row)[\s/>]')
# A row or cell start tag: element, then attributes (quoted values may hold '>'), then the end.
_TAG = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?(row|c)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*+)\s*/?>""")
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(rb"\s*([A-Za-z]*)([0-9]*)\s*")
_HAS_VALUE = re.compile(rb"<v>[^<]")  # openpyxl writes <v></v> or <v /> for "no result"
# A cell with its body; the body stops at the next cell, so an unclosed <c> costs its own length.
_CELL_ELEM = re.compile(rb'<c\b[^<>]*?\br="([A-Z]{1,3}[0-9]{1,7})"[^<>]*(?:/>|>((?:[^<]++|<(?!/?c[\s/>]))*+)</c>)')
# The shared-string table's declared size: calamine reserves that many entries up front.
_SST_TAG = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?sst\b((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*+)""")
_UNIQUE_COUNT = re.compile(rb"""\suniqueCount\s*=\s*["']\s*([0-9]+)""")
_PARSED_PARTS = ("xl/workbook.xml", "xl/sharedStrings.xml", "xl/styles.xml")
_SHEET_TYPES = ("/worksheet", "/chartsheet", "/dialogsheet", "/macrosheet")


@dataclass
class SheetScan:
    """What the sheet's XML says before calamine loads it: its extent and formulas that
    carry no saved result."""

    cells: int = 0  # rows x columns of the area calamine would allocate (0: known to be small)
    formulas_without_value: list[str] = field(default_factory=list)

    @property
    def notable(self) -> bool:
        return self.cells > MAX_CELLS or bool(self.formulas_without_value)


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _extent(data: bytes) -> int:
    """Rows x columns of the area calamine would allocate, placing cells as it does: by their
    reference, or (without one) after the previous cell of the row, rows after the previous row."""
    row, col = -1, -1
    top = left = 1 << 30
    bottom = right = -1
    for m in _TAG.finditer(data):
        ref = None
        if m.group(2):
            for attr in _ATTR.finditer(m.group(2)):
                if attr.group(1) == b"r":
                    ref = _REF.fullmatch(attr.group(2) if attr.group(2) is not None else attr.group(3))
                    break
        if m.group(1) == b"row":
            row = int(ref.group(2)) - 1 if ref and ref.group(2) else row + 1
            col = -1
            continue
        if ref and ref.group(1) and ref.group(2):
            col, row_of_cell = _col_index(ref.group(1)) - 1, int(ref.group(2)) - 1
        else:
            col, row_of_cell = col + 1, max(row, 0)
        top, bottom = min(top, row_of_cell), max(bottom, row_of_cell)
        left, right = min(left, col), max(right, col)
    return 0 if bottom < 0 else (bottom - top + 1) * (right - left + 1)


def _scan_sheet(data: bytes) -> SheetScan:
    scan = SheetScan()
    if _IRREGULAR_CELL.search(data) or _PREFIXED_TAG.search(data):
        scan.cells = _extent(data)
    if b"<f" in data:
        for ref, body in _CELL_ELEM.findall(data):
            if body and b"<f" in body and not _HAS_VALUE.search(body):
                scan.formulas_without_value.append(ref.decode())
    return scan


def _part_path(target: str) -> str:
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _relationships(xml: bytes) -> tuple[tuple[str, str, str], ...]:
    """(Id, Type, part) of every relationship of the workbook, parsed with defusedxml.
    Cached by content when small: the workbooks of one template carry the same relationships
    byte for byte, and parsing them was a tenth of the screening."""
    return _cached_relationships(xml) if len(xml) <= 1 << 14 else _parse_relationships(xml)


def _parse_relationships(xml: bytes) -> tuple[tuple[str, str, str], ...]:
    from defusedxml import ElementTree as ET

    return tuple((r.get("Id"), r.get("Type", ""), _part_path(r.get("Target", ""))) for r in ET.fromstring(xml))


_cached_relationships = functools.lru_cache(maxsize=64)(_parse_relationships)


def _sheet_parts(workbook_xml: bytes, rels: tuple[tuple[str, str, str], ...]) -> dict[str, str]:
    """Sheet name -> sheet part, from workbook.xml and its relationships (defusedxml)."""
    from defusedxml import ElementTree as ET

    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    book = ET.fromstring(workbook_xml)
    parts = {rid: part for rid, _, part in rels}
    return {sheet.get("name"): parts.get(sheet.get(f"{ns_rel}id"), "") for sheet in book.iter(f"{ns_main}sheet")}


class _Members:
    """The members of a zip held in memory, read as zipfile reads them. zipfile parses the
    central directory; a plain stored or deflated member is then inflated straight from the
    archive's bytes (zipfile's reader costs tens of microseconds a member, more than
    inflating a small part), after the checks zipfile's own reader makes: the local header,
    its name, the member's extent (within the next member, as newer zipfiles require), its
    size and its CRC. Anything else is read by zipfile, which raises what it raises."""

    def __init__(self, zf: zipfile.ZipFile, data: bytes) -> None:
        self.zf, self.data = zf, data
        starts = sorted(i.header_offset for i in zf.infolist())
        # where each member's data must end; none if two members claim one offset
        self.ends = dict(zip(starts, starts[1:] + [zf.start_dir])) if len(set(starts)) == len(starts) else {}

    def read(self, info: zipfile.ZipInfo, limit: int | None = None) -> bytes:
        """The member's bytes, or its first ``limit`` bytes (a member within ``limit`` is read
        whole, CRC checked, as zipfile does; a longer one's head is left to zipfile)."""
        out = self._inflate(info, limit)
        if out is not None:
            return out
        if limit is None:
            return self.zf.read(info)
        with self.zf.open(info) as fh:
            return fh.read(limit)

    def _inflate(self, info: zipfile.ZipInfo, limit: int | None) -> bytes | None:
        if limit is not None and info.file_size > limit:
            return None  # zipfile inflates a head in its own chunks (and may fail on a later one)
        end = self.ends.get(info.header_offset)
        if end is None or info.flag_bits & 0x61 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return None  # encrypted, patched or strongly encrypted, or another method
        data, start = self.data, info.header_offset
        header = data[start:start + 30]
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            return None
        flags, name_length, extra_length = int.from_bytes(header[6:8], "little"), int.from_bytes(header[26:28], "little"), \
            int.from_bytes(header[28:30], "little")
        body = start + 30 + name_length + extra_length
        if body + info.compress_size > min(end, len(data)):
            return None
        try:
            name = data[start + 30:start + 30 + name_length].decode("utf-8" if flags & 0x800 else "cp437")
        except UnicodeDecodeError:
            return None
        if name != info.orig_filename:
            return None
        size = info.file_size
        packed = data[body:body + info.compress_size]
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != size:
                return None
            out = packed
        else:
            # zipfile inflates the whole stream at once: the stream must end with the member
            inflater = zlib.decompressobj(-15)
            try:
                out = inflater.decompress(packed, size + 1)
            except zlib.error:
                return None
            if not inflater.eof:
                return None
        if len(out) != size or zlib.crc32(out) != info.CRC:
            return None
        return out


def _screen_zip(data: bytes, file: str) -> tuple[Finding | None, dict[str, SheetScan]]:
    """Bound the inflated size, refuse DTDs, and scan each sheet's extent and formulas
    before any XML is parsed by calamine (which allocates the whole area at once).
    Returns the scans worth reporting, by sheet name."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            by_name = {i.filename: i for i in infos}
            if "xl/workbook.xml" not in by_name:
                if "EncryptedPackage" in by_name:
                    return make_finding("R002", file), {}
                what = "docx" if "word/document.xml" in by_name else "zip"
                return make_finding("R003", file, kind=what), {}
            inflated = sum(i.file_size for i in infos)
            packed = max(1, sum(i.compress_size for i in infos))
            if inflated > MAX_INFLATED_BYTES or inflated / packed > MAX_RATIO:
                return make_finding("R009", file, size=f"{inflated / 1024 / 1024:.0f} MiB"), {}
            members = _Members(zf, data)
            rels_part = by_name.get("xl/_rels/workbook.xml.rels")
            rels = _relationships(members.read(rels_part)) if rels_part is not None else ()
            strings = {part for _, kind, part in rels if kind.endswith("/sharedStrings")} | {"xl/sharedStrings.xml"}
            for part in sorted(set(_PARSED_PARTS) | strings):  # what calamine parses besides the sheets
                if part in by_name:
                    head = members.read(by_name[part], 1 << 16)
                    if _has_dtd(head[:4096]):
                        return make_finding("R010", file, part=part), {}
                    declared = _declared_strings(head) if part in strings else 0
                    if declared > by_name[part].file_size:  # each entry takes bytes of the part
                        reason = f"{part} 声明 {declared} 个字符串，超出其内容 / declares more strings than it holds"
                        return make_finding("R001", file, reason=reason), {}
            # Every sheet relationship, wherever it points: a crafted file need not keep its
            # sheets in xl/worksheets/, and calamine loads them from where they are.
            sheets = sorted({part for _, kind, part in rels if kind.endswith(_SHEET_TYPES)})
            notable: dict[str, SheetScan] = {}
            for part in sheets:
                if part not in by_name:
                    continue  # calamine reports the missing part
                xml = members.read(by_name[part])
                if _has_dtd(xml[:4096]):
                    return make_finding("R010", file, part=part), {}
                scan = _scan_sheet(xml)
                if scan.notable:
                    notable[part] = scan
            if notable:  # names are needed only to report; one part may be listed under several
                parts = _sheet_parts(members.read(by_name["xl/workbook.xml"]), rels)
                return None, {name: notable[part] for name, part in parts.items() if part in notable}
            return None, {}
    except (zipfile.BadZipFile, KeyError, EOFError, ValueError) as exc:
        reason = "zip 文件已损坏或不完整 / corrupt or truncated zip" if isinstance(exc, (zipfile.BadZipFile, EOFError)) else f"{type(exc).__name__}: {exc}"
        return make_finding("R001", file, reason=reason), {}
    except Exception as exc:  # defusedxml refuses entities and external references
        return make_finding("R010", file, part=f"xl/workbook.xml ({type(exc).__name__})"), {}


def _declared_strings(head: bytes) -> int:
    tag = _SST_TAG.search(head)
    count = _UNIQUE_COUNT.search(tag.group(1)) if tag else None
    return int(count.group(1)) if count else 0


def _has_dtd(head: bytes) -> bool:
    return b"<!DOCTYPE" in head or b"<!ENTITY" in head


def _sniff(data: bytes, suffix: str, file: str) -> tuple[Finding | None, dict[str, SheetScan]]:
    if not data:
        return make_finding("R001", file, reason="文件为空 / empty file"), {}
    if suffix in UNSUPPORTED_SUFFIXES:
        return make_finding("R004", file, suffix=suffix), {}
    head = data[:512]
    if head.startswith(_ZIP_MAGIC):
        return _screen_zip(data, file)
    if head.startswith(_OLE_MAGIC):
        # An OLE container holds a legacy .xls, or an encrypted .xlsx (EncryptionInfo stream).
        blob = data[: 1 << 20]
        if "EncryptionInfo".encode("utf-16-le") in blob:
            return make_finding("R002", file), {}
        if "Workbook".encode("utf-16-le") not in blob and "Book".encode("utf-16-le") not in blob:
            return make_finding("R003", file, kind="OLE (doc/ppt)"), {}
        return None, {}
    low = head.lstrip().lower()
    kind = "PDF" if head.startswith(b"%PDF") else "HTML" if low.startswith((b"<html", b"<!doc", b"<table", b"<?xml")) else "CSV/文本 text"
    return make_finding("R003", file, kind=kind), {}


def read_grids(path: Path, file: str) -> tuple[list[Grid], list[Finding]]:
    """All sheets of a workbook as Grids, or the reading findings that explain why not."""
    import python_calamine as pc

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [], [make_finding("R009", file, size=f"{size / 1024 / 1024:.0f} MiB")]
        data = path.read_bytes()  # read once: the screening and calamine see the same bytes
    except OSError as exc:
        return [], [make_finding("R001", file, reason=exc.strerror or type(exc).__name__)]  # str(exc) repeats the path
    problem, scans = _sniff(data, path.suffix.lower(), file)
    if problem is not None:
        return [], [problem]
    from .own_outputs import findings_sheet

    own_sheet = findings_sheet(data)  # an annotated copy sent back: its 审核问题 sheet is ours, not the unit's
    grids: list[Grid] = []
    findings: list[Finding] = []
    try:
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
        for name in book.sheet_names:
            if name == own_sheet:
                continue
            scan = scans.get(name)
            if scan is not None and scan.cells > MAX_CELLS:
                findings.append(make_finding("R011", file, name, None, cells=f"{scan.cells:,}"))
                continue
            if scan is not None and scan.formulas_without_value:
                shown = scan.formulas_without_value
                cells = "、".join(shown[:10]) + (f" 等 {len(shown)} 个" if len(shown) > 10 else "")
                findings.append(make_finding("R008", file, name, shown[0] if len(shown) == 1 else None, cells=cells))
            sheet = book.get_sheet_by_name(name)
            rows = sheet.to_python()
            start = sheet.start or (0, 0)
            merged = sheet.merged_cell_ranges or ()
            covered = _merged_area(merged, start[0] + len(rows), start[1] + max(map(len, rows), default=0))
            if covered > MAX_CELLS:  # overlapping merges: each would be resolved cell by cell
                findings.append(make_finding("R011", file, name, None, cells=f"{covered:,}"))
                continue
            grids.append(Grid(name, rows, start, merged))
    except pc.PasswordError:
        return [], [make_finding("R002", file)]
    except Exception as exc:  # calamine raises its own errors and plain ones for broken parts
        return [], [make_finding("R001", file, reason=f"{type(exc).__name__}: {exc}"[:200])]
    except BaseException as exc:  # a Rust panic (pyo3's PanicException) is no Exception
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return [], [make_finding("R017", file, reason=f"{type(exc).__name__}: {exc}"[:200])]
    return grids, findings


def _merged_area(merged, n_rows: int, n_cols: int) -> int:
    """Cells the merges cover inside the used area, counted with overlaps (as Grid resolves them)."""
    total = 0
    for (r0, c0), (r1, c1) in merged:
        total += max(0, min(r1, n_rows - 1) - r0 + 1) * max(0, min(c1, n_cols - 1) - c0 + 1)
    return total
