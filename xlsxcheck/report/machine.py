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
            "unused_waivers": result.unused_waivers,
        },
        "files": file_summaries(result),
        "findings": [f.as_dict(lang) for f in result.findings],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n"


def to_csv(result: RunResult, lang: str = "zh") -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for f in result.findings:
        row = f.as_dict(lang)
        row["waived"] = row["waived"] or ""
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()
