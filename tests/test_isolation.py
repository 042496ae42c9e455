"""One hostile workbook never takes down a batch: crashes, panics and slow files cost only
that file, with its own finding; every other file is checked as if it were alone."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import SAMPLES

from xlsxcheck.pipeline import Options, run

GOOD = ["01_株洲市保障性住房服务中心_原报.xlsx", "03_株洲市住房公积金服务中心.xlsx", "06_株洲市建筑节能与科技服务中心.xlsx"]


def _batch(tmp_path: Path, culprit: str = "坏文件.xlsx") -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in GOOD:
        shutil.copy(SAMPLES / name, folder / name)
    shutil.copy(SAMPLES / "04_株洲市建设工程质量安全监督站.xlsx", folder / culprit)
    return folder


def _codes(result) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {Path(b.file).name: [] for b in result.books}
    for f in result.findings:
        out.setdefault(Path(f.file).name, []).append(f.code)
    return out


@pytest.fixture(scope="module")
def alone() -> dict[str, list[str]]:
    """The findings of each good file checked on its own: what the batch must still give."""
    return {name: _codes(run([str(SAMPLES / name)], Options(jobs=1)))[name] for name in GOOD}


def _sabotage(monkeypatch, culprit: str, act) -> None:
    """The culprit's extraction does ``act()`` (a real abort, a hang, a panic) in the worker."""
    import xlsxcheck.extract as extract

    real = extract.extract_grids

    def hostile(grids, path, file):
        if Path(path).name == culprit:
            act()
        return real(grids, path, file)

    monkeypatch.setattr(extract, "extract_grids", hostile)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_that_dies_costs_only_its_file(tmp_path, monkeypatch, alone, jobs):
    _sabotage(monkeypatch, "坏文件.xlsx", os.abort)  # SIGABRT, as calamine does on a failed allocation
    result = run([str(_batch(tmp_path))], Options(jobs=jobs))
    codes = _codes(result)
    assert codes.pop("坏文件.xlsx") == ["R015"]
    assert codes == alone
    crash = next(f for f in result.findings if f.code == "R015")
    assert "SIGABRT" in crash.message and crash.file.endswith("坏文件.xlsx")
    assert [Path(b.file).name for b in result.books] == sorted(GOOD + ["坏文件.xlsx"])
    assert not next(b for b in result.books if b.file == crash.file).readable


def test_a_file_over_its_time_budget_is_stopped_and_reported(tmp_path, monkeypatch, alone):
    _sabotage(monkeypatch, "坏文件.xlsx", lambda: time.sleep(600))
    start = time.monotonic()
    result = run([str(_batch(tmp_path))], Options(jobs=2, timeout=3))
    assert time.monotonic() - start < 60
    codes = _codes(result)
    assert codes.pop("坏文件.xlsx") == ["R016"]
    assert codes == alone
    assert "3 秒" in next(f.message for f in result.findings if f.code == "R016")


def _real_panic() -> BaseException:
    """The exception calamine raises when it panics (pyo3's PanicException, a BaseException)."""
    import io
    import zipfile

    import python_calamine as pc

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        zf.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets/></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
                    'Target="sharedStrings.xml"/></Relationships>')
        zf.writestr("xl/sharedStrings.xml", '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                    'count="1" uniqueCount="18446744073709551615"><si><t>x</t></si></sst>')
    try:
        pc.CalamineWorkbook.from_filelike(io.BytesIO(buf.getvalue()))
    except BaseException as exc:  # noqa: B036  the point: it is not an Exception
        return exc
    raise AssertionError("calamine no longer panics on this file")


def test_a_panic_from_native_code_becomes_a_finding(tmp_path, monkeypatch, alone):
    panic = _real_panic()
    assert not isinstance(panic, Exception)

    def act():
        raise panic

    _sabotage(monkeypatch, "坏文件.xlsx", act)
    result = run([str(_batch(tmp_path))], Options(jobs=1))
    codes = _codes(result)
    assert codes.pop("坏文件.xlsx") == ["R015"]
    assert codes == alone
    assert "PanicException" in next(f.message for f in result.findings if f.code == "R015")


def test_a_worker_that_dies_while_checking_the_chunk_is_found_by_rerunning_files_alone(tmp_path, monkeypatch, alone):
    import xlsxcheck.checks.filing_date as rule

    real = rule.check

    def hostile(ctx):
        if any(b.file.endswith("坏文件.xlsx") for b in ctx.batch.books):
            os.abort()
        return real(ctx)

    monkeypatch.setattr(rule, "check", hostile)
    result = run([str(_batch(tmp_path))], Options(jobs=1))
    codes = _codes(result)
    assert codes.pop("坏文件.xlsx") == ["R015"]
    assert codes == alone
