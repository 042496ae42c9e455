"""One run of xlsxcheck: discover, read and extract (in worker processes), check the batch,
filter and waive findings. The CLI, the rollup and the tests all go through ``run``."""

from __future__ import annotations

import datetime as dt
import os
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from .catalog import make_finding
from .model import Finding, Workbook
from .reading import Discovery, discover

__all__ = ["Options", "RunResult", "run", "display_name", "extract_safely", "select_findings"]


@dataclass
class Options:
    profile: str | None = None  # force this profile id instead of detecting it
    rules_dir: str | None = None  # extra profiles (a new province or year)
    jobs: int = 0  # worker processes; 0 = all cores
    select: tuple[str, ...] = ()  # codes or prefixes to report (empty: all)
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)  # code -> severity override
    registry: str | None = None  # 单位名录 (csv or xlsx)
    waivers: str | None = None  # 审核说明 (csv or xlsx)
    today: dt.date = field(default_factory=dt.date.today)


@dataclass
class RunResult:
    discovery: Discovery
    books: list[Workbook]
    findings: list[Finding]
    batch: object | None = None
    unused_waivers: list[dict] = field(default_factory=list)
    registry: object | None = None

    def counts(self, file: str | None = None) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0, "waived": 0}
        for f in self.findings:
            if file is None or f.file == file:
                out["waived" if f.waived else f.severity] += 1
        return out


def display_name(path: Path) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else str(path)


def extract_safely(args: tuple[str, str]) -> Workbook:
    """Worker entry: a workbook, never an exception (an internal error becomes R099)."""
    from .extract import extract_workbook

    path, file = args
    try:
        return extract_workbook(path, file)
    except Exception as exc:  # a defect of ours must not stop the batch
        where = traceback.extract_tb(exc.__traceback__)[-1]
        book = Workbook(path=path, file=file, unit=Path(path).stem, readable=False)
        book.findings.append(make_finding("R099", file, reason=f"{type(exc).__name__}: {exc} @ {Path(where.filename).name}:{where.lineno}"))
        return book


def _extract_all(jobs: list[tuple[str, str]], workers: int, progress: Callable[[int], None] | None) -> list[Workbook]:
    if workers <= 1 or len(jobs) < 4:
        out = []
        for job in jobs:
            out.append(extract_safely(job))
            if progress:
                progress(1)
        return out
    out = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for book in pool.map(extract_safely, jobs, chunksize=max(1, min(64, len(jobs) // (workers * 8) or 1))):
            out.append(book)
            if progress:
                progress(1)
    return out


def _matches(code: str, patterns: Iterable[str]) -> bool:
    return any(code.startswith(p.strip().upper()) for p in patterns if p.strip())


def select_findings(findings: list[Finding], options: Options) -> list[Finding]:
    out = []
    for f in findings:
        if options.select and not _matches(f.code, options.select):
            continue
        if options.ignore and _matches(f.code, options.ignore):
            continue
        if f.code in options.severity:
            f = replace(f, severity=options.severity[f.code])
        out.append(f)
    return out


def run(paths: Iterable[str], options: Options | None = None, progress: Callable[[int], None] | None = None,
        on_discovered: Callable[[int], None] | None = None) -> RunResult:
    from .batch import build_batch
    from .checks import Context, run_checks
    from .profiles import detect_profile, load_profiles
    from .registry import load_registry
    from .waivers import apply_waivers, load_waivers

    options = options or Options()
    found = discover(paths)
    if on_discovered:
        on_discovered(len(found.files))
    workers = options.jobs or os.cpu_count() or 1
    jobs = [(str(p), display_name(p)) for p in found.files]
    books = _extract_all(jobs, workers, progress)
    profiles = load_profiles(options.rules_dir)
    if options.profile and options.profile not in profiles:
        raise KeyError(options.profile)
    findings: list[Finding] = []
    chosen = []
    for book in books:
        findings.extend(book.findings)
        if options.profile:
            profile, book.profile_source = profiles[options.profile], "forced"
        else:
            profile, matched = detect_profile(book, profiles)
            book.profile_source = "detected" if matched else "default"
            if not matched:
                seen = sorted({f"{i.level1_key}{i.level1_weight:g}" for t in book.tables for i in t.indicators if i.level1_weight})
                findings.append(make_finding("R013", book.file, weights="、".join(seen) or "—", profile=profile.name_zh))
        book.profile = profile.id
        chosen.append(profile)
    batch = build_batch(books, chosen)
    registry = load_registry(options.registry) if options.registry else None
    findings.extend(run_checks(Context(batch=batch, registry=registry, today=options.today)))
    findings = select_findings(findings, options)
    unused: list[dict] = []
    if options.waivers:
        findings, unused = apply_waivers(findings, load_waivers(options.waivers))
    order = {name: i for i, name in enumerate(j[1] for j in jobs)}
    findings.sort(key=lambda f: (order.get(f.file, -1), f.sheet or "", _cell_key(f.cell), f.code))
    return RunResult(found, books, findings, batch, unused, registry)


def _cell_key(cell: str | None) -> tuple[int, str]:
    if not cell:
        return (-1, "")
    first = cell.split(":")[0]
    letters = "".join(ch for ch in first if ch.isalpha())
    digits = "".join(ch for ch in first if ch.isdigit())
    return (int(digits or 0), letters.rjust(3))
