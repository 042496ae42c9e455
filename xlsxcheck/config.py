"""Configuration: xlsxcheck.toml, or [tool.xlsxcheck] in pyproject.toml, found by walking up
from the checked folder. Command-line options win over the file.

    profile = "hunan"              # force a template profile
    select = ["F", "S", "X"]      # report only these codes or prefixes
    ignore = ["I301"]
    strict = false                 # warnings fail the run too
    lang = "zh"
    registry = "单位名录.csv"      # paths are relative to the config file
    waivers = "审核说明.csv"
    rules_dir = "my_profiles"
    supersede = ["date", "mtime", "mark"]  # how the latest of a unit's filings is told; [] = never
    timeout = 30                   # seconds a file may take before it is stopped (R018)
    [severity]
    I301 = "info"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .model import SEVERITIES

__all__ = ["find_config", "load_config", "inside_checked_folders", "ConfigError", "KEYS"]

KEYS = {"profile", "select", "ignore", "strict", "lang", "registry", "waivers", "rules_dir", "severity", "jobs", "require", "supersede", "timeout"}
TABLE_KINDS = ("base", "overall", "project")
_PATH_KEYS = ("registry", "waivers", "rules_dir")


class ConfigError(ValueError):
    pass


def find_config(start: Path) -> Path | None:
    start = start.resolve()
    for folder in [start if start.is_dir() else start.parent, *(start if start.is_dir() else start.parent).parents]:
        own = folder / "xlsxcheck.toml"
        if own.is_file():
            return own
        py = folder / "pyproject.toml"
        if py.is_file():
            try:
                if "xlsxcheck" in tomllib.loads(py.read_text(encoding="utf-8")).get("tool", {}):
                    return py
            except tomllib.TOMLDecodeError:
                continue
    return None


def inside_checked_folders(config: Path, paths) -> bool:
    """A config file found in (or below) a folder being checked may have arrived with the
    filings: its ignore/select/severity would change what is reported. Said loudly."""
    where = config.resolve().parent
    for p in paths:
        folder = Path(p)
        if folder.is_dir() and (where == folder.resolve() or folder.resolve() in where.parents):
            return True
    return False


def load_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: 配置文件无法读取 / cannot read config: {exc}") from exc
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("xlsxcheck", {})
    unknown = set(data) - KEYS
    if unknown:
        raise ConfigError(f"{path}: 未知配置项 / unknown keys: {', '.join(sorted(unknown))}")
    for key in _PATH_KEYS:
        if key in data:
            data[key] = str((path.parent / data[key]).resolve())
    for key in ("select", "ignore", "require"):
        if isinstance(data.get(key), str):
            data[key] = [data[key]]
    wrong = [k for k in data.get("require", []) if k not in TABLE_KINDS]
    if wrong:
        raise ConfigError(f"{path}: require 只能是 / must be among {', '.join(TABLE_KINDS)}, not {', '.join(map(str, wrong))}")
    timeout = data.get("timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ConfigError(f"{path}: timeout must be a number of seconds above 0, not {timeout!r}")
    for code, sev in data.get("severity", {}).items():
        if sev not in SEVERITIES:
            raise ConfigError(f"{path}: severity of {code} must be one of {', '.join(SEVERITIES)}, not {sev!r}")
    return data
