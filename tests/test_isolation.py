"""One hostile workbook never takes down a batch: crashes, panics and slow files cost only
that file, with its own finding; every other file is checked as if it were alone."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import SAMPLES
from hypothesis import HealthCheck, given, settings, strategies as st

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
    assert codes.pop("坏文件.xlsx") == ["R017"]
    assert codes == alone
    crash = next(f for f in result.findings if f.code == "R017")
    assert "SIGABRT" in crash.message and crash.file.endswith("坏文件.xlsx")
    assert [Path(b.file).name for b in result.books] == sorted(GOOD + ["坏文件.xlsx"])
    assert not next(b for b in result.books if b.file == crash.file).readable


def test_a_file_over_its_time_budget_is_stopped_and_reported(tmp_path, monkeypatch, alone):
    _sabotage(monkeypatch, "坏文件.xlsx", lambda: time.sleep(600))
    start = time.monotonic()
    result = run([str(_batch(tmp_path))], Options(jobs=2, timeout=3))
    assert time.monotonic() - start < 60
    codes = _codes(result)
    assert codes.pop("坏文件.xlsx") == ["R018"]
    assert codes == alone
    assert "3 秒" in next(f.message for f in result.findings if f.code == "R018")


def test_the_time_budget_is_each_file_s_not_the_chunk_s(tmp_path, monkeypatch, alone):
    """Four files of one chunk, each 1.2 s in a worker, under a budget of 2 s a file: none is
    stopped (the worker tells the parent which file it is on, and since when)."""
    import xlsxcheck.extract as extract

    real = extract.extract_grids

    def slow(grids, path, file):
        time.sleep(1.2)
        return real(grids, path, file)

    monkeypatch.setattr(extract, "extract_grids", slow)
    result = run([str(_batch(tmp_path))], Options(jobs=1, timeout=2))
    codes = _codes(result)
    assert "R018" not in codes.pop("坏文件.xlsx")
    assert codes == alone


def _real_panic(tmp_path: Path) -> BaseException:
    """The exception calamine raises when it panics (pyo3's PanicException, a BaseException),
    on the file whose shared strings declare 2^64-1 entries (the screening stops it before)."""
    import python_calamine as pc
    from corpus import hostile_files

    hostile_files(tmp_path / "hostile")
    try:
        pc.CalamineWorkbook.from_path(str(tmp_path / "hostile" / "共享字符串溢出.xlsx"))
    except BaseException as exc:  # noqa: B036  the point: it is not an Exception
        return exc
    raise AssertionError("calamine no longer panics on this file")


def test_a_panic_from_native_code_becomes_a_finding(tmp_path, monkeypatch, alone):
    panic = _real_panic(tmp_path)
    assert not isinstance(panic, Exception)

    def act():
        raise panic

    _sabotage(monkeypatch, "坏文件.xlsx", act)
    result = run([str(_batch(tmp_path))], Options(jobs=1))
    codes = _codes(result)
    assert codes.pop("坏文件.xlsx") == ["R017"]
    assert codes == alone
    assert "PanicException" in next(f.message for f in result.findings if f.code == "R017")


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
    assert codes.pop("坏文件.xlsx") == ["R017"]
    assert codes == alone


# --- written reports: read in the workers too ----------------------------------------------

REPORTED = ["01_株洲市保障性住房服务中心_原报", "03_株洲市住房公积金服务中心"]


def _reports_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    for stem in REPORTED:
        shutil.copy(SAMPLES / f"{stem}.xlsx", folder)
        shutil.copy(SAMPLES / f"{stem}_自评报告.docx", folder)
    return folder


def _sabotage_report(monkeypatch, culprit: str, act) -> None:
    """Reading the culprit report does ``act()`` in the worker (pdfminer on a crafted PDF can
    hang; a native library can abort)."""
    import xlsxcheck.narrative.check as check

    real = check.read_report

    def hostile(path, file):
        if Path(path).name == culprit:
            act()
        return real(path, file)

    monkeypatch.setattr(check, "read_report", hostile)


@pytest.mark.parametrize("how", ["abort", "hang"])
def test_a_report_whose_reader_dies_or_hangs_costs_only_that_report(tmp_path, monkeypatch, how):
    folder = _reports_folder(tmp_path)
    options = Options(jobs=1, timeout=3)
    before = [(f.file, f.code, f.sheet, f.cell, f.message) for f in run([str(folder)], options).findings]
    culprit = f"{REPORTED[0]}_自评报告.docx"
    _sabotage_report(monkeypatch, culprit, os.abort if how == "abort" else lambda: time.sleep(600))
    start = time.monotonic()
    result = run([str(folder)], options)
    assert time.monotonic() - start < 60
    after = [(f.file, f.code, f.sheet, f.cell, f.message) for f in result.findings]
    [crash] = [f for f in after if f[0] == culprit]
    assert crash[1] == "N720" and ("SIGABRT" in crash[4] if how == "abort" else "3 秒" in crash[4])
    assert [f for f in after if f[0] != culprit] == [f for f in before if f[0] != culprit]
    assert any(f[0] == culprit for f in before if f[1] != "N720")  # the report has findings of its own when read
    report = next(r for r in result.reports if r.file == culprit)
    assert not report.readable and report.workbook == f"{REPORTED[0]}.xlsx"  # paired by its name: no N731


def test_the_parent_process_never_imports_pandas():
    """pandas and pandera are for the workers: the parent of a run whose folder holds written
    reports (sample_workbooks/ does) stays without them, through the API and the CLI."""
    import subprocess
    import sys

    script = """
import sys
from xlsxcheck.cli import cli
from xlsxcheck.pipeline import Options, run

result = run([sys.argv[1]], Options(jobs=1))
assert result.reports and any(f.code.startswith("N") for f in result.findings), "no report was checked"
for fmt in ("text", "json"):
    try:
        cli(["check", sys.argv[1], "-q", "--format", fmt, "-o", sys.argv[2] + "." + fmt])
    except SystemExit as exit:
        assert exit.code == 1, exit.code
print(sorted(m for m in ("pandas", "pandera") if m in sys.modules))
"""
    with_reports = [p for p in SAMPLES.iterdir() if p.suffix == ".docx"]
    assert with_reports
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, "-c", script, str(SAMPLES), f"{out}/report"],
                              capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


# --- the screening catches the hostile files before calamine -------------------------

def test_hostile_files_get_their_finding_and_the_batch_completes(tmp_path, alone):
    """Each of these aborted, panicked or stalled the reader (see corpus.hostile_files); in one
    batch with good files, each gets the screening's finding, and the good files theirs."""
    from corpus import hostile_files

    folder = _batch(tmp_path)
    (folder / "坏文件.xlsx").unlink()
    expect = hostile_files(folder)
    start = time.monotonic()
    result = run([str(folder)], Options(jobs=2))
    assert time.monotonic() - start < 120  # the unclosed formulas and the merges once took minutes
    codes = _codes(result)
    assert {name: set(codes.pop(name)) for name in expect} == {name: {code} for name, code in expect.items()}
    assert codes == alone
    sheets = sorted(f.sheet for f in result.findings if f.file.endswith("一表两名.xlsx"))
    assert sheets == ["乙", "甲"]  # one part under two names: skipped under both


# --- names of any bytes, text neutralised at every boundary --------------------------------

def _cli(*args):
    from click.testing import CliRunner

    from xlsxcheck.cli import cli

    return CliRunner().invoke(cli, [*map(str, args), "-q"], catch_exceptions=False)


def test_a_file_name_that_is_not_utf8_is_checked_and_every_output_stays_utf8(tmp_path):
    import json

    folder = tmp_path / "in"
    folder.mkdir()
    gbk = os.fsdecode(str(folder).encode() + "/单位自评表.xlsx".encode("gbk"))  # from a zip made on Chinese Windows
    shutil.copy(SAMPLES / "01_株洲市保障性住房服务中心_原报.xlsx", gbk)
    shutil.copy(SAMPLES / "06_株洲市建筑节能与科技服务中心.xlsx", folder)
    shown = "单位自评表.xlsx".encode("gbk").decode("utf-8", "backslashreplace")  # \\xb5\\xa5λ\\xd7…: λ is valid UTF-8
    assert shown.startswith("\\xb5\\xa5")
    outputs = {fmt: tmp_path / f"out.{fmt}" for fmt in ("json", "csv", "text")}
    for fmt, out in outputs.items():
        res = _cli("check", folder, "--format", fmt, "-o", out)
        assert res.exit_code in (0, 1), res.output
        text = out.read_bytes().decode("utf-8")  # strict: valid UTF-8
        assert shown in (text if fmt != "json" else "".join(f["file"] for f in json.loads(text)["findings"]))
    doc = json.loads(outputs["json"].read_text(encoding="utf-8"))
    book = next(f for f in doc["files"] if f["file"].endswith(shown))
    assert book["tables"] == 4 and book["unit"] == "株洲市保障性住房服务中心" and book["errors"]  # checked like any other
    res = _cli("check", folder, "--format", "json")  # stdout too
    assert json.loads(res.stdout_bytes.decode("utf-8"))["summary"]["files"] == 2
    res = _cli("rollup", folder, "-o", tmp_path / "汇总.xlsx")
    assert res.exit_code in (0, 1), res.output
    from openpyxl import load_workbook

    cells = [str(c.value) for ws in load_workbook(tmp_path / "汇总.xlsx") for row in ws.iter_rows() for c in row if c.value]
    assert any(shown in c for c in cells)


def test_printable_escapes_only_undecodable_bytes():
    from xlsxcheck.textsafety import for_csv, for_terminal, printable

    name = os.fsdecode(b"\xb5\xa5/\xe5\x8d\x95\xe4\xbd\x8d.xlsx")
    assert printable(name) == "\\xb5\\xa5/单位.xlsx"
    assert for_terminal("单位\x1b[2J\x1b[H\x9b1m\u202e") == "单位\\x1b[2J\\x1b[H\\x9b1m\\u202e"
    assert [for_csv(v) for v in ("=1+1", "+1", "-cmd", "@SUM(A1)", "\tx", "-12.5", "98%", "单位")] == \
        ["'=1+1", "+1", "'-cmd", "'@SUM(A1)", "\\x09x", "-12.5", "98%", "单位"]


HOSTILE_UNIT = "\x1b[2J\x1b[H\x1b]8;;http://evil.example\x07株洲市测试中心\x1b]8;;\x07"


@pytest.fixture(scope="module")
def hostile_unit(tmp_path_factory) -> Path:
    """A legacy .xls (which can hold control characters) whose unit name clears the screen and
    carries an OSC 8 hyperlink, and one whose unit name is a formula; both with mistakes."""
    import random

    from xlsxcheck.samples import MISTAKES, Layout, make_unit, render, unit_canvases

    folder = tmp_path_factory.mktemp("hostile")
    for name, unit in (("escapes.xls", HOSTILE_UNIT), ("formula.xls", '=HYPERLINK("http://evil.example","点我")')):
        spec = make_unit(random.Random(3), unit, "测试局", 1, mistakes=MISTAKES[:2])
        render(unit_canvases(spec, Layout()), folder / name)
    return folder


@pytest.mark.parametrize("where", ["stdout", "file"])
def test_no_escape_sequence_from_a_workbook_reaches_the_text_report(hostile_unit, tmp_path, where):
    out = tmp_path / "report.txt"
    res = _cli("check", hostile_unit, "--no-color", *(["-o", out] if where == "file" else []))
    text = out.read_text(encoding="utf-8") if where == "file" else res.stdout
    assert "株洲市测试中心" in text and "\\x1b[2J" in text  # shown, but harmless
    assert not any(ch in text for ch in "\x1b\x07\x9b")


def test_colored_report_carries_only_its_own_escape_sequences(hostile_unit):
    res = _cli("check", hostile_unit, "--color")
    assert "\x1b[" in res.stdout  # rich's colors
    assert "\x1b[2J" not in res.stdout and "\x1b]8" not in res.stdout and "\x07" not in res.stdout


def test_csv_cells_cannot_become_formulas(hostile_unit, tmp_path):
    import csv

    out = tmp_path / "report.csv"
    _cli("check", hostile_unit, "--format", "csv", "--lang", "en", "-o", out)
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    units = {r["unit"] for r in rows}
    assert "'=HYPERLINK(\"http://evil.example\",\"点我\")" in units
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "@", "\t", "\r")) and "\x1b" not in value
            assert not value.startswith(("+", "-")) or value.lstrip("+-").replace(".", "").replace("%", "").isdigit()


