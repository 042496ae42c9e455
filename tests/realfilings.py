"""Real published self-evaluation filings, transcribed cell by cell into tests/real_filings/.

Each YAML file is one published workbook: its sheets as rows of cells (labels, values and
mistakes exactly as published), its merged ranges, the source address, and what a correct
reader must get out of it (``expected``). See tests/real_filings/README.md.

    python tests/realfilings.py OUT_DIR      # build every filing as OUT_DIR/NN_....xlsx
"""

from __future__ import annotations

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


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for path in all_specs():
        target = build_workbook(load(path), out / (path.stem + ".xlsx"))
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
