"""The command line as a clerk uses it, through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import shutil
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
    assert rows and {r["code"] for r in rows} >= {"B401", "F102", "X505"}
    assert next(r for r in rows if r["code"] == "B401")["cell"] == "D3"


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

    out = tmp_path / "批注"
    res = invoke("check", folder, "--annotate", out, "--format", "json")
    doc = json.loads(res.stdout)
    assert sorted(p.name for p in out.iterdir()) == [
        "01_株洲市保障性住房服务中心_原报.xlsx", "03_株洲市住房公积金服务中心.xlsx", "07_株洲市市政设施维护中心.xlsx"]
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
        assert listing.title == "审核问题" and listing.max_row == 1 + sum(1 for f in doc["findings"] if f["file"] == source)
        links = {c.hyperlink.location for c in listing["C"][1:] if c.hyperlink}
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
    shutil.copy(FIXED, tmp_path / "a.xlsx")
    shutil.copy(FIXED, tmp_path / "b.xlsx")
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


def test_rule_docs_are_generated_from_the_catalog():
    res = invoke("rules", "--markdown")
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == res.stdout, "run: xlsxcheck rules --markdown > docs/rules.md"


def test_help_lists_the_commands():
    res = invoke("--help")
    assert res.exit_code == 0 and all(c in res.stdout for c in ("check", "rollup", "rules", "profiles"))