# --- outputs --------------------------------------------------------------------------------

def test_a_fifo_target_is_written_directly_and_stays_a_fifo(tmp_path):
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    res = _cli("check", SAMPLES / "03_株洲市住房公积金服务中心.xlsx", "--format", "json", "-o", fifo)
    reader.join(timeout=60)
    assert res.exit_code == 0, res.output
    assert b'"schema_version"' in got[0]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


@pytest.mark.parametrize("which", ["registry", "waivers", "config"])
def test_registry_waivers_and_config_are_inputs_never_overwritten(tmp_path, which):
    from openpyxl import Workbook

    files = {"registry": tmp_path / "单位名录.xlsx", "waivers": tmp_path / "审核说明.xlsx", "config": tmp_path / "x.toml"}
    for key, header in (("registry", ["单位名称", "主管部门"]), ("waivers", ["单位", "规则", "字段", "说明"])):
        wb = Workbook()
        wb.active.append(header)
        wb.save(files[key])
    files["config"].write_text('lang = "zh"\n', encoding="utf-8")
    before = files[which].read_bytes()
    sample = SAMPLES / "03_株洲市住房公积金服务中心.xlsx"
    commands = [["check", sample, "--format", "json"]] + ([["rollup", sample]] if which != "config" else [])
    for cmd in commands:
        res = _cli(*cmd, f"--{which}", files[which], "-o", files[which])
        assert res.exit_code == 2 and "拒绝覆盖" in res.output, res.output
    assert files[which].read_bytes() == before


