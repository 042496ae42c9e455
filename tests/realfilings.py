"""Real published self-evaluation filings, transcribed cell by cell into tests/real_filings/.

Each YAML file is one published workbook: its sheets as rows of cells (labels, values and
mistakes exactly as published), its merged ranges, the source address, and what a correct
reader must get out of it (``expected``). See tests/real_filings/README.md.

    python tests/realfilings.py OUT_DIR                 # build every filing as OUT_DIR/NN_....xlsx
    python tests/realfilings.py --score REPORT.json     # compare an xlsxcheck JSON report of
                                                        # those workbooks with `expected`
    python tests/realfilings.py --samples sample_workbooks   # the non-Hunan units shipped there
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook

HERE = Path(__file__).resolve().parent / "real_filings"

REQUIRED = ("source", "province", "fiscal_year", "template", "notes", "sheets", "expected")
EXPECTED_REQUIRED = ("unit", "year", "tables")
TABLE_KINDS = ("project", "overall", "base")
FUNDS_COLUMNS = ("initial", "budget", "executed", "weight", "rate", "score")


def all_specs() -> list[Path]:
    """The YAML files of the corpus, in file-name order."""
    return sorted(HERE.glob("*.yaml"))


def load(path: str | Path) -> dict[str, Any]:
    """One filing's spec; a ValueError naming the file when a required key is missing."""
    path = Path(path)
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict):
        raise ValueError(f"{path.name}: not a mapping")
    missing = [k for k in REQUIRED if k not in spec]
    missing += [f"expected.{k}" for k in EXPECTED_REQUIRED if k not in (spec.get("expected") or {})]
    if missing:
        raise ValueError(f"{path.name}: missing {', '.join(missing)}")
    return spec


def build_workbook(spec: dict[str, Any], out_path: str | Path) -> Path:
    """Write the spec's sheets as a real .xlsx: numbers as numbers, text as text, merges merged."""
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in spec["sheets"]:
        ws = wb.create_sheet(sheet["name"])
        for r, row in enumerate(sheet.get("rows") or [], start=1):
            for c, value in enumerate(row or [], start=1):
                if value is None:
                    continue
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, str):
                    # "=" and "≥" are real 指标性质 values: text, never a formula.
                    cell.data_type = "s"
        for rng in sheet.get("merged") or []:
            ws.merge_cells(rng)
    out_path = Path(out_path)
    wb.save(out_path)
    return out_path


def score(report: dict[str, Any]) -> list[str]:
    """Lines comparing an `xlsxcheck check --format json` report of the built workbooks with
    each spec's expected unit, year and mistakes (a mistake counts as found when a finding
    points at its sheet and cell; findings at other cells are listed as possible false alarms)."""
    files = {Path(f["file"]).stem: f for f in report["files"]}
    lines, totals = [], [0, 0, 0, 0, 0, 0]
    for path in all_specs():
        spec, got = load(path), files.get(path.stem)
        if got is None:
            lines.append(f"{path.stem}: not in the report")
            continue
        exp = spec["expected"]
        findings = [x for x in report["findings"] if Path(x["file"]).stem == path.stem]
        at = {(x.get("sheet"), x.get("cell")) for x in findings}
        wanted = {(m["sheet"], m["cell"]) for m in exp.get("mistakes") or []}
        found = len(wanted & at)
        others = sorted(f"{x['code']}@{x.get('cell') or '-'}" for x in findings
                        if (x.get("sheet"), x.get("cell")) not in wanted)
        unit_ok, year_ok = got.get("unit") == exp["unit"], got.get("year") == exp["year"]
        for i, v in enumerate((unit_ok, 1, year_ok, found, len(wanted), len(others))):
            totals[i] += int(v)
        lines.append(f"{path.stem}: unit {'ok' if unit_ok else repr(got.get('unit'))}, "
                     f"year {'ok' if year_ok else got.get('year')}, mistakes {found}/{len(wanted)}, "
                     f"other findings {len(others)} {' '.join(others)}")
    lines.append(f"total: unit {totals[0]}/{totals[1]}, year {totals[2]}/{totals[1]}, "
                 f"mistakes {totals[3]}/{totals[4]}, other findings {totals[5]}")
    return lines


# Shipped in sample_workbooks/ (other provinces' templates beside the Hunan units, with their
# real mistakes): corpus file -> sample file name.
SAMPLES = {
    "01_四川_青神县发改局_工资性支出": "08_青神县发展和改革局_四川一体化.xlsx",
    "07_四川_中江县水利局_水标尺": "09_中江县水利局_四川县级.xlsx",
    "05_湖北_黄石市第三中学_校园维修改造": "10_黄石市第三中学_湖北.xlsx",
}


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--samples":
        for stem, name in SAMPLES.items():
            print(build_workbook(load(HERE / f"{stem}.yaml"), Path(argv[1]) / name))
        return 0
    if len(argv) == 2 and argv[0] == "--score":
        report = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        print("\n".join(score(report)))
        return 0
    if len(argv) != 1:
        print("\n".join(__doc__.strip().splitlines()[-3:]), file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for path in all_specs():
        target = build_workbook(load(path), out / (path.stem + ".xlsx"))
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
