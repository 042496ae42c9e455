"""The command line as a clerk uses it, through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, SAMPLES

from xlsxcheck.catalog import load_catalog
from xlsxcheck.cli import cli

SEED = SAMPLES / "01_株洲市保障性住房服务中心_原报.xlsx"
FIXED = SAMPLES / "02_株洲市保障性住房服务中心_更正.xlsx"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def folder(tmp_path) -> Path:
    out = tmp_path / "自评表"
    out.mkdir()
    for name in ("01_株洲市保障性住房服务中心_原报.xlsx", "03_株洲市住房公积金服务中心.xlsx", "07_株洲市市政设施维护中心.xls"):
        shutil.copy(SAMPLES / name, out / name)
    return out


def test_text_report_groups_by_file_and_sheet_without_ansi_when_piped(folder):
    res = invoke("check", folder)
    assert res.exit_code == 1
    out = res.stdout
    assert "\x1b[" not in out
    assert out.index("01_株洲市保障性住房服务中心_原报.xlsx") < out.index("Sheet1") < out.index("D3") < out.index("Sheet2")
    assert "B401" in out and "161.11%" in out and "177.78%" in out
    assert "未发现问题" in out  # the clean unit says so
    assert "共 3 个文件" in out


def test_color_only_when_asked_or_on_a_terminal(folder):
    assert "\x1b[" in invoke("check", folder, "--color").stdout


def test_text_fits_80_columns(folder):
    res = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["check", str(folder)])
    lines = [line for line in res.stdout.splitlines() if not line.startswith(str(folder))]  # file names stay whole
    from rich.cells import cell_len

    assert lines and max(cell_len(line.rstrip()) for line in lines) <= 80


def test_json_schema(folder):
    res = invoke("check", folder, "--format", "json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 1 and doc["summary"]["files"] == 3
    assert {"file", "sheet", "cell", "code", "severity", "message", "expected", "actual"} <= set(doc["findings"][0])
    assert all(f["severity"] in ("error", "warning", "info") for f in doc["findings"])
    first = next(f for f in doc["findings"] if f["code"] == "B401")
    assert (first["sheet"], first["cell"], first["actual"], first["expected"]) == ("Sheet1", "D3", "177.78%", "161.11%")
    summary = {Path(f["file"]).name: f for f in doc["files"]}
    assert summary["03_株洲市住房公积金服务中心.xlsx"]["errors"] == 0
    assert summary["01_株洲市保障性住房服务中心_原报.xlsx"]["total_score"] == 94
    assert doc["summary"]["errors"] == sum(f["errors"] for f in doc["files"])


def test_csv_and_output_file(folder, tmp_path):
    target = tmp_path / "out" / "问题.csv"
    res = invoke("check", folder, "--format", "csv", "-o", target)
    assert res.exit_code == 1 and res.stdout == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows and {r["代码"] for r in rows} >= {"B401", "F102", "X505"}  # one language per run: headers too
    b401 = next(r for r in rows if r["代码"] == "B401")
    assert (b401["单元格"], b401["级别"]) == ("D3", "错误")
    invoke("check", folder, "--format", "csv", "-o", target, "--lang", "en")
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    b401 = next(r for r in rows if r["code"] == "B401")
    assert (b401["cell"], b401["severity"]) == ("D3", "error")


def test_english_messages(folder):
    res = invoke("check", folder, "--lang", "en", "--format", "json")
    doc = json.loads(res.stdout)
    rate = next(f for f in doc["findings"] if f["code"] == "F102")
    assert "execution rate" in rate["message"] and not any("\u4e00" <= ch <= "\u9fff" for ch in rate["message"].split("(")[0])


def test_exit_codes(tmp_path):
    assert invoke("check", FIXED).exit_code == 0
    assert invoke("check", SEED).exit_code == 1
    only_warnings = invoke("check", SEED, "--select", "I301")
    assert only_warnings.exit_code == 0
    assert invoke("check", SEED, "--select", "I301", "--strict").exit_code == 1
    assert invoke("check", tmp_path / "nothing-here").exit_code == 2
    assert invoke("check", SEED, "--format", "yaml").exit_code == 2
    assert invoke("check", SEED, "--profile", "atlantis").exit_code == 2


def test_select_and_ignore_by_prefix(folder):
    doc = json.loads(invoke("check", folder, "--select", "F,X", "--ignore", "X506", "--format", "json").stdout)
    codes = {f["code"] for f in doc["findings"]}
    assert codes and all(c[0] in "FX" for c in codes) and "X506" not in codes


def test_config_found_walking_up_from_the_checked_folder(folder):
    (folder.parent / "xlsxcheck.toml").write_text('ignore = ["I301", "R"]\n[severity]\nB401 = "warning"\n', encoding="utf-8")
    doc = json.loads(invoke("check", folder, "--format", "json").stdout)
    codes = {f["code"] for f in doc["findings"]}
    assert "I301" not in codes and "R007" not in codes
    assert next(f for f in doc["findings"] if f["code"] == "B401")["severity"] == "warning"
    # the command line wins over the file
    doc = json.loads(invoke("check", folder, "--format", "json", "--ignore", "X").stdout)
    assert "I301" in {f["code"] for f in doc["findings"]}


def test_config_in_pyproject_and_bad_config(folder):
    (folder.parent / "pyproject.toml").write_text('[tool.xlsxcheck]\nselect = ["B"]\n', encoding="utf-8")
    doc = json.loads(invoke("check", folder, "--format", "json").stdout)
    assert {f["code"][0] for f in doc["findings"]} == {"B"}
    (folder / "xlsxcheck.toml").write_text("colour = 1\n", encoding="utf-8")
    res = invoke("check", folder)
    assert res.exit_code == 2 and "colour" in res.output


def test_waivers_unused_waivers_and_errors_not_waivable(folder, tmp_path):
    waivers = tmp_path / "审核说明.csv"
    waivers.write_text(
        "单位,规则,字段,说明\n"
        "株洲市保障性住房服务中心,I301,Sheet2!F17,收缴任务以区间考核，已与财政局确认\n"
        "株洲市保障性住房服务中心,B401,,错误不能豁免\n"
        "株洲市保障性住房服务中心,I304,Z99,早已改正\n", encoding="utf-8")
    res = invoke("check", folder, "--waivers", waivers, "--format", "json")
    doc = json.loads(res.stdout)
    waived = [f for f in doc["findings"] if f["waived"]]
    assert [(f["code"], f["sheet"], f["cell"]) for f in waived] == [("I301", "Sheet2", "F17")]
    assert next(f for f in doc["findings"] if f["code"] == "B401")["waived"] is None
    assert sorted(w["code"] for w in doc["summary"]["unused_waivers"]) == ["B401", "I304"]
    text = invoke("check", folder, "--waivers", waivers).stdout
    assert "已说明" in text and "未使用的审核说明" in text
    (tmp_path / "bad.csv").write_text("单位,规则\nX,I301\n", encoding="utf-8")
    assert invoke("check", folder, "--waivers", tmp_path / "bad.csv").exit_code == 2


def test_annotate_marks_exactly_the_finding_cells(folder, tmp_path):
    from openpyxl import load_workbook

    from xlsxcheck.report.annotate import HEADER_ROWS

    out = tmp_path / "批注"
    res = invoke("check", folder, "--annotate", out, "--format", "json")
    doc = json.loads(res.stdout)
    assert sorted(p.name for p in out.iterdir()) == [  # 03 is clean: no copy to send
        "01_株洲市保障性住房服务中心_原报.xlsx", "07_株洲市市政设施维护中心.xlsx"]
    for copy in out.iterdir():
        wb = load_workbook(copy)
        source = next(f for f in doc["files"] if Path(f["file"]).stem == copy.stem)["file"]
        expected = {(f["sheet"], f["cell"]): f for f in doc["findings"] if f["file"] == source and f["cell"]}
        marked = {}
        for ws in wb.worksheets[1:]:
            for row in ws.iter_rows():
                for c in row:
                    if c.comment is not None:
                        marked[(ws.title, c.coordinate)] = (c.comment.text, c.fill.start_color.rgb)
        assert set(marked) == set(expected)
        for key, (comment, color) in marked.items():
            f = expected[key]
            assert f["code"] in comment
            assert color.endswith("FFC7CE" if f["severity"] == "error" else "FFEB9C")
        listing = wb.worksheets[0]
        assert listing.title == "审核问题" and listing.max_row == HEADER_ROWS + 1 + sum(1 for f in doc["findings"] if f["file"] == source)
        links = {c.hyperlink.location for c in listing["C"][HEADER_ROWS + 1:] if c.hyperlink}
        assert links == {f"'{sheet}'!{cell}" for sheet, cell in expected}


def test_registry_missing_and_unknown_units(folder, tmp_path):
    registry = tmp_path / "单位名录.csv"
    registry.write_text("单位名称,主管部门\n株洲市保障性住房服务中心,株洲市住房和城乡建设局\n株洲市住房公积金服务中心,株洲市住房和城乡建设局\n"
                        "株洲市未报送中心,株洲市住房和城乡建设局\n", encoding="utf-8")
    doc = json.loads(invoke("check", folder, "--registry", registry, "--format", "json").stdout)
    d602 = [f for f in doc["findings"] if f["code"] == "D602"]
    d603 = [f for f in doc["findings"] if f["code"] == "D603"]
    assert [f["unit"] for f in d602] == ["株洲市未报送中心"]
    assert [f["unit"] for f in d603] == ["株洲市市政设施维护中心"]
    # with the registry, the department it names is the reference for X506
    x506 = [f for f in doc["findings"] if f["code"] == "X506"]
    assert {f["actual"] for f in x506} == {"株洲市保障性住房服务中心", "株洲市逐渐和城乡建设局机关"}


def test_duplicate_filing(tmp_path):
    for name in ("a.xlsx", "b.xlsx"):  # nothing tells which is the later one (see test_round_trip for corrections)
        os.utime(shutil.copy(FIXED, tmp_path / name), (1_700_000_000, 1_700_000_000))
    doc = json.loads(invoke("check", tmp_path, "--format", "json").stdout)
    assert [(Path(f["file"]).name, f["code"], f["cell"]) for f in doc["findings"]] == [("b.xlsx", "D601", None)]


def test_rules_listing_and_explanation():
    res = invoke("rules")
    assert res.exit_code == 0
    assert all(code in res.stdout for code in load_catalog())
    one = invoke("rules", "f102")
    assert one.exit_code == 0 and "全年执行数 / 全年预算数" in one.stdout and "✗" in one.stdout
    assert invoke("rules", "Z999").exit_code == 2
    assert "central" in invoke("profiles").stdout


def test_every_rule_is_documented_in_both_languages():
    catalog = load_catalog()
    assert all(r.doc_zh and r.doc for r in catalog.values()), [c for c, r in catalog.items() if not (r.doc_zh and r.doc)]
    zh, en = invoke("rules", "F102").stdout, invoke("rules", "F102", "--lang", "en").stdout
    assert "调整后的全年预算" in zh and "adjusted full-year budget" not in zh and "级别" in zh
    assert "adjusted full-year budget" in en and "调整后的全年预算" not in en and "severity" in en


def test_rule_docs_are_generated_from_the_catalog():
    res = invoke("rules", "--markdown")
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == res.stdout, "run: xlsxcheck rules --markdown > docs/rules.md"


def test_help_lists_the_commands():
    res = invoke("--help")
    assert res.exit_code == 0 and all(c in res.stdout for c in ("check", "rollup", "rules", "profiles"))


# --- the command line of a well-kept tool (issue 14) -----------------------------------------


def test_lock_files_are_skipped_however_named(tmp_path):
    shutil.copy(FIXED, tmp_path / "a.xlsx")
    shutil.copy(FIXED, tmp_path / "~$a.xlsx")  # what a shell glob hands over while Excel has a.xlsx open
    doc = json.loads(invoke("check", tmp_path / "a.xlsx", tmp_path / "~$a.xlsx", "--format", "json").stdout)
    assert doc["summary"]["files"] == 1 and [Path(p).name for p in doc["summary"]["skipped"]] == ["~$a.xlsx"]
    res = invoke("check", tmp_path / "~$a.xlsx")
    assert res.exit_code == 2 and "~$a.xlsx" in res.output


@pytest.mark.parametrize("content", [None, "report.docx"])
def test_nothing_to_check_is_a_usage_error_naming_the_path(tmp_path, content):
    folder = tmp_path / "收件箱"
    folder.mkdir()
    if content:
        (folder / content).write_bytes(b"PK\x03\x04 not a workbook")
    res = invoke("check", folder)
    assert res.exit_code == 2 and str(folder) in res.output
    assert invoke("rollup", folder, "-o", tmp_path / "汇总.xlsx").exit_code == 2


def test_unknown_codes_are_a_usage_error(folder):
    for args in (("--select", "Z9"), ("--ignore", "F,Q1"), ("--select", "f102,X")):
        res = invoke("check", folder, *args)
        assert (res.exit_code == 2) == (args[1] != "f102,X"), (args, res.output)
    assert "Z9" in invoke("check", folder, "--select", "Z9").output
    (folder / "xlsxcheck.toml").write_text('ignore = ["I30"]\nselect = ["W"]\n', encoding="utf-8")
    assert invoke("check", folder).exit_code == 2


def test_paths_are_relative_to_the_folder_given(folder, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    shutil.copy(FIXED, folder / "03_株洲市住房公积金服务中心.xlsx")  # nothing else of the sub-folder
    (folder / "子目录").mkdir()
    shutil.copy(FIXED, folder / "子目录" / "x.xlsx")
    monkeypatch.chdir(elsewhere)
    doc = json.loads(invoke("check", os.path.relpath(folder), "--format", "json").stdout)
    assert {f["file"] for f in doc["files"]} == {
        "01_株洲市保障性住房服务中心_原报.xlsx", "03_株洲市住房公积金服务中心.xlsx", "07_株洲市市政设施维护中心.xls", "子目录/x.xlsx"}
    assert all(".." not in f["message"] for f in doc["findings"])


def test_output_folders_are_checked_before_the_run_in_plain_words(folder, tmp_path):
    blocker = tmp_path / "报告"
    blocker.write_text("a file where a folder is expected", encoding="utf-8")
    for args in (("-o", blocker / "问题.json"), ("--annotate", blocker / "批注")):
        start = time.perf_counter()
        res = invoke("check", folder, *args)
        assert res.exit_code == 2 and "无法写入" in res.output and "同名文件" in res.output
        assert "Errno" not in res.output and ".tmp" not in res.output and "B401" not in res.output
    res = invoke("rollup", folder, "-o", blocker / "汇总.xlsx", "--lang", "en")
    assert res.exit_code == 2 and "a file of that name exists" in res.output


# The run started as from a shell: Ctrl-C neither ignored nor blocked, whatever this test
# process inherited or was left with (both pass through exec to the run).
_AS_FROM_A_SHELL = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); os.execv(sys.executable, sys.argv[1:])")


def _interrupt_state(pid: int) -> str:
    """How a process treats SIGINT (bit 2 of its ignored, blocked and caught masks)."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return "; ".join(f"{k}: {int(v, 16) >> 1 & 1}" for k, v in (line.split(":\t") for line in lines) if k in ("SigBlk", "SigIgn", "SigCgt"))