def test_the_configuration_used_is_named_and_one_from_the_inbox_is_warned_about(tmp_path):
    import json

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "01_株洲市保障性住房服务中心_原报.xlsx", inbox)
    (inbox / "xlsxcheck.toml").write_text('ignore = ["B", "F", "R", "S", "I", "X"]\n', encoding="utf-8")
    res = _cli("check", inbox, "--format", "json")
    doc = json.loads(res.stdout)
    assert doc["config"] == {"path": str((inbox / "xlsxcheck.toml").resolve()), "inside_checked_folder": True}
    assert "被审核文件夹内的配置文件" in res.stderr
    text = _cli("check", inbox, "--no-color").stdout
    assert text.splitlines()[0] == f"配置文件：{(inbox / 'xlsxcheck.toml').resolve()}"
    assert "位于被审核的文件夹内" in text.splitlines()[1]
    outside = tmp_path / "settings.toml"
    outside.write_text('lang = "zh"\n', encoding="utf-8")
    res = _cli("check", inbox, "--format", "json", "--config", outside)  # chosen, so no warning
    assert json.loads(res.stdout)["config"] == {"path": str(outside.resolve()), "inside_checked_folder": False}
    assert "被审核文件夹内" not in res.stderr


def test_symlinked_subfolders_are_reported_not_followed(tmp_path):
    import json

    inbox = tmp_path / "inbox"
    elsewhere = tmp_path / "elsewhere"
    inbox.mkdir()
    elsewhere.mkdir()
    shutil.copy(SAMPLES / "03_株洲市住房公积金服务中心.xlsx", inbox)
    shutil.copy(SAMPLES / "06_株洲市建筑节能与科技服务中心.xlsx", elsewhere)
    (inbox / "链接").symlink_to(elsewhere, target_is_directory=True)
    (inbox / "循环").symlink_to(inbox, target_is_directory=True)
    doc = json.loads(_cli("check", inbox, "--format", "json").stdout)
    assert doc["summary"]["files"] == 1
    assert sorted(Path(p).name for p in doc["summary"]["skipped_symlinks"]) == ["循环", "链接"]
    text = _cli("check", inbox, "--no-color").stdout
    assert "未跟随的符号链接文件夹" in text and "链接" in text


