"""Broken and hostile workbooks: a clear finding for each, the batch always completes,
inputs are never written, outputs are atomic."""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, SEED_TEXT
from corpus import build_corpus
from hypothesis import HealthCheck, given, settings, strategies as st

from xlsxcheck.catalog import load_catalog
from xlsxcheck.cli import cli
from xlsxcheck.pipeline import Options, run

READING_CASES = {"R001", "R002", "R003", "R004", "R005", "R006", "R008", "R009", "R010", "R011", "R012", "R013"}
TEMPLATE_CASES = {"R015"}  # tests/test_templates.py


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("corpus")
    return out, build_corpus(out)


def test_corpus_gives_exactly_the_expected_code_per_file(corpus):
    folder, expect = corpus
    assert set(expect.values()) == READING_CASES
    result = run([str(folder)], Options(jobs=2))
    codes: dict[str, set[str]] = {}
    for f in result.findings:
        codes.setdefault(Path(f.file).name, set()).add(f.code)
    assert {name: codes.get(name) for name in expect} == {name: {code} for name, code in expect.items()}
    assert len(result.books) == len(expect)  # one bad file never stops the others


def test_batch_goes_on_and_counts_bad_files(corpus, tmp_path):
    folder, expect = corpus
    mixed = tmp_path / "mixed"
    shutil.copytree(folder, mixed)
    shutil.copy(SAMPLES / "02_株洲市保障性住房服务中心_更正.xlsx", mixed / "好文件.xlsx")
    (mixed / "~$好文件.xlsx").write_bytes(b"lock")
    (mixed / ".hidden.xlsx").write_bytes(b"x")
    (mixed / "说明.docx").write_bytes(b"x")
    res = CliRunner().invoke(cli, ["check", str(mixed), "--format", "json", "--jobs", "2"])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    import json

    doc = json.loads(res.stdout)
    files = {Path(f["file"]).name: f for f in doc["files"]}
    assert files["好文件.xlsx"]["errors"] == 0 and files["好文件.xlsx"]["tables"] == 4
    assert sorted(Path(p).name for p in doc["summary"]["skipped"]) == [".hidden.xlsx", "~$好文件.xlsx", "说明.docx"]
    assert sum(1 for f in doc["files"] if f["errors"]) == sum(1 for c in expect.values() if c != "R011" and c != "R013")


