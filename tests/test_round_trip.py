"""A review cycle as a bureau runs it: check, send annotated copies back, receive the
corrected copies, check again, roll up. And what can go wrong on the way: copies read back
as filings, corrections that lose to the originals, workbooks that cannot be annotated."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SAMPLES
from openpyxl import load_workbook

from xlsxcheck.cli import cli
from xlsxcheck.own_outputs import is_untouched_copy, own_output_kind
from xlsxcheck.samples import _UNITS, BUREAU, make_unit, render, unit_canvases

SEED = "01_株洲市保障性住房服务中心_原报.xlsx"
CORRECTED = "02_株洲市保障性住房服务中心_更正.xlsx"
OLD = 1_700_000_000  # a modification time well before the run


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def check_json(*args) -> dict:
    res = invoke("check", *args, "--format", "json", "-q")
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.stdout)


def found(doc: dict, file: str | None = None) -> list[tuple]:
    """(sheet, cell, code, message) of the findings of one file (or all), in report order."""
    return [(f["sheet"], f["cell"], f["code"], f["message"]) for f in doc["findings"] if file is None or f["file"] == file]


def right_workbooks(folder: Path) -> dict[str, Path]:
    """What each unit should have filed, by the name of its file as an .xlsx: the seed as
    corrected, and the generated units rebuilt without their mistakes (same figures, same layout)."""
    folder.mkdir()
    out = {SEED: shutil.copy(SAMPLES / CORRECTED, folder / SEED)}
    rng = random.Random(2023)  # as samples.build_samples draws them: the mistakes draw nothing
    for file, unit, n, _mistakes, layout, _suffix in _UNITS:
        spec = make_unit(rng, unit, BUREAU, n)
        name = Path(file).with_suffix(".xlsx").name
        out[name] = render(unit_canvases(spec, layout, rng), folder / name)
    return {k: Path(v) for k, v in out.items()}


def correct(copy: Path, right: Path, target: Path) -> set[tuple[str, str]]:
    """The unit corrects its annotated copy in place of the cells that are wrong (with the
    values it should have filed), leaves the marks and the 审核问题 sheet, and saves it."""
    wb, good = load_workbook(copy), load_workbook(right)
    changed = set()
    for ws in good.worksheets:
        mine = wb[ws.title]
        for row in ws.iter_rows():
            for cell in row:
                if mine[cell.coordinate].value != cell.value:
                    mine[cell.coordinate].value = cell.value
                    changed.add((ws.title, cell.coordinate))
        for row in mine.iter_rows():  # cells the right workbook leaves empty
            for cell in row:
                if cell.value is not None and ws[cell.coordinate].value is None and type(cell).__name__ == "Cell":
                    cell.value = None
                    changed.add((ws.title, cell.coordinate))
    wb.save(target)
    return changed


@pytest.fixture
def inbox(tmp_path) -> Path:
    """The bureau's folder: the filing of each of its units (the seed as first filed, the units
    samples.py generates), received a while ago."""
    folder = tmp_path / "自评表"
    folder.mkdir()
    for name in (SEED, *(unit[0] for unit in _UNITS)):
        os.utime(shutil.copy(SAMPLES / name, folder / name), (OLD, OLD))
    return folder


def test_full_review_cycle(inbox, tmp_path):
    first = check_json(inbox, "--annotate", inbox / "批注")
    copies = inbox / "批注"
    with_findings = {Path(f["file"]).stem for f in first["files"] if f["errors"] or f["warnings"]}
    assert {p.stem for p in copies.iterdir()} == with_findings and len(with_findings) == 4  # clean units get no copy

    # A copy is marked as ours, and its findings are exactly the original's.
    for copy in copies.iterdir():
        assert own_output_kind(copy) == "annotated-copy" and is_untouched_copy(copy)
        original = next(f["file"] for f in first["files"] if Path(f["file"]).stem == copy.stem)
        assert found(check_json(copy)) == found(first, original)

    # The copies lying inside the checked folder are not filings: the next run is the same.
    again = check_json(inbox)
    assert found(again) == found(first) and "D601" not in {f["code"] for f in again["findings"]}
    assert sorted(Path(p).name for p in again["summary"]["own_outputs"]) == sorted(p.name for p in copies.iterdir())

    # The units correct the marked cells in their copies and send them back.
    right = right_workbooks(tmp_path / "right")
    back = inbox / "返回"
    back.mkdir()
    for copy in copies.iterdir():
        changed = correct(copy, right[copy.name], back / copy.name)
        original = next(f["file"] for f in first["files"] if Path(f["file"]).stem == copy.stem)
        marked = {(sheet, cell) for sheet, cell, *_ in found(first, original) if cell}
        assert len(marked & changed) >= len(marked) // 2  # the corrections are where the marks were
        assert not is_untouched_copy(back / copy.name)
    fixed = check_json(back)
    assert fixed["summary"]["files"] == 4 and fixed["findings"] == []

    # Checked together, each correction supersedes the unit's first filing.
    res = invoke("check", inbox, "--format", "json", "-q")
    assert res.exit_code == 0, res.stdout
    doc = json.loads(res.stdout)
    superseded = doc["summary"]["superseded"]
    assert superseded == {f"{stem}{'.xls' if stem.startswith('07') else '.xlsx'}": f"返回/{stem}.xlsx" for stem in with_findings}
    assert {f["code"] for f in doc["findings"]} == {"D604"} and all(f["severity"] == "info" for f in doc["findings"])

    # The rollup takes the corrected figures.
    rollup = tmp_path / "汇总.xlsx"
    res = invoke("rollup", inbox, "-o", rollup, "-q", "--exclude-errors")
    assert res.exit_code == 0, res.output
    ws = load_workbook(rollup)["单位汇总"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in row))) for row in ws.iter_rows(min_row=2)]
    seed_rows = [r for r in rows if r["单位"] == "株洲市保障性住房服务中心"]
    counted = [r for r in seed_rows if not r.get("状态")]
    assert [r["来源文件"] for r in counted] == [f"返回/{SEED}"]
    assert counted[0]["全年执行数"] == pytest.approx(3243.37)


def test_a_copy_named_explicitly_is_checked_and_one_written_over_is_not_ours(inbox, tmp_path):
    out = tmp_path / "批注"
    check_json(inbox / SEED, "--annotate", out)
    copy = out / SEED
    assert own_output_kind(copy) == "annotated-copy" and is_untouched_copy(copy)
    assert check_json(copy)["summary"]["files"] == 1  # named: checked
    res = invoke("check", out, "-q")  # in a folder: an output, not a filing
    assert res.exit_code == 2 and str(out) in res.output and "xlsxcheck" in res.output
    wb = load_workbook(copy)  # opened and saved again, e.g. by the unit: a filing now
    wb.save(copy)
    assert own_output_kind(copy) == "annotated-copy" and not is_untouched_copy(copy)
    assert check_json(out)["summary"]["files"] == 1


def test_a_rollup_anywhere_in_the_folder_is_skipped_with_its_reason(inbox):
    from openpyxl.packaging.custom import StringProperty

    wb = load_workbook(inbox / "03_株洲市住房公积金服务中心.xlsx")  # looks like a filing, but is marked as a rollup
    wb.custom_doc_props.append(StringProperty(name="xlsxcheck-output", value="rollup"))
    (inbox / "上报").mkdir()
    wb.save(inbox / "上报" / "汇总.xlsx")
    doc = check_json(inbox)
    assert doc["summary"]["own_outputs"] == {str(inbox / "上报" / "汇总.xlsx"): "rollup"}
    assert all("汇总" not in f["file"] for f in doc["files"])
    res = invoke("check", inbox / "上报" / "汇总.xlsx")  # even named explicitly
    assert res.exit_code == 2
    text = invoke("check", inbox).stdout
    assert "已跳过 1 个 xlsxcheck 生成的汇总表" in text


def test_a_returned_copy_is_checked_without_its_findings_sheet(tmp_path):
    out = tmp_path / "批注"
    first = check_json(SAMPLES / SEED, "--annotate", out)
    copy = out / SEED
    wb = load_workbook(copy)
    assert wb.sheetnames[0] == "审核问题"
    wb.save(tmp_path / "returned.xlsx")  # unchanged content, but saved again
    doc = check_json(tmp_path / "returned.xlsx")
    assert found(doc) == found(first)  # no R006/R007/R012 from the 审核问题 sheet
    # annotated again: one 审核问题 sheet, the new one
    check_json(tmp_path / "returned.xlsx", "--annotate", tmp_path / "again")
    assert load_workbook(tmp_path / "again" / "returned.xlsx").sheetnames.count("审核问题") == 1


def test_findings_sheet_is_fit_to_send(tmp_path):
    out = tmp_path / "批注"
    doc = check_json(SAMPLES / SEED, "--annotate", out)
    ws = load_workbook(out / SEED)["审核问题"]
    top = "\n".join(str(ws.cell(row=r, column=1).value) for r in range(1, 5))
    assert "株洲市保障性住房服务中心" in top and SEED in top and "错误 14 项" in top and "修改标注单元格后可删除本表" in top
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A6:")
    assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4) and ws.page_setup.orientation == "landscape"
    assert ws.freeze_panes == "A7"
    severities = {ws.cell(row=r, column=5).value: ws.cell(row=r, column=5).fill.start_color.rgb for r in range(7, ws.max_row + 1)}
    assert severities["错误"].endswith("FFC7CE") and severities["警告"].endswith("FFEB9C")
    assert ws.max_row == 6 + len(doc["findings"])


# --- corrections ---------------------------------------------------------------------------


def test_the_correction_wins_over_the_first_filing(tmp_path):
    """The issue's case: 01_…_原报 and 02_…_更正 of one unit; the correction (later 填报日期) counts."""
    for name in (SEED, CORRECTED):
        os.utime(shutil.copy(SAMPLES / name, tmp_path / name), (OLD, OLD))
    res = invoke("check", tmp_path, "--format", "json", "-q")
    doc = json.loads(res.stdout)
    assert res.exit_code == 0  # the first filing's mistakes are moot
    assert [(Path(f["file"]).name, f["code"], f["severity"]) for f in doc["findings"]] == [(SEED, "D604", "info")]
    assert "2024-04-20" in doc["findings"][0]["message"]
    files = {f["file"]: f for f in doc["files"]}
    assert files[SEED]["superseded_by"] == CORRECTED and files[CORRECTED]["superseded_by"] is None