def test_ctrl_c_exits_130_with_one_line(tmp_path):
    fifo = tmp_path / "xlsxcheck.toml"  # the run blocks opening it: a deterministic moment to interrupt
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-c", _AS_FROM_A_SHELL, sys.executable, "-m", "xlsxcheck", "check", str(FIXED),
                             "--config", str(fifo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:  # opening the write end succeeds once the run has the file open for reading
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    time.sleep(0.2)  # the run is now blocked reading the configuration
    state = _interrupt_state(proc.pid)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"the run went on after Ctrl-C (SIGINT in the run: {state}; here: {signal.getsignal(signal.SIGINT)}, "
                    f"blocked {signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, set())})")
    os.close(writer)
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["已中断 / interrupted"] and out == ""


def test_progress_goes_to_stderr_only(tmp_path):
    import pty

    for i in range(12):
        shutil.copy(FIXED, tmp_path / f"{i:02}.xlsx")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "xlsxcheck", "check", str(tmp_path), "--select", "B", "--annotate",
                             str(tmp_path / "批注"), "--annotate-clean"], stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    out, _ = proc.communicate(timeout=120)
    err = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(leader)
    assert "审核" not in out and "━" not in out and "\x1b[" not in out
    assert "共 12 个文件" in out
    assert "批注" in err.decode("utf-8", "replace")


