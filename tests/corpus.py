"""A corpus of broken and hostile workbooks, each with the reading finding it must give.

    python tests/corpus.py DIR      # write the corpus to DIR and list it
"""

from __future__ import annotations

import io
import random
import sys
import zipfile
from pathlib import Path

from xlsxcheck.samples import IndicatorSpec, Layout, make_unit, render, unit_canvases

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "sample_workbooks" / "03_株洲市住房公积金服务中心.xlsx"


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _replace_member(src: Path, dst: Path, name: str, transform) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, transform(data) if info.filename == name else data)


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _workbook(path: Path, sheets: dict[str, str], names: list[tuple[str, str]] | None = None,
              shared: str | None = None) -> None:
    """A minimal .xlsx written by hand: sheet parts (part name -> sheetData and what follows),
    the sheet list (name, part; one part may be listed twice), optionally shared strings."""
    names = names or [(f"Sheet{i + 1}", part) for i, part in enumerate(sheets)]
    rels = "".join(f'<Relationship Id="rId{i + 1}" Type="{_REL}/worksheet" Target="worksheets/{part}"/>'
                   for i, (_, part) in enumerate(names))
    listed = "".join(f'<sheet name="{name}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, (name, _) in enumerate(names))
    members = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                               '<Default Extension="xml" ContentType="application/xml"/>'
                               '<Override PartName="/xl/workbook.xml" ContentType="application/'
                               'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                       f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{listed}</sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                                      f"{rels}</Relationships>",
    }
    if shared is not None:
        members["xl/_rels/workbook.xml.rels"] = members["xl/_rels/workbook.xml.rels"].replace(
            "</Relationships>", f'<Relationship Id="rIdS" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        members["xl/sharedStrings.xml"] = shared
    for part, body in sheets.items():
        members[f"xl/worksheets/{part}"] = f'<worksheet xmlns="{_MAIN}">{body}</worksheet>'
    _zip(path, {k: v.encode() for k, v in members.items()})


def hostile_files(out: Path) -> dict[str, str]:
    """The files of issue 13 that once aborted, panicked or stalled the reader, each with the
    finding the screening must give before calamine sees it."""
    out.mkdir(parents=True, exist_ok=True)
    table = '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>'
    for name, count in (("共享字符串过多.xlsx", "100000000000"), ("共享字符串溢出.xlsx", "18446744073709551615")):
        # calamine reserves uniqueCount entries: 2.4 TB (abort) or more than exists (panic)
        sst = f'<sst xmlns="{_MAIN}" count="1" uniqueCount="{count}"><si><t>表格</t></si></sst>'
        _workbook(out / name, {"sheet1.xml": table}, shared=sst)
    # Cells and rows without r= are placed after the previous ones: out to XFD1048576.
    far = '<sheetData><row><c t="inlineStr"><is><t>表格</t></is></c></row><row r="1048576"><c r="XFC1048576"/><c><v>1</v></c></row></sheetData>'
    _workbook(out / "无引用单元格.xlsx", {"sheet1.xml": far})
    wide = '<sheetData><row>' + "<c/>" * 16383 + '<c><v>1</v></c></row><row r="1048576"><c><v>1</v></c></row></sheetData>'
    _workbook(out / "按位置排列.xlsx", {"sheet1.xml": wide})
    # One far-reaching part listed under two sheet names: both must be skipped.
    huge = '<sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
    _workbook(out / "一表两名.xlsx", {"sheet1.xml": huge}, names=[("甲", "sheet1.xml"), ("乙", "sheet1.xml")])
    # 20000 unclosed <c><f>: a lazy regex made the screening quadratic (minutes).
    unclosed = '<sheetData><row r="1">' + "".join(f'<c r="A{i + 1}"><f>{i}*{i * 7919 % 10007}' for i in range(20000)) + "</row></sheetData>"
    _workbook(out / "未闭合公式.xlsx", {"sheet1.xml": unclosed})
    # 300 overlapping merges over a 1000 x 1000 area: each was resolved cell by cell (minutes).
    merges = "".join(f'<mergeCell ref="A{i + 1}:ALL1000"/>' for i in range(300))
    body = ('<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>表格</t></is></c></row>'
            f'<row r="1000"><c r="ALL1000"><v>1</v></c></row></sheetData><mergeCells count="300">{merges}</mergeCells>')
    _workbook(out / "重叠合并.xlsx", {"sheet1.xml": body})
    return {"共享字符串过多.xlsx": "R001", "共享字符串溢出.xlsx": "R001", "无引用单元格.xlsx": "R011", "按位置排列.xlsx": "R011",
            "一表两名.xlsx": "R011", "未闭合公式.xlsx": "R001", "重叠合并.xlsx": "R011"}


def build_corpus(out: Path) -> dict[str, str]:
    """Write the corpus; return file name -> the code its check must report."""
    out.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}
    good = SAMPLE.read_bytes()

    (out / "空文件.xlsx").write_bytes(b"")
    expect["空文件.xlsx"] = "R001"
    (out / "下载一半.xlsx").write_bytes(good[: len(good) // 2])
    expect["下载一半.xlsx"] = "R001"
    (out / "其实是CSV.xlsx").write_text("单位,金额\n测试单位,100\n", encoding="utf-8")
    expect["其实是CSV.xlsx"] = "R003"
    (out / "其实是网页.xls").write_text("<html><body><table><tr><td>1</td></tr></table></body></html>", encoding="utf-8")
    expect["其实是网页.xls"] = "R003"
    (out / "其实是PDF.xlsx").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    expect["其实是PDF.xlsx"] = "R003"
    _zip(out / "其实是Word.xlsx", {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    expect["其实是Word.xlsx"] = "R003"

    from msoffcrypto.format.ooxml import OOXMLFile

    with (out / "有密码.xlsx").open("wb") as fh:
        OOXMLFile(io.BytesIO(good)).encrypt("123456", fh)
    expect["有密码.xlsx"] = "R002"

    (out / "WPS表格.et").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    expect["WPS表格.et"] = "R004"

    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "2023年度部门自评报告"
    wb.active["A2"] = "一、部门基本情况"
    wb.save(out / "只有报告正文.xlsx")
    expect["只有报告正文.xlsx"] = "R005"

    spec = make_unit(random.Random(5), "缺栏目单位", "测试局", 1)
    sheets = unit_canvases(spec, Layout())
    project = dict(sheets)["项目1"]
    # A template may lack a 执行率 column (the rate is B/A) or per-indicator 分值; none lacks 三级指标.
    for (r, c), v in list(project.cells.items()):
        if v == "三级指标":
            del project.cells[(r, c)]
    render(sheets, out / "删了三级指标列.xlsx")
    expect["删了三级指标列.xlsx"] = "R006"

    from openpyxl import load_workbook

    wb = load_workbook(SAMPLE)  # openpyxl saves formulas without computing them, as scripts do
    wb["基础数据表"]["F5"] = "=B5+C5"
    wb.save(out / "程序生成的公式.xlsx")
    expect["程序生成的公式.xlsx"] = "R008"

    with zipfile.ZipFile(out / "压缩炸弹.xlsx", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", b"<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(60):
                fh.write(chunk)
    expect["压缩炸弹.xlsx"] = "R009"

    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
              b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
    _replace_member(SAMPLE, out / "实体膨胀.xlsx", "xl/worksheets/sheet1.xml",
                    lambda data: laughs + data.split(b"?>", 1)[-1].replace(b"<sheetData>", b"<sheetData>&lol3;", 1))
    expect["实体膨胀.xlsx"] = "R010"
    _replace_member(SAMPLE, out / "样式实体.xlsx", "xl/styles.xml",
                    lambda data: laughs + data.split(b"?>", 1)[-1])
    expect["样式实体.xlsx"] = "R010"

    wb = Workbook()
    ws = wb.active
    ws["A1"], ws["XFD1048576"] = "表格", " "
    wb.save(out / "区域过大.xlsx")
    expect["区域过大.xlsx"] = "R011"

    sheets = unit_canvases(make_unit(random.Random(6), "重复表单位", "测试局", 1), Layout())
    sheets.append(("基础数据表(2)", dict(sheets)["基础数据表"]))
    render(sheets, out / "基础数据表两张.xlsx")
    expect["基础数据表两张.xlsx"] = "R012"

    odd = make_unit(random.Random(8), "非标准模板单位", "测试局", 1)
    weights = {"output": 35, "benefit": 35, "satisfaction": 10, "cost": 10}
    for table in [odd.overall_indicators] + [p.indicators for p in odd.projects]:
        table[:] = [IndicatorSpec(k, "二级", f"{k}指标", "≥1个", "1个", w, w) for k, w in weights.items()]
    render(unit_canvases(odd, Layout()), out / "未知模板.xlsx")
    expect["未知模板.xlsx"] = "R013"
    expect.update(hostile_files(out))
    return expect


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    for name, code in build_corpus(target).items():
        print(f"{code}  {target / name}")
