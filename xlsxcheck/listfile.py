"""Small user-maintained lists (单位名录, 审核说明) read from CSV or Excel, headers by name."""

from __future__ import annotations

import csv
from pathlib import Path

from .values import clean_text, normalize

__all__ = ["ListFileError", "read_rows"]


class ListFileError(ValueError):
    """A list file that cannot be used; the message names the file and what is wrong."""


def _csv_rows(path: Path) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            with path.open(encoding=encoding, newline="") as fh:
                return [row for row in csv.reader(fh)]
        except UnicodeDecodeError:
            continue
    raise ListFileError(f"{path}: 无法识别文件编码（请保存为 UTF-8 或 GBK 的 CSV）")


def read_rows(path: str | Path, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows as {key: text}; a column is found by any of its header names."""
    path = Path(path)
    if not path.is_file():
        raise ListFileError(f"{path}: 文件不存在 / file not found")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            import python_calamine as pc

            book = pc.CalamineWorkbook.from_path(str(path))
            raw = book.get_sheet_by_index(0).to_python()
            rows = [[clean_text(v) for v in r] for r in raw]
        else:
            rows = _csv_rows(path)
    except ListFileError:
        raise
    except Exception as exc:
        raise ListFileError(f"{path}: 无法读取（{exc}）") from exc
    if not rows:
        raise ListFileError(f"{path}: 文件为空 / empty file")
    header = [normalize(h) for h in rows[0]]
    index: dict[str, int] = {}
    for key, names in columns.items():
        for name in names:
            if normalize(name) in header:
                index[key] = header.index(normalize(name))
                break
    missing = [columns[k][0] for k in required if k not in index]
    if missing:
        raise ListFileError(f"{path}: 缺少列 {'、'.join(missing)}（表头为：{'、'.join(rows[0])}）")
    out = []
    for r in rows[1:]:
        item = {k: clean_text(r[i]) if i < len(r) else "" for k, i in index.items()}
        if any(item.values()):
            out.append(item)
    return out