def test_rules_by_prefix_and_in_one_language():
    res = invoke("rules", "F")
    codes = {line.split()[0] for line in res.stdout.splitlines() if line.startswith("  ")}
    assert res.exit_code == 0 and codes == {c for c in load_catalog() if c.startswith("F")}
    assert invoke("rules", "Z").exit_code == 2


def test_english_run_has_no_chinese_around_the_data(folder):
    res = invoke("check", folder, "--lang", "en")
    summary = res.stdout[res.stdout.index("Summary"):]
    assert "excellent" in summary and "优" not in summary and "错误" not in summary


def test_summary_lists_units_by_errors(folder):
    res = invoke("check", folder, "--summary")
    lines = res.stdout.splitlines()
    order = [next(u for u in ("保障性住房", "市政设施", "住房公积金") if u in line) for line in lines if "株洲市" in line]
    assert order == ["保障性住房", "市政设施", "住房公积金"] and "B401" not in res.stdout
    assert res.exit_code == 1


@pytest.mark.parametrize("columns", [80, 100])
def test_names_are_never_broken_mid_word(folder, columns):
    res = CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, ["check", str(folder)])
    from rich.cells import cell_len

    assert max(cell_len(line.rstrip()) for line in res.stdout.splitlines()) <= columns
    table = res.stdout[res.stdout.index("汇总"):]
    for unit in ("株洲市保障性住房服务中心", "株洲市住房公积金服务中心", "株洲市市政设施维护中心"):
        assert unit in table  # whole, on one line
    for line in res.stdout.splitlines():  # a header never leaves the year alone on a line
        assert line.strip() != "2023"


def test_a_write_that_fails_late_says_so_in_plain_words(folder, tmp_path, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(os, "replace", refuse)  # e.g. the target is locked by Excel on a share
    res = invoke("rollup", folder, "-o", tmp_path / "汇总.xlsx", "-q")
    assert res.exit_code == 2 and "汇总表无法写入" in res.output and "没有写入权限" in res.output
    assert "Errno" not in res.output and ".tmp" not in res.output
    res = invoke("check", folder, "-o", tmp_path / "问题.txt", "-q")
    assert res.exit_code == 2 and "报告无法写入" in res.output and "Errno" not in res.output
