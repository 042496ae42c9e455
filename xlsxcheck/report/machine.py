"""JSON and CSV reports. The JSON schema is documented in README.md ("JSON output").

Both are valid UTF-8 whatever the file names hold (textsafety.printable); CSV cells are also
neutralised for Excel (textsafety.for_csv: no control characters, no formula-leading text)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..pipeline import RunResult
from ..textsafety import for_csv, printable
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
        "config": {"path": result.config, "inside_checked_folder": result.config_in_inputs} if result.config else None,
        "summary": {
            "files": len(result.books),
            "errors": counts["error"],
            "warnings": counts["warning"],
            "infos": counts["info"],
            "waived": counts["waived"],
            "skipped": [str(p) for p in result.discovery.skipped],
            "own_outputs": {str(p): kind for p, kind in result.discovery.own_outputs.items()},  # skipped: written by xlsxcheck
            "superseded": {b.file: b.superseded_by for b in result.books if b.superseded_by},
            "unreadable_folders": [str(p) for p in result.discovery.unreadable],
            "skipped_symlinks": [str(p) for p in result.discovery.links],
            "unused_waivers": result.unused_waivers,
        },
        "files": file_summaries(result),
        "reports": [dict(r.as_dict(), **_counts(result, r.file)) for r in result.reports],
        "findings": [f.as_dict(lang) for f in result.findings],
    }
    text = json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n"
    if printable(text) is not text:  # a name with undecodable bytes somewhere: escape them (rare)
        text = json.dumps(_valid_text(doc), ensure_ascii=False, indent=2, default=str) + "\n"
    return text


def _valid_text(obj: Any) -> Any:
    """Every string of the document as valid UTF-8 (a name's undecodable bytes escaped)."""
    if isinstance(obj, str):
        return printable(obj)
    if isinstance(obj, dict):
        return {k: _valid_text(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_valid_text(v) for v in obj]
    return obj


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
        writer.writerow({k: "" if v is None else for_csv(v) if isinstance(v, str) else v for k, v in row.items()})
    return buf.getvalue()
