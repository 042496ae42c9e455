"""JSON and CSV reports. The JSON schema is documented in README.md ("JSON output")."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..pipeline import RunResult
from .summary import file_summaries

__all__ = ["to_json", "to_csv", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
CSV_COLUMNS = ["file", "sheet", "cell", "code", "severity", "message", "expected", "actual", "unit", "field", "waived"]
# The CSV is made for Excel, read by people: headers and severities in the run's language.
CSV_HEADERS_ZH = dict(zip(CSV_COLUMNS, ["文件", "工作表", "单元格", "代码", "级别", "问题说明", "应为", "实为", "单位", "字段", "审核说明"]))
SEVERITIES_ZH = {"error": "错误", "warning": "警告", "info": "信息"}


def to_json(result: RunResult, lang: str = "zh") -> str:
    counts = result.counts()
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": "xlsxcheck",
        "lang": lang,
        "summary": {
            "files": len(result.books),
            "errors": counts["error"],
            "warnings": counts["warning"],
            "infos": counts["info"],
            "waived": counts["waived"],
            "skipped": [str(p) for p in result.discovery.skipped],
            "own_outputs": {str(p): kind for p, kind in result.discovery.own_outputs.items()},  # skipped: written by xlsxcheck
            "superseded": {b.file: b.superseded_by for b in result.books if b.superseded_by},
            "unused_waivers": result.unused_waivers,
        },
        "files": file_summaries(result),
        "reports": [dict(r.as_dict(), **_counts(result, r.file)) for r in result.reports],
        "findings": [f.as_dict(lang) for f in result.findings],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n"


def _counts(result: RunResult, file: str) -> dict[str, int]:
    c = result.counts(file)
    return {"errors": c["error"], "warnings": c["warning"], "waived": c["waived"]}


def to_csv(result: RunResult, lang: str = "zh") -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    if lang == "en":
        writer.writeheader()
    else:
        writer.writerow(CSV_HEADERS_ZH)
    for f in result.findings:
        row = f.as_dict(lang)
        row["waived"] = row["waived"] or ""
        if lang != "en":
            row["severity"] = SEVERITIES_ZH[row["severity"]]
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()
