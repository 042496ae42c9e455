"""Template profiles (rules/profiles/*.yaml): the level-1 weights a province or year uses,
and how a workbook is matched to one."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .catalog import load_yaml, rules_dir
from .model import Workbook
from .values import label_form

__all__ = ["Profile", "load_profiles", "detect_profile"]


@dataclass(frozen=True)
class Profile:
    id: str
    priority: int
    name_zh: str
    name_en: str
    level1: dict[str, float]
    funds_weight: float
    total_weight: float
    at_most_level1: tuple[str, ...]
    at_most_keywords: tuple[str, ...]
    require: tuple[str, ...] = ()  # table kinds a filing of this template must hold
    markers: tuple[str, ...] = ()  # header labels only this template has (detection)

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh


def _profile_from(path: Path) -> Profile:
    d = load_yaml(path)
    try:
        return Profile(
            id=d["id"],
            priority=int(d.get("priority", 99)),
            name_zh=d["name"]["zh"],
            name_en=d["name"]["en"],
            level1={k: float(v) for k, v in d["level1"].items()},
            funds_weight=float(d["funds_weight"]),
            total_weight=float(d.get("total_weight", 100)),
            at_most_level1=tuple(d.get("at_most", {}).get("level1", [])),
            at_most_keywords=tuple(d.get("at_most", {}).get("level3_keywords", [])),
            require=tuple(d.get("require", [])),
            markers=tuple(d.get("markers", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"profile {path.name} is malformed: {exc}") from exc


@functools.cache
def load_profiles(extra_dir: str | None = None) -> dict[str, Profile]:
    """Profiles shipped in rules/profiles, plus those in ``extra_dir`` (they win on equal id)."""
    dirs = [rules_dir() / "profiles"] + ([Path(extra_dir)] if extra_dir else [])
    found: dict[str, Profile] = {}
    for d in dirs:
        for path in sorted(d.glob("*.yaml")):
            p = _profile_from(path)
            found[p.id] = p
    return dict(sorted(found.items(), key=lambda kv: kv[1].priority))


def block_weights(book: Workbook) -> Counter[tuple[str, float]]:
    """(level-1 block, weight) of every table: the weight written in the label ("产出指标
    (50分)"), or where labels carry none, the sum of the block's 分值."""
    seen: Counter[tuple[str, float]] = Counter()
    for t in book.tables:
        blocks = {(i.level1_key, i.level1_weight) for i in t.indicators if i.level1_key and i.level1_weight is not None}
        if not blocks:
            sums: dict[str, float] = {}
            for i in t.indicators:
                if i.level1_key and i.weight.present and isinstance(i.weight.value, float):
                    sums[i.level1_key] = sums.get(i.level1_key, 0.0) + i.weight.value
            blocks = {(k, round(w, 2)) for k, w in sums.items()}
        seen.update(blocks)
    return seen


def detect_profile(book: Workbook, profiles: dict[str, Profile]) -> tuple[Profile, str]:
    """The profile that fits the workbook best, and how it was chosen: "detected", "default"
    (nothing to tell templates apart, such as a table that scores nothing: the first profile
    is used) or "unmatched" (weights that fit no profile: the first is used and R013 says so). A block weight the profile fixes counts for it
    when equal and against it when not; a profile that fixes no weights (Sichuan: they vary
    by project) has no opinion on them. Each of a profile's marker headers found counts 3."""
    seen = block_weights(book)
    headers = set().union(*(t.headers for t in book.tables)) if book.tables else set()
    best, best_score = next(iter(profiles.values())), 0
    for p in profiles.values():
        score = sum(n if p.level1.get(key) == w else -n for (key, w), n in seen.items()) if p.level1 else 0
        score += 3 * sum(1 for m in p.markers if label_form(m) in headers)
        if score > best_score:
            best, best_score = p, score
    if best_score > 0:
        return best, "detected"
    return best, "unmatched" if seen else "default"