def test_unreadable_subfolders_are_reported(tmp_path):
    """In a child process that cannot override folder permissions (as root: without the
    capabilities that let root read any folder)."""
    import json
    import subprocess
    import sys

    shutil.copy(SAMPLES / "03_株洲市住房公积金服务中心.xlsx", tmp_path)
    locked = tmp_path / "上锁"
    locked.mkdir()
    shutil.copy(SAMPLES / "06_株洲市建筑节能与科技服务中心.xlsx", locked)
    locked.chmod(0o000)
    bounded = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    try:
        proc = subprocess.run([*bounded, sys.executable, "-m", "xlsxcheck", "check", str(tmp_path), "--format", "json", "-q"],
                              capture_output=True, text=True, timeout=300)
        text = subprocess.run([*bounded, sys.executable, "-m", "xlsxcheck", "check", str(tmp_path), "-q"],
                              capture_output=True, text=True, timeout=300).stdout
    finally:
        locked.chmod(0o755)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["summary"]["files"] == 1 and doc["summary"]["unreadable_folders"] == [str(locked)]
    assert f"无法读取的文件夹（其中的文件未审核）：{locked}" in text


# --- fuzz: one mutated workbook among good ones never costs the others ----------------------

_SNIPPETS = [
    b'<c r="XFD1048576"><v>1</v></c>', b"<row>" + b"<c/>" * 300 + b"</row>", b'<row r="1048576"><c><v>1</v></c></row>',
    b'uniqueCount="99999999999"', b'count="18446744073709551615"', b'<!DOCTYPE x [<!ENTITY a "b">]>',
    b'<mergeCell ref="A1:XFD1048576"/>', b"<c><f>", b"\x00\xff\xfe", b'<sheet name="S" sheetId="9" r:id="rId1"/>',
    b'<c r="A1" t="s"><v>4294967295</v></c>', b'<dimension ref="A1:XFD1048576"/>', b"]]>", b"&lol;",
]