def test_internal_error_on_one_file_is_reported_and_others_checked(tmp_path, monkeypatch):
    import xlsxcheck.extract as extract

    for name in ("a.xlsx", "b.xlsx"):
        shutil.copy(SAMPLES / "03_株洲市住房公积金服务中心.xlsx", tmp_path / name)
    real = extract.extract_grids

    def broken(grids, path, file):
        if path.endswith("a.xlsx"):
            raise ZeroDivisionError("simulated defect")
        return real(grids, path, file)

    monkeypatch.setattr(extract, "extract_grids", broken)
    res = CliRunner().invoke(cli, ["check", str(tmp_path), "--jobs", "1", "--format", "json"])
    assert res.exit_code == 2
    import json

    doc = json.loads(res.stdout)
    by_file = {Path(f["file"]).name: f for f in doc["findings"]}
    assert by_file["a.xlsx"]["code"] == "R099" and "ZeroDivisionError" in by_file["a.xlsx"]["message"]
    assert "b.xlsx" not in by_file and len(doc["files"]) == 2


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_inputs_unchanged_by_check_annotate_and_rollup(corpus, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(SAMPLES, folder)
    shutil.copy(corpus[0] / "有密码.xlsx", folder)
    before = _hashes(folder)
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    runner = CliRunner()
    assert runner.invoke(cli, ["check", str(folder), "--annotate", str(tmp_path / "ann"), "-q"]).exit_code == 1
    assert runner.invoke(cli, ["rollup", str(folder), "-o", str(tmp_path / "汇总.xlsx"), "-q"]).exit_code == 1
    assert _hashes(folder) == before
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes


def test_refuses_to_write_over_an_input(tmp_path):
    target = tmp_path / "03.xlsx"
    shutil.copy(SAMPLES / "03_株洲市住房公积金服务中心.xlsx", target)
    before = target.read_bytes()
    res = CliRunner().invoke(cli, ["rollup", str(target), "-o", str(target), "-q"])
    assert res.exit_code == 2 and "拒绝覆盖" in res.output
    res = CliRunner().invoke(cli, ["check", str(target), "--format", "json", "-o", str(target)])
    assert res.exit_code == 2
    res = CliRunner().invoke(cli, ["check", str(target), "--annotate", str(tmp_path), "-q"])
    assert res.exit_code == 2
    assert target.read_bytes() == before


@pytest.mark.parametrize("where", ["save", "rename"])
def test_failed_rollup_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch, where):
    out = tmp_path / "汇总.xlsx"
    out.write_bytes(b"earlier rollup")
    import xlsxwriter.workbook as xw

    import xlsxcheck.output as output

    if where == "save":
        def failing_store(self):
            Path(self.filename).write_bytes(b"PK\x03\x04 half")
            raise OSError("磁盘已满 / disk full")

        monkeypatch.setattr(xw.Workbook, "_store_workbook", failing_store)
    else:
        def failing_replace(src, dst):
            raise OSError("rename failed")

        monkeypatch.setattr(output.os, "replace", failing_replace)
    res = CliRunner().invoke(cli, ["rollup", str(SAMPLES), "-o", str(out), "-q"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert out.read_bytes() == b"earlier rollup"
    assert [p.name for p in tmp_path.iterdir()] == ["汇总.xlsx"]


# --- random cell values in every table never break the run --------------------------------

_TEXT = st.characters(blacklist_categories=("Cs", "Cc"))  # what an Excel cell can hold at all
_CELLS = st.one_of(
    st.text(_TEXT, max_size=30), st.text(alphabet="0123456789.%万元≥≤约, ", max_size=12), st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-10**9, 10**9), st.sampled_from(["#DIV/0!", "#N/A", "#VALUE!", "", "　", "—", "/", "*", "=1+1", "x" * 5000]),
    st.dates().map(lambda d: d.isoformat()),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_values_in_every_table_give_only_valid_findings(tmp_path, data):
    from xlsxcheck.samples import render, seed_canvases

    sheets = seed_canvases(SEED_TEXT)
    for _, canvas in sheets:
        keys = sorted(canvas.cells)
        for key in data.draw(st.lists(st.sampled_from(keys), max_size=25, unique=True)):
            canvas.cells[key] = data.draw(_CELLS)
    path = render(sheets, tmp_path / f"random{data.draw(st.integers(0, 10**6))}.xlsx")
    result = run([str(path)], Options(jobs=1))
    catalog = load_catalog()
    for f in result.findings:
        assert f.code in catalog and f.severity in ("error", "warning", "info")
        assert f.file == result.books[0].file
        assert f.cell is None or re.fullmatch(r"[A-Z]{1,3}\d+(:[A-Z]{1,3}\d+)?", f.cell), f
        assert f.message and f.message_en
        assert "R099" != f.code, f.message


def test_defect_in_a_rule_costs_only_its_workbook(tmp_path, monkeypatch):
    import xlsxcheck.checks.filing_date as rule

    shutil.copy(SAMPLES / "01_株洲市保障性住房服务中心_原报.xlsx", tmp_path / "a.xlsx")
    shutil.copy(SAMPLES / "06_株洲市建筑节能与科技服务中心.xlsx", tmp_path / "b.xlsx")
    real = rule.check

    def broken(ctx):
        if any(b.file.endswith("a.xlsx") for b in ctx.batch.books):
            raise RuntimeError("simulated defect")
        return real(ctx)

    monkeypatch.setattr(rule, "check", broken)
    result = run([str(tmp_path)], Options(jobs=1))
    by_file: dict[str, set[str]] = {}
    for f in result.findings:
        by_file.setdefault(Path(f.file).name, set()).add(f.code)
    assert "R099" in by_file["a.xlsx"] and {"B401", "R007", "F102"} <= by_file["a.xlsx"]  # only that rule is lost
    assert "filing_date" in next(f.message for f in result.findings if f.code == "R099")
    assert "R099" not in by_file["b.xlsx"] and {"B401", "X501", "S201"} <= by_file["b.xlsx"]


def test_sheet_extent_is_counted_exactly_once_a_far_cell_appears(tmp_path):
    """The quick screen lets through sheets within Z9999; beyond it the exact extent decides,
    and only the sheet that is too large is skipped, under its own name."""
    from openpyxl import Workbook

    from xlsxcheck.reading import MAX_CELLS, read_grids

    wb = Workbook()
    wide = wb.active
    wide.title = "宽而不大"
    wide["A1"], wide["AB20000"] = "表", 1  # 28 x 20000 cells: far, but within the bound
    huge = wb.create_sheet("过大")
    huge["A1"], huge["CV30000"] = "表", 1  # 100 x 30000 cells
    assert 28 * 20000 < MAX_CELLS < 100 * 30000
    wb.save(tmp_path / "x.xlsx")
    grids, findings = read_grids(tmp_path / "x.xlsx", "x.xlsx")
    assert [g.name for g in grids] == ["宽而不大"]
    assert [(f.code, f.sheet) for f in findings] == [("R011", "过大")]


def test_sheet_stored_outside_the_worksheets_folder_is_screened_too(tmp_path):
    """Sheets are found through the workbook's relationships, not by folder: a crafted file
    that keeps a huge sheet elsewhere must still get R011 (calamine would abort the process,
    so the check runs in a child process and a regression fails here instead)."""
    import json
    import subprocess
    import sys
    import zipfile

    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"], wb.active["XFD1048576"] = "表格", " "
    wb.save(tmp_path / "plain.xlsx")
    moved = tmp_path / "藏起来的大表.xlsx"
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as zin, zipfile.ZipFile(moved, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
                data = data.replace(b"worksheets/sheet1.xml", b"hidden/data.xml")
            name = "xl/hidden/data.xml" if info.filename == "xl/worksheets/sheet1.xml" else info.filename
            zout.writestr(name, data)
    with zipfile.ZipFile(moved) as zf:
        assert not any(n.startswith("xl/worksheets/") for n in zf.namelist())
    proc = subprocess.run([sys.executable, "-m", "xlsxcheck", "check", str(moved), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert [f["code"] for f in json.loads(proc.stdout)["findings"]] == ["R011"]


def test_grids_with_the_same_merges_resolve_them_for_their_own_size():
    """Merged ranges are resolved once for the sheets that share them, each clipped to its own
    used area (a merge reaching past a sheet's last row ends there)."""
    from xlsxcheck.reading import Grid

    merged = [((0, 0), (5, 2))]
    short = [["a", "", ""], ["", "", ""], ["", "", ""]]
    tall = short + [["", "", ""] for _ in range(5)]
    for rows, last in ((short, 2), (tall, 5), (short, 2)):
        g = Grid("S", rows, (0, 0), merged)
        assert g.span(1, 1) == (0, 0, last, 2)
        assert g.get(last, 2) == "a" and g.get(last + 1, 2) is None
        assert g.merged_ranges() == [(0, 0, last, 2)]


@pytest.mark.parametrize("how", ["symlink", "hardlink", "spelling"])
def test_refuses_to_write_over_an_input_by_another_name(tmp_path, how):
    """An output named by a link to an input, or by another spelling of its path, is the input."""
    folder = tmp_path / "in"
    folder.mkdir()
    source = folder / "03.xlsx"
    shutil.copy(SAMPLES / "03_株洲市住房公积金服务中心.xlsx", source)
    before = source.read_bytes()
    if how == "symlink":
        target = tmp_path / "out.xlsx"
        target.symlink_to(source)
    elif how == "hardlink":
        target = tmp_path / "out.xlsx"
        target.hardlink_to(source)
    else:
        target = folder / ".." / "in" / "03.xlsx"
    res = CliRunner().invoke(cli, ["check", str(folder), "--format", "json", "-o", str(target)])
    assert res.exit_code == 2 and "拒绝覆盖" in res.output, res.output
    assert source.read_bytes() == before


def _rezip(src: Path, dst: Path, compression: int = zipfile.ZIP_DEFLATED, transform=None) -> None:
    """``src`` written again member by member, each member's bytes through ``transform(name, data)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, transform(info.filename, data) if transform else data, compression)


def _patch_entry(data: bytes, name: bytes, header: bytes, at: int, new: bytes) -> bytes:
    """``data`` with ``new`` written at offset ``at`` of the header (``header``: the local or the
    central directory signature) that names ``name``."""
    start = -1
    while True:
        start = data.index(header, start + 1)
        name_at = start + (30 if header == b"PK\x03\x04" else 46)
        if data[name_at:name_at + len(name)] == name:
            return data[:start + at] + new + data[start + at + len(new):]


@pytest.fixture(scope="module")
def seed_xlsx() -> Path:
    return sorted(p for p in SAMPLES.glob("*.xlsx"))[0]


def test_stored_members_read_as_deflated_ones_and_are_screened_alike(seed_xlsx, tmp_path):
    """Members stored without compression are read straight from the archive like deflated
    ones: the same grids, and a DTD in a stored sheet still refused."""
    from xlsxcheck.reading import read_grids

    _rezip(seed_xlsx, tmp_path / "stored.xlsx", zipfile.ZIP_STORED)
    deflated, _ = read_grids(seed_xlsx, "a.xlsx")
    stored, findings = read_grids(tmp_path / "stored.xlsx", "b.xlsx")
    assert not findings and [(g.name, g.cells) for g in stored] == [(g.name, g.cells) for g in deflated]
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
    _rezip(seed_xlsx, tmp_path / "dtd.xlsx", zipfile.ZIP_STORED,
           lambda name, data: dtd + data if name == "xl/worksheets/sheet2.xml" else data)
    _, findings = read_grids(tmp_path / "dtd.xlsx", "dtd.xlsx")
    assert [f.code for f in findings] == ["R010"] and "xl/worksheets/sheet2.xml" in findings[0].message


@pytest.mark.parametrize("damage", ["crc", "local name"])
def test_a_damaged_member_is_reported_by_the_screening_as_zip_damage(seed_xlsx, tmp_path, damage):
    """A sheet whose bytes do not match the directory's CRC, or whose local header names
    another part, is what zipfile calls a bad zip: R001 from the screening (not whatever
    calamine makes of it), however the member is read."""
    from xlsxcheck.reading import read_grids

    data = seed_xlsx.read_bytes()
    name = b"xl/worksheets/sheet1.xml"
    if damage == "crc":
        data = _patch_entry(data, name, b"PK\x01\x02", 16, b"\0\0\0\0")
    else:
        data = _patch_entry(data, name, b"PK\x03\x04", 30, b"XL")
    (tmp_path / "damaged.xlsx").write_bytes(data)
    grids, findings = read_grids(tmp_path / "damaged.xlsx", "damaged.xlsx")
    assert not grids and [f.code for f in findings] == ["R001"]
    assert "zip 文件已损坏或不完整" in findings[0].message


def test_shared_strings_beyond_the_first_64_kib_are_bounded_by_their_declared_count(tmp_path):
    """Only the head of a large sharedStrings part is read for its declared count: a part of
    several hundred KiB that declares more strings than it has bytes is refused (R001), and
    one that declares what it holds reads."""
    from corpus import _workbook

    from xlsxcheck.reading import read_grids

    table = '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row></sheetData>'
    filler = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(12_000))  # ~380 KB that deflate cannot shrink 200x
    for name, count in (("big.xlsx", 2), ("lying.xlsx", 100_000_000)):
        sst = (f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="{count}">'
               f"<si><t>表格</t></si><si><t>{filler}</t></si></sst>")
        _workbook(tmp_path / name, {"sheet1.xml": table}, shared=sst)
    grids, findings = read_grids(tmp_path / "big.xlsx", "big.xlsx")
    assert not findings and grids[0].cells[(0, 0)] == "表格"
    grids, findings = read_grids(tmp_path / "lying.xlsx", "lying.xlsx")
    assert not grids and [f.code for f in findings] == ["R001"] and "100000000" in findings[0].message


def test_members_read_from_the_archive_bytes_as_zipfile_reads_them(seed_xlsx):
    """The screening's member reader against zipfile's own, on archives with bytes changed in
    their headers and data (sizes, offsets, names, flags, CRCs, compressed bytes): the same
    bytes or the same exception, whole and as a 64 KiB head."""
    import io
    import random

    from xlsxcheck.reading import _Members

    def outcome(read):
        try:
            return read()
        except Exception as exc:  # noqa: BLE001 - the kind of failure is what is compared
            return type(exc)

    good = seed_xlsx.read_bytes()
    headers = [i for i in range(len(good) - 4) if good[i:i + 2] == b"PK" and good[i + 2] in (1, 3)]
    rng = random.Random(17)
    compared = 0
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            at = rng.choice(headers) + rng.randrange(46) if rng.random() < 0.7 else rng.randrange(len(data))
            data[at] = rng.randrange(256)
        try:
            zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
        except Exception:  # noqa: BLE001 - a broken directory never reaches the member reader
            continue
        members = _Members(zf, bytes(data))
        for info in zf.infolist():
            for limit in (None, 1 << 16, 100):
                ours = outcome(lambda: members.read(info, limit))
                theirs = outcome(lambda: zf.read(info) if limit is None else zf.open(info).read(limit))
                assert ours == theirs, (info.filename, limit)
                compared += 1
    assert compared > 1000
