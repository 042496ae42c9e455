"""The reader on real published filings (tests/real_filings/, transcribed cell by cell with
their source): every expected value at its cell, unit and year, and exactly the findings
listed under `expected.findings` (each verified by hand: the filing's real mistakes, plus
what a truncated page or the template itself makes the tool say, with the reason)."""

from __future__ import annotations

from pathlib import Path

import pytest
from realfilings import all_specs, build_workbook, load

from xlsxcheck.extract import extract_workbook
from xlsxcheck.pipeline import Options, run

SPECS = all_specs()
# The corpus' descriptive row keys, as the reader names the same rows.
ROW_KEYS = {"special_account": "special", "higher_level_grants": "grants"}


def _id(path):
    return path.stem


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("real")
    return {p.stem: build_workbook(load(p), out / f"{p.stem}.xlsx") for p in SPECS}


def _same(value, want) -> bool:
    if want == "blank" or want == "/":
        return value.status == "blank"
    return value.status == "ok" and value.value == pytest.approx(float(want), abs=1e-9)


@pytest.mark.parametrize("path", SPECS, ids=_id)
def test_identity_and_every_expected_value(path, built):
    spec = load(path)
    exp = spec["expected"]
    book = extract_workbook(built[path.stem])
    assert (book.unit, book.year) == (exp["unit"], exp["year"])
    for want in exp["tables"]:
        if "name" in want and want["name"] is None:
            continue  # a table whose head the published page lacks: nothing identifies it
        tables = [t for t in book.tables if t.kind == want["kind"] and t.sheet == want.get("sheet", t.sheet)]
        assert tables, f"no {want['kind']} table on {want.get('sheet')}"
        table = next((t for t in tables if "name" not in want or t.fields["project_name"].value == want["name"]), None)
        assert table is not None, (want.get("name"), [t.fields.get("project_name") for t in tables])
        if "department" in want:
            assert table.fields["department"].value == want["department"]
        for row, cols in (want.get("funds") or {}).items():
            key = ROW_KEYS.get(row, row)
            for col, value in cols.items():
                got = table.fields.get(f"{key}.{col}")
                assert got is not None and _same(got, value), (row, col, value, got)
        if "indicators" in want:
            assert len(table.indicators) == want["indicators"]
        for name, value in (want.get("total") or {}).items():
            got = table.fields.get(f"score_total.{name}")
            assert got is not None and _same(got, value), (name, value, got)


@pytest.mark.parametrize("path", SPECS, ids=_id)
def test_exactly_the_expected_findings(path, built):
    exp = load(path)["expected"]
    result = run([str(built[path.stem])], Options(jobs=1))
    got = sorted(f"{f.code}@{f.cell or '-'}" for f in result.findings)
    assert got == sorted(exp["findings"])


def test_a_filings_findings_do_not_depend_on_the_batch(built):
    """17's table is cut before its 总分 row and lacks an 产出 block (the OCR's "顼目产出"): S206
    says so whether it is checked alone or beside a filing whose table has a 总分 row (a chunk of
    the batch once decided which tables S206 looked at)."""
    alone, other = (str(built[next(p.stem for p in SPECS if p.name.startswith(n))]) for n in ("17_", "01_"))
    findings = [[(f.code, f.cell) for f in run(paths, Options(jobs=1)).findings if f.file.startswith("17_")]
                for paths in ([alone], [other, alone])]
    assert ("S206", "A1") in findings[0]
    assert findings[1] == findings[0]


def test_one_unit_filing_each_project_in_its_own_workbook_is_no_duplicate(built):
    """棠溪镇 published its two project tables as two workbooks (03 and 09): parts of one
    filing, not two versions of it. Both count; neither is superseded."""
    paths = [str(built[p.stem]) for p in SPECS if p.name.startswith(("03_", "09_"))]
    result = run(paths, Options(jobs=1))
    assert [b.unit for b in result.books] == ["池州市贵池区棠溪镇人民政府"] * 2
    assert not [f.code for f in result.findings if f.code.startswith("D")]
    assert [b.superseded_by for b in result.books] == ["", ""]


def test_the_same_project_filed_twice_is_a_duplicate(built, tmp_path):
    import shutil

    first = built[next(p.stem for p in SPECS if p.name.startswith("03_"))]
    again = tmp_path / "again.xlsx"
    shutil.copy(first, again)
    result = run([str(first), str(again)], Options(jobs=1, supersede=("date",)))
    assert sorted(f.code for f in result.findings if f.code.startswith("D")) == ["D601"]


# Each filing as LibreOffice 7.4 saves it, as .xlsx and as .xls (BIFF8): units fill in the
# templates with LibreOffice and WPS as much as with Excel. Made from the built workbooks with
# `soffice --headless --convert-to xls` and `--convert-to xlsx:"Calc MS Excel 2007 XML"`.
RESAVED = sorted((Path(__file__).parent / "real_filings" / "libreoffice").glob("*.xls*"))


def test_every_filing_has_its_libreoffice_copies():
    stems = {p.stem for p in SPECS}
    assert {(p.stem, p.suffix) for p in RESAVED} == {(s, x) for s in stems for x in (".xls", ".xlsx")}


@pytest.mark.parametrize("resaved", RESAVED, ids=lambda p: p.name)
def test_a_filing_saved_by_libreoffice_reads_as_the_original(resaved, built):
    """Another writer's XML (shared strings, styles, spans) and the legacy binary format read
    into the same tables, value for value and cell for cell, and give the same findings."""
    original = built[resaved.stem]
    want, got = extract_workbook(original), extract_workbook(resaved)
    assert (got.unit, got.year) == (want.unit, want.year)
    assert got.tables == want.tables
    findings = [run([str(p)], Options(jobs=1)).findings for p in (original, resaved)]
    assert [(f.code, f.sheet, f.cell, f.message) for f in findings[1]] == [(f.code, f.sheet, f.cell, f.message) for f in findings[0]]


def test_an_unknown_template_is_named_by_its_block_labels_as_written(built):
    """Yinchuan's 项目决策/项目管理/项目产出/项目效益 (17) fit no profile: R013 lists the blocks as
    the unit wrote them, in their order, never the reader's own keys ("benefit35")."""
    path = built[next(p.stem for p in SPECS if p.name.startswith("17_"))]
    [r013] = [f for f in run([str(path)], Options(jobs=1)).findings if f.code == "R013"]
    for lang in ("zh", "en"):
        assert "项目决策(10分)、项目管理(25分)、顼目产出(30分)、项目效益(35分)" in r013.text(lang), r013.text(lang)
