"""One run of xlsxcheck: discover, read and extract (in worker processes), check the batch,
filter and waive findings. The CLI, the rollup and the tests all go through ``run``."""

from __future__ import annotations

import datetime as dt
import gc
import os
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from .catalog import make_finding
from .model import BookSummary, Finding, Workbook
from .reading import Discovery, discover

__all__ = ["Options", "RunResult", "run", "display_name", "extract_safely", "check_chunk", "select_findings"]


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
    rollup_rows: bool = False  # keep every indicator row and the base data (for the rollup workbook)
    require: tuple[str, ...] = ()  # table kinds every filing must hold (else the profile's; by default none)
    supersede: tuple[str, ...] = ("date", "mtime", "mark")  # how the latest of a unit's filings is told (duplicate_filing.py)


@dataclass
class RunResult:
    discovery: Discovery
    books: list[BookSummary]  # one per file, in the order given
    findings: list[Finding]
    unused_waivers: list[dict] = field(default_factory=list)
    registry: object | None = None
    rollup_rows: bool = False  # the books hold their indicator rows and base data
    reports: list = field(default_factory=list)  # narrative.ReportSummary of each 自评报告 (.docx, .pdf)
    _by_file: dict[str, Counter] | None = field(default=None, repr=False)

    def add_findings(self, findings: list[Finding]) -> None:
        """Findings that come after the check (an annotated copy that could not be written)."""
        if findings:
            order = {b.file: i for i, b in enumerate(self.books)}
            self.findings = sorted(self.findings + findings, key=lambda f: _finding_key(f, order))
            self._by_file = None

    def counts(self, file: str | None = None) -> dict[str, int]:
        """Findings by severity (waived ones apart), of one file or of the run. Counted once
        for all files: reporters ask for every file, and a rescan each time would make a
        province-sized run quadratic."""
        if self._by_file is None:
            self._by_file = {}
            for f in self.findings:
                self._by_file.setdefault(f.file, Counter())["waived" if f.waived else f.severity] += 1
        zero = {"error": 0, "warning": 0, "info": 0, "waived": 0}
        if file is None:
            return zero | dict(sum(self._by_file.values(), Counter()))
        return zero | dict(self._by_file.get(file, {}))


def display_name(path: Path) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else str(path)


def display_names(files: list[Path], args: Iterable[str]) -> list[str]:
    """Files as reports and copies show them: relative to the folder given on the command
    line (not to wherever the command ran), a file given by name as its name; where two
    would read the same, relative to the working directory."""
    folders = sorted((Path(a) for a in args if Path(a).is_dir()), key=lambda f: len(f.parts), reverse=True)
    names = []
    for p in files:
        base = next((f for f in folders if p.is_relative_to(f)), None)
        names.append(p.relative_to(base).as_posix() if base is not None else p.name)
    counts = Counter(names)
    return [n if counts[n] == 1 else display_name(p) for n, p in zip(names, files)]


def extract_safely(args: tuple[str, str]) -> Workbook:
    """Worker entry: a workbook, never an exception (an internal error becomes R099)."""
    from .extract import extract_workbook

    path, file = args
    try:
        return extract_workbook(path, file)
    except Exception as exc:  # a defect of ours must not stop the batch
        book = Workbook(path=path, file=file, unit=Path(path).stem, readable=False)
        book.findings.append(_internal_error(file, exc))
        return book


def check_chunk(args: tuple[list[tuple[str, str]], Options, object]) -> list[tuple[BookSummary, list[Finding]]]:
    """Worker entry: read, extract and check a chunk of workbooks; send back only each
    workbook's summary and findings. Checks run once over the chunk's frames."""
    jobs, options, registry = args
    # The chunk's records hold no reference cycles; the cyclic collector would only rescan
    # them again and again (a third of the extraction time), so it waits until the chunk is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _check_books(jobs, options, registry)
    finally:
        if collecting:
            gc.enable()


def _check_books(jobs: list[tuple[str, str]], options: Options, registry) -> list[tuple[BookSummary, list[Finding]]]:
    from .batch import build_batch
    from .checks import Context, runners
    from .profiles import detect_profile, load_profiles

    from .extract import use_rules_dir

    use_rules_dir(options.rules_dir)
    books = [extract_safely(job) for job in jobs]
    profiles = load_profiles(options.rules_dir)
    found: dict[str, list[Finding]] = {b.file: list(b.findings) for b in books}
    chosen = []
    for book in books:
        if options.profile:
            profile, book.profile_source = profiles[options.profile], "forced"
        else:
            profile, how = detect_profile(book, profiles)
            book.profile_source = "detected" if how == "detected" else "default"
            if how == "unmatched" and book.tables:
                seen = sorted({f"{i.level1_key}{i.level1_weight:g}" for t in book.tables for i in t.indicators if i.level1_weight})
                found[book.file].append(make_finding("R013", book.file, weights="、".join(seen) or "—", profile=profile.name_zh))
        book.profile = profile.id
        chosen.append(profile)
        found[book.file] += _missing_tables(book, options.require or profile.require)

    def context(group: list[int]):
        batch = build_batch([books[i] for i in group], [chosen[i] for i in group])
        return Context(batch=batch, registry=registry, today=options.today, profiles=tuple(profiles.values()))

    whole = context(list(range(len(books))))
    alone: dict[int, object] = {}
    for name, check in runners("book"):
        try:
            hits = list(check(whole))
        except Exception:
            # A defect one workbook runs into costs only that rule on that workbook.
            hits = []
            for i, book in enumerate(books):
                try:
                    hits += check(alone.setdefault(i, context([i])))
                except Exception as exc:
                    found[book.file].append(_internal_error(book.file, exc, name))
        for f in hits:
            found[f.file].append(f)
    return [(b.summarize(options.rollup_rows), found[b.file]) for b in books]


