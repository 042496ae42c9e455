"""The unit registry (单位名录): which units are expected to file, under which department."""

from __future__ import annotations

from .checks import Registry
from .listfile import read_rows

__all__ = ["load_registry"]


def load_registry(path: str) -> Registry:
    rows = read_rows(path, {"unit": ("单位名称", "单位", "unit"), "department": ("主管部门", "department"),
                            "parent": ("上级单位", "parent")}, required=("unit",))
    return Registry({r["unit"]: (r.get("department", ""), r.get("parent", "")) for r in rows if r["unit"]}, source=str(path))