@pytest.mark.parametrize("names, times, kept, code", [
    (("a.xlsx", "b.xlsx"), (OLD, OLD + 60), "b.xlsx", "D604"),  # saved later
    (("b.xlsx", "a.xlsx"), (OLD, OLD + 60), "a.xlsx", "D604"),  # saved later, whatever the name
    (("a_更正.xlsx", "b.xlsx"), (OLD, OLD), "a_更正.xlsx", "D604"),  # same time: the name says correction
    (("a.xlsx", "b.xlsx"), (OLD, OLD), "a.xlsx", "D601"),  # nothing tells them apart: the bureau decides
])
def test_which_filing_is_the_latest(tmp_path, names, times, kept, code):
    for name, t in zip(names, times):
        os.utime(shutil.copy(SAMPLES / CORRECTED, tmp_path / name), (t, t))
    res = invoke("check", tmp_path, "--format", "json", "-q")
    doc = json.loads(res.stdout)
    other = next(n for n in names if n != kept)
    assert [(f["file"], f["code"]) for f in doc["findings"]] == [(other, code)]
    assert res.exit_code == (1 if code == "D601" else 0)
    assert doc["summary"]["superseded"] == {other: kept}


def test_supersede_order_is_configurable(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.utime(shutil.copy(SAMPLES / CORRECTED, folder / "a_更正.xlsx"), (OLD, OLD))
    os.utime(shutil.copy(SAMPLES / CORRECTED, folder / "b.xlsx"), (OLD + 60, OLD + 60))
    (tmp_path / "xlsxcheck.toml").write_text('supersede = ["mark", "mtime"]\n', encoding="utf-8")
    doc = check_json(folder)
    assert doc["summary"]["superseded"] == {"b.xlsx": "a_更正.xlsx"}
    (tmp_path / "xlsxcheck.toml").write_text('supersede = ["newest"]\n', encoding="utf-8")
    res = invoke("check", folder)
    assert res.exit_code == 2 and "newest" in res.output


# --- annotate never aborts the batch (issue 13, item 3) --------------------------------------


def _hostile_xls(path: Path) -> Path:
    """An .xls calamine reads: a sheet name with [ ] :, a control character, NaN and infinity,
    a blank merged block far below the cells."""
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("aQ1QQb")  # xlwt refuses [ ] :, Excel files have them
    ws.write(0, 0, "单位\x01名称")
    ws.write(1, 0, float("nan"))
    ws.write(2, 0, float("inf"))
    ws.write_merge(30, 35, 0, 3, "")
    wb.save(str(path))
    path.write_bytes(path.read_bytes().replace(b"aQ1QQb", b"a[1]:b"))
    return path


def _openpyxl_refuses(source: Path, target: Path) -> Path:
    """A workbook calamine reads and openpyxl cannot load (a broken docProps/core.xml)."""
    import zipfile

    with zipfile.ZipFile(source) as zi, zipfile.ZipFile(target, "w") as zo:
        for info in zi.infolist():
            zo.writestr(info.filename, b"<broken" if info.filename == "docProps/core.xml" else zi.read(info))
    return target


def test_annotate_survives_every_workbook_it_cannot_copy_as_is(tmp_path):
    folder = tmp_path / "in"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    _hostile_xls(folder / "a" / "单位.xls")
    shutil.copy(SAMPLES / "07_株洲市市政设施维护中心.xls", folder / "b" / "单位.xls")
    shutil.copy(SAMPLES / "04_株洲市建设工程质量安全监督站.xlsx", folder / "b" / "单位.xlsx")  # one stem, two formats
    _openpyxl_refuses(SAMPLES / SEED, folder / "坏.xlsx")
    long_name = "株" * 80 + ".xlsx"  # 245 bytes: too long with a temporary suffix
    shutil.copy(SAMPLES / "06_株洲市建筑节能与科技服务中心.xlsx", folder / long_name)
    out = tmp_path / "批注"
    res = invoke("check", folder, "--annotate", out, "--annotate-clean", "--format", "json", "-q")
    assert res.exit_code == 1 and "Traceback" not in res.output
    doc = json.loads(res.stdout)
    d605 = [f for f in doc["findings"] if f["code"] == "D605"]
    assert [f["file"] for f in d605] == ["坏.xlsx"] and d605[0]["severity"] == "warning"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xlsx"))
    shortened = written.pop()
    assert written == ["a/单位.xlsx", "b/单位(2).xlsx", "b/单位.xlsx"]
    assert shortened.startswith("株" * 50) and shortened.endswith("….xlsx") and len(shortened.encode()) <= 190
    hostile = load_workbook(out / "a" / "单位.xlsx")
    assert hostile.sheetnames == ["审核问题", "a_1__b"]
    assert [c.value for c in hostile["a_1__b"]["A"][:3]] == ["单位名称", "nan", "inf"]
    for copy in out.rglob("*.xlsx"):  # every copy opens, and is ours
        assert own_output_kind(copy) == "annotated-copy"
    text = invoke("check", folder, "--annotate", tmp_path / "批注2", "-q")
    assert "D605" in text.stdout and "无法标注" in text.stderr
    assert "D605" not in invoke("check", folder, "--annotate", tmp_path / "批注3", "-q", "--ignore", "D605").stdout


def test_comments_and_listing_are_xml_safe(tmp_path):
    """Text that reaches a copy from outside the cells (a waiver's explanation, a file name)
    may hold control characters, which no XML part can."""
    from xlsxcheck.catalog import make_finding
    from xlsxcheck.report.annotate import annotate_book

    finding = make_finding("I301", "u\x01.xlsx", "Sheet2", "F17", unit="单位\x1b[2J", actual="≥588万", expected="588万", label="收缴")
    waived = make_finding("R007", "u\x01.xlsx", "Sheet2", "E4", actual="3243..37", expected="金额")
    waived = dataclasses.replace(waived, waived="已确认\x0b")
    copy = annotate_book(SAMPLES / SEED, "u\x01.xlsx", "单位\x1b[2J", 2023, [finding, waived], tmp_path / "u.xlsx")
    wb = load_workbook(copy)
    assert "已确认" in wb["Sheet2"]["E4"].comment.text and "\x0b" not in wb["Sheet2"]["E4"].comment.text
    listing = "".join(str(c.value) for row in wb["审核问题"].iter_rows() for c in row if c.value)
    assert "u.xlsx" in listing and "\x01" not in listing and "\x1b" not in listing


def test_no_copy_of_a_workbook_with_a_sheet_of_millions_of_cells(tmp_path):
    wb = load_workbook(SAMPLES / CORRECTED)
    far = wb.create_sheet("过大")
    far["A1"], far["XFD1048576"] = "表", " "  # the check skips the sheet (R011); openpyxl would load it whole
    wb.save(tmp_path / "u.xlsx")
    doc = check_json(tmp_path / "u.xlsx", "--annotate", tmp_path / "out")
    assert {f["code"] for f in doc["findings"]} == {"R011", "D605"}
    assert "R011" in next(f["message"] for f in doc["findings"] if f["code"] == "D605")
    assert not (tmp_path / "out" / "u.xlsx").exists()