def _missing_tables(book: Workbook, required: tuple[str, ...]) -> list[Finding]:
    """R006 for each table kind the bureau requires (config `require`, or the profile's) that
    the workbook lacks. Any subset of tables is a filing unless so configured."""
    from .model import KIND_NAMES

    if not book.tables:
        return []
    return [make_finding("R006", book.file, None, None, label=KIND_NAMES[kind][0], table="工作簿")
            for kind in required if not book.of_kind(kind)]


def _internal_error(file: str, exc: Exception, rule: str = "") -> Finding:
    where = traceback.extract_tb(exc.__traceback__)[-1]
    place = f"{rule}, " if rule else ""
    return make_finding("R099", file, reason=f"{place}{type(exc).__name__}: {exc} @ {Path(where.filename).name}:{where.lineno}")


def _chunks(jobs: list, workers: int) -> list[list]:
    """Chunks large enough that per-chunk costs (frames, pandera: ~40 ms) stay small and
    small enough to bound memory (200). With several workers they shrink towards the end
    (each half of what is left per worker), so that no worker is left alone with a
    big last chunk while the others idle."""
    if workers <= 1:
        return [jobs[i:i + 200] for i in range(0, len(jobs), 200)]
    out, i = [], 0
    while i < len(jobs):
        size = max(32, min(200, -(-(len(jobs) - i) // (workers * 2))))
        if len(jobs) - i - size < 32:
            size = len(jobs) - i  # no small remainder alone at the end
        out.append(jobs[i:i + size])
        i += size
    return out


def _check_all(jobs, options: Options, registry, workers: int, progress) -> list[tuple[BookSummary, list[Finding]]]:
    tasks = [(chunk, options, registry) for chunk in _chunks(jobs, workers)]
    out: list[tuple[BookSummary, list[Finding]]] = []
    if workers <= 1 or len(tasks) < 2:
        results = map(check_chunk, tasks)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupt)
        results = pool.map(check_chunk, tasks)
    try:
        for part in results:
            out.extend(part)
            if progress:
                progress(len(part))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)  # on Ctrl-C, chunks not yet started are dropped
    return out


def _ignore_interrupt() -> None:
    """Workers leave Ctrl-C to the main process, which ends the run with one message."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    from .checks import BatchContext, run_checks
    from .checks.duplicate_filing import supersede
    from .narrative import take_report_candidates
    from .profiles import load_profiles
    from .registry import load_registry
    from .waivers import apply_waivers, load_waivers

    options = options or Options()
    paths = [str(p) for p in paths]
    if options.profile and options.profile not in load_profiles(options.rules_dir):
        raise KeyError(options.profile)
    registry = load_registry(options.registry) if options.registry else None
    waivers = load_waivers(options.waivers) if options.waivers else None
    found = discover(paths)
    report_paths = take_report_candidates(found)
    if on_discovered:
        on_discovered(len(found.files))
    workers = options.jobs or os.cpu_count() or 1
    jobs = list(zip(map(str, found.files), display_names(found.files, paths)))
    results = _check_all(jobs, options, registry, workers, progress)
    books = [book for book, _ in results]
    findings = [f for _, fs in results for f in fs]
    supersede(books, options.supersede)
    superseded = {b.file for b in books if b.superseded_why}  # a correction replaced it: its own findings are moot
    findings = [f for f in findings if f.file not in superseded]
    findings.extend(run_checks(BatchContext(books=books, registry=registry), scope="batch"))
    reports = []
    if report_paths:  # the written reports against their units' tables
        from .narrative.check import check_reports

        report_jobs = list(zip(report_paths, display_names(report_paths, paths)))
        reports, report_findings, not_reports = check_reports(report_jobs, books, workers)
        kept_by = {b.file: b.superseded_by for b in books if b.superseded_why}
        for r in reports:  # the report of a superseded filing goes with it
            r.superseded_by = kept_by.get(r.workbook, "")
        moot = {r.file for r in reports if r.superseded_by}
        findings.extend(f for f in report_findings if f.file not in moot)
        found.skipped.extend(not_reports)
        jobs += [(str(p), f) for p, f in report_jobs]  # report findings sort after the workbooks'
    findings = select_findings(findings, options)
    unused: list[dict] = []
    if waivers is not None:
        findings, unused = apply_waivers(findings, waivers)
    order = {name: i for i, name in enumerate(j[1] for j in jobs)}
    findings.sort(key=lambda f: _finding_key(f, order))
    return RunResult(found, books, findings, unused, registry, options.rollup_rows, reports=reports)


def _finding_key(f: Finding, order: dict[str, int]) -> tuple:
    return (order.get(f.file, -1), f.sheet or "", _cell_key(f.cell), f.code)


def _cell_key(cell: str | None) -> tuple[int, str]:
    if not cell:
        return (-1, "")
    first = cell.split(":")[0]
    letters = "".join(ch for ch in first if ch.isalpha())
    digits = "".join(ch for ch in first if ch.isdigit())
    return (int(digits or 0), letters.rjust(3))