def _mutated_members(data: st.DataObject, members: dict[str, bytes]) -> dict[str, bytes]:
    name = data.draw(st.sampled_from(sorted(members)), label="part")
    part = bytearray(members[name])
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        at = data.draw(st.integers(0, len(part)), label="at")
        kind = data.draw(st.sampled_from(["insert", "flip", "truncate", "delete"]), label="kind")
        if kind == "insert":
            part[at:at] = data.draw(st.one_of(st.sampled_from(_SNIPPETS), st.binary(max_size=20)), label="bytes")
        elif kind == "flip" and at < len(part):
            part[at] ^= data.draw(st.integers(1, 255), label="mask")
        elif kind == "truncate":
            del part[at:]
        else:
            del part[at:at + data.draw(st.integers(1, 200), label="length")]
    return {**members, name: bytes(part)}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_batch_with_one_mutated_workbook_reports_all_the_others(tmp_path_factory, alone, data):
    import zipfile

    folder = tmp_path_factory.mktemp("fuzz")
    for name in GOOD:
        shutil.copy(SAMPLES / name, folder / name)
    with zipfile.ZipFile(SAMPLES / "04_株洲市建设工程质量安全监督站.xlsx") as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    with zipfile.ZipFile(folder / "变异.xlsx", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in _mutated_members(data, members).items():
            zf.writestr(name, body)
    result = run([str(folder)], Options(jobs=2, timeout=20))
    codes = _codes(result)
    mutated = codes.pop("变异.xlsx")
    assert codes == alone
    assert "R099" not in mutated
    assert [Path(b.file).name for b in result.books] == sorted(GOOD + ["变异.xlsx"])
