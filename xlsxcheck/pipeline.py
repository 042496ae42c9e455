"""One run of xlsxcheck: discover, read and extract (in worker processes), check the batch,
filter and waive findings. The CLI, the rollup and the tests all go through ``run``."""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable, Iterable

from .catalog import make_finding
from .model import BookSummary, Finding, Workbook, shown
from .reading import Discovery, discover
from .textsafety import printable

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
    timeout: float = 30.0  # seconds a file may take to read and extract before it is stopped (R018)
    config: str | None = None  # the configuration file these options came from, named in every report
    config_in_inputs: bool = False  # it lies inside a folder being checked (reports warn loudly)
    # Reuse extraction plans across workbooks of one layout; XLSXCHECK_PLANS=0 reads every block
    # in full (the reference the plans are tested against, tests/test_plans.py).
    plans: bool = field(default_factory=lambda: os.environ.get("XLSXCHECK_PLANS", "1") != "0")


@dataclass
class RunResult:
    discovery: Discovery
    books: list[BookSummary]  # one per file, in the order given
    findings: list[Finding]
    unused_waivers: list[dict] = field(default_factory=list)
    registry: object | None = None
    rollup_rows: bool = False  # the books hold their indicator rows and base data
    reports: list = field(default_factory=list)  # narrative.ReportSummary of each 自评报告 (.docx, .pdf)
    config: str | None = None  # the configuration file used (see Options.config)
    config_in_inputs: bool = False
    inputs: list[str] = field(default_factory=list)  # every file read: workbooks, registry, waivers, config
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
    """The file as reports name it: relative to the current folder when inside it, with any
    byte of a non-UTF-8 name shown as \\xNN (the path itself still opens the file)."""
    rel = os.path.relpath(path)
    return printable(rel if not rel.startswith("..") else str(path))


def display_names(files: list[Path], args: Iterable[str]) -> list[str]:
    """Files as reports and copies show them: relative to the folder given on the command
    line (not to wherever the command ran), a file given by name as its name; where two
    would read the same, relative to the working directory."""
    folders = sorted((Path(a) for a in args if Path(a).is_dir()), key=lambda f: len(f.parts), reverse=True)
    names = []
    within: dict[Path, str | None] = {}  # a file's folder as the name shows it, once a folder (paths cost tens of µs)
    for p in files:
        folder = p.parent
        if folder not in within:
            base = next((f for f in folders if folder.is_relative_to(f)), None)
            within[folder] = None if base is None else folder.relative_to(base).as_posix()
        rel = within[folder]
        names.append(printable(p.name if rel in (None, ".") else f"{rel}/{p.name}"))
    counts = Counter(names)
    return [n if counts[n] == 1 else display_name(p) for n, p in zip(names, files)]


def extract_safely(args: tuple[str, str]) -> Workbook:
    """A workbook, never an exception: an internal error becomes R099, a panic of native
    code (pyo3's PanicException is a BaseException) R017."""
    from .extract import extract_workbook

    path, file = args
    try:
        return extract_workbook(path, file)
    except Exception as exc:  # a defect of ours must not stop the batch
        return _failed(path, file, _internal_error(file, exc))
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return _failed(path, file, make_finding("R017", file, reason=f"{type(exc).__name__}: {exc}"[:200]))


def _failed(path: str, file: str, finding: Finding) -> Workbook:
    book = Workbook(path=path, file=file, unit=printable(Path(path).stem), readable=False)
    book.findings.append(finding)
    return book


def check_chunk(args: tuple[list[tuple[str, str]], Options, object], on_file: Callable[[int], None] | None = None
                ) -> list[tuple[BookSummary, list[Finding]]]:
    """Worker entry: read, extract and check a chunk of workbooks; send back only each
    workbook's summary and findings. Checks run once over the chunk's frames. ``on_file(i)``
    is told before the i-th file is read, and with len(chunk) before the checks run."""
    jobs, options, registry = args
    # The chunk's records hold no reference cycles; the cyclic collector would only rescan
    # them again and again (a third of the extraction time), so it waits until the chunk is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _check_books(jobs, options, registry, on_file)
    finally:
        if collecting:
            gc.enable()


def _check_books(jobs: list[tuple[str, str]], options: Options, registry, on_file) -> list[tuple[BookSummary, list[Finding]]]:
    from .batch import build_batch
    from .checks import Context, runners
    from .profiles import detect_profile, load_profiles

    from .extract import use_plans, use_rules_dir

    use_rules_dir(options.rules_dir)
    use_plans(options.plans)
    books = []
    for i, job in enumerate(jobs):
        if on_file:
            on_file(i)
        book = extract_safely(job)
        book.unit = printable(book.unit)  # a unit named after its file: the name may hold any bytes
        books.append(book)
    if on_file:
        on_file(len(jobs))
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
                # The block labels as written ("项目决策(10分)"), in the order they come: what the unit sees.
                seen = dict.fromkeys(shown(i.level1) for t in book.tables for i in t.indicators if i.level1_weight)
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


_READY = -1
_BOOKS, _REPORTS = "books", "reports"  # what a chunk sent to a worker holds


def _stamp(index: int) -> int:
    """Which file of its chunk a worker is on and since when (ms of the system's monotonic
    clock), in one int64: written and read whole, without a lock a dying worker could hold."""
    return time.monotonic_ns() // 1_000_000 << 16 | index


def _worker(conn, progress, options: Options, registry) -> None:
    """A worker process: checks the chunks it is sent (workbooks, then the written reports)
    and writes into ``progress``, before each file, which one it is on, so that the parent
    knows the culprit when it dies or runs over its time (without a message a file)."""
    # pandera imports hypothesis where it is installed (a developer's or data scientist's
    # environment), for data synthesis no check uses: 0.2-0.4 s of every worker's start.
    sys.modules.setdefault("hypothesis", None)
    # numpy starts a BLAS thread a core when it loads (0.1-0.15 s of CPU); no check
    # multiplies matrices, and the workers are the run's parallelism.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from . import batch, checks, extract, profiles  # noqa: F401  start-up is not a file's time

    _ignore_interrupt()
    profiles.load_profiles(options.rules_dir)

    def on_file(i: int) -> None:
        progress.value = _stamp(i)

    progress.value = _stamp(progress.value & 0xFFFF)  # its time on a file starts now
    conn.send(_READY)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        kind, chunk = message
        if kind == _REPORTS:
            conn.send(_check_reports(chunk, on_file=on_file))
        else:
            conn.send(check_chunk((chunk, options, registry), on_file=on_file))


def _check_reports(jobs: list, on_file: Callable[[int], None]) -> list:
    """Worker entry for written reports (narrative.check.ReportJob): (summary, findings) each;
    a defect of ours costs only that report (R099)."""
    from .narrative.check import check_report

    out = []
    for i, job in enumerate(jobs):
        on_file(i)
        try:
            out.append(check_report(job))
        except Exception as exc:
            from .narrative.check import unchecked_report

            summary, _ = unchecked_report(job, f"{type(exc).__name__}: {exc}")
            out.append((summary, [_internal_error(job.file, exc)]))
    return out


# Seconds a fresh worker may take to import its libraries, and a chunk's checks (vectorised
# over the chunk, they load pandas and pandera on first use): not a single file's time.
_SETUP_BUDGET = 120.0


class _Slot:
    """One worker process as the parent sees it: its chunk, and the file it is on since when."""

    def __init__(self, context, options: Options, registry) -> None:
        self.conn, child = context.Pipe()
        # _stamp(the file it is on; len(chunk) while it checks the chunk), written by the worker
        self.progress = context.RawValue("q", _stamp(0))
        self.process = context.Process(target=_worker, args=(child, self.progress, options, registry), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.chunk: list | None = None

    @property
    def index(self) -> int:
        return self.progress.value & 0xFFFF

    def give(self, kind: str, chunk: list, jobs: list) -> None:
        """Send the jobs at the indices ``chunk``; ``self.chunk`` keeps the indices."""
        # A worker still starting keeps its start time: its set-up budget runs from there.
        self.progress.value = _stamp(0) if self.ready else self.progress.value & ~0xFFFF
        self.conn.send((kind, [jobs[i] for i in chunk]))
        self.chunk = chunk

    def deadline(self, timeout: float) -> float:
        stamp = self.progress.value
        on_a_file = self.ready and self.chunk is not None and stamp & 0xFFFF < len(self.chunk)
        return (stamp >> 16) / 1000 + (timeout if on_a_file else max(timeout, _SETUP_BUDGET))

    def receive(self) -> list | None:
        """Take in what the worker said; its results once the chunk is done. EOFError: it died."""
        while self.conn.poll():
            message = self.conn.recv()
            if message == _READY:
                self.ready = True
            else:
                return message
        return None

    def receive_quietly(self) -> None:
        """Take in what the worker said, if it can still be read (whether it is ready)."""
        try:
            self.receive()
        except (EOFError, OSError):
            pass

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


class _Workers:
    """The run's worker processes, kept from the workbooks to the written reports. A file
    whose worker dies (a native abort, out of memory) or runs over ``options.timeout`` costs
    only that file; the rest of its chunk goes to a fresh worker. A worker that dies while
    checking a whole chunk of workbooks has the chunk's files re-run one by one, so that the
    culprit is found."""

    def __init__(self, options: Options, registry, workers: int) -> None:
        self.options, self.registry, self.workers = options, registry, workers
        self.context = multiprocessing.get_context()
        self.slots: list[_Slot] = []
        self.failed_starts = 0

    def __enter__(self) -> "_Workers":
        return self

    def start(self) -> None:
        """Start the workers now: they import their libraries (about a second) while this
        process finds the files (run stops those the files leave without work)."""
        while len(self.slots) < self.workers:
            self.slots.append(_Slot(self.context, self.options, self.registry))

    def __exit__(self, *exc) -> None:
        for slot in self.slots:
            slot.receive_quietly()
            if slot.chunk is None and slot.ready:  # idle: let it end on its own
                try:
                    slot.conn.send(None)
                    slot.process.join(timeout=5)
                except OSError:
                    pass
            slot.stop()
        self.slots = []

    def run(self, kind: str, jobs: list, chunks: list[list[int]], failed: Callable[[object, str | None], object],
            progress: Callable[[int], None] | None = None, meanwhile: Callable[[], None] | None = None) -> list:
        """The result of each job, in order. ``chunks`` are lists of job indices;
        ``failed(job, death)`` gives the result of a job whose worker died (``death`` says
        how) or ran over its time (``death`` None). ``meanwhile()`` runs once, in this
        process, when the first workers are at work (never while one is being started)."""
        timeout = self.options.timeout
        todo = deque(chunks)
        done: dict[int, object] = {}
        slots = self.slots
        for slot in [s for s in slots if s.chunk is None][len(chunks):]:  # started early, nothing to do
            slot.stop()
            slots.remove(slot)
        while todo or any(s.chunk is not None for s in slots):
            for slot in slots:
                if slot.chunk is None and todo:
                    slot.give(kind, todo.popleft(), jobs)
            while todo and len(slots) < self.workers:
                slots.append(_Slot(self.context, self.options, self.registry))
                slots[-1].give(kind, todo.popleft(), jobs)
            if meanwhile is not None:
                try:
                    meanwhile()
                except Exception:  # noqa: BLE001 - only a head start: the caller does it again and says why
                    pass
                meanwhile = None
            busy = [s for s in slots if s.chunk is not None]
            soonest = min(s.deadline(timeout) for s in busy)
            wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout=max(0.0, soonest - time.monotonic()))
            for slot in busy:
                try:
                    results = slot.receive()
                    dead = not slot.process.is_alive()
                except (EOFError, OSError):
                    results, dead = None, True
                if results is not None:
                    done.update(zip(slot.chunk, results))
                    if progress:
                        progress(len(results))
                    slot.chunk = None
                    continue
                if not dead and time.monotonic() <= slot.deadline(timeout):
                    continue
                slot.stop()
                slots.remove(slot)
                chunk, i = slot.chunk, slot.index
                if not slot.ready:  # the worker itself failed to start: no file is to blame
                    self.failed_starts += 1
                    if self.failed_starts > 3:
                        raise RuntimeError(f"worker processes fail to start (exit code {slot.process.exitcode})")
                    todo.appendleft(chunk)
                elif i >= len(chunk) and len(chunk) > 1:  # while checking the chunk: each file alone
                    todo.extend([job] for job in chunk)
                else:
                    i = min(i, len(chunk) - 1)
                    culprit, rest = chunk[i], chunk[:i] + chunk[i + 1:]
                    if rest:
                        todo.appendleft(rest)
                    done[culprit] = failed(jobs[culprit], _death(slot.process.exitcode) if dead else None)
                    if progress:
                        progress(1)
        return [done[i] for i in range(len(jobs))]


def _check_all(pool: _Workers, jobs: list[tuple[str, str]], progress, meanwhile=None) -> list[tuple[BookSummary, list[Finding]]]:
    """Every workbook read, extracted and checked in the workers: R017 for one whose worker
    died, R018 for one over its time budget. ``meanwhile()``: see ``_Workers.run``."""
    options = pool.options

    def failed(job: tuple[str, str], death: str | None) -> tuple[BookSummary, list[Finding]]:
        path, file = job
        finding = make_finding("R017", file, reason=death) if death is not None else \
            make_finding("R018", file, seconds=f"{options.timeout:g}")
        book = _failed(path, file, finding)
        return book.summarize(options.rollup_rows), list(book.findings)

    indices = list(range(len(jobs)))
    return pool.run(_BOOKS, jobs, _chunks(indices, pool.workers), failed, progress, meanwhile)


def _check_report_files(pool: _Workers, candidates: list[tuple[Path, str]], books: list[BookSummary]):
    """The written reports against their units' workbooks, in the same workers and with the
    same isolation: a report whose reader crashes or runs over its time is N720 (when named
    as a report), and the batch goes on. (summaries, findings, files that are no reports)."""
    from .narrative.check import collect_reports, report_jobs, unchecked_report

    jobs = report_jobs(candidates, books)
    seconds = pool.options.timeout

    def failed(job, death: str | None):
        return unchecked_report(job, death if death is not None else
                                f"审核超过时限（{seconds:g} 秒），已停止 / over its time budget ({seconds:g} s), stopped")

    # Reports take tens of milliseconds each: small chunks keep every worker busy.
    size = max(1, min(32, len(jobs) // (pool.workers * 4)))
    chunks = [list(range(i, min(i + size, len(jobs)))) for i in range(0, len(jobs), size)]
    return collect_reports(jobs, pool.run(_REPORTS, jobs, chunks, failed), books)


def _death(exitcode: int | None) -> str:
    """How a worker ended, in words: "SIGABRT" (a native abort), "SIGKILL" (out of memory)…"""
    if exitcode is not None and exitcode < 0:
        try:
            return f"工作进程被信号 {signal.Signals(-exitcode).name} 终止 / worker killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            pass
    return f"工作进程异常退出，退出码 {exitcode} / worker exited with code {exitcode}"


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
        on_discovered: Callable[[int], None] | None = None, meanwhile: Callable[[], None] | None = None) -> RunResult:
    """Check the workbooks (and written reports) under ``paths``. ``meanwhile()`` is work of the
    caller's done while the workers check (the rollup loads its writer then)."""
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
    reports = []
    with _Workers(options, registry, options.jobs or os.cpu_count() or 1) as pool:
        pool.start()
        found = discover(paths)
        report_paths = take_report_candidates(found)
        if on_discovered:
            on_discovered(len(found.files))
        jobs = list(zip(map(str, found.files), display_names(found.files, paths)))
        results = _check_all(pool, jobs, progress, meanwhile)
        books = [book for book, _ in results]
        findings = [f for _, fs in results for f in fs]
        supersede(books, options.supersede)
        superseded = {b.file for b in books if b.superseded_why}  # a correction replaced it: its own findings are moot
        findings = [f for f in findings if f.file not in superseded]
        findings.extend(run_checks(BatchContext(books=books, registry=registry), scope="batch"))
        if report_paths:  # the written reports against their units' tables
            report_jobs = list(zip(report_paths, display_names(report_paths, paths)))
            reports, report_findings, not_reports = _check_report_files(pool, report_jobs, books)
    if report_paths:
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
    inputs = [b.path for b in books] + [r.path for r in reports] + [p for p in (options.registry, options.waivers, options.config) if p]
    return RunResult(found, books, findings, unused, registry, options.rollup_rows, reports=reports, config=options.config,
                     config_in_inputs=options.config_in_inputs, inputs=inputs)


def _finding_key(f: Finding, order: dict[str, int]) -> tuple:
    return (order.get(f.file, -1), f.sheet or "", _cell_key(f.cell), f.code)


def _cell_key(cell: str | None) -> tuple[int, str]:
    if not cell:
        return (-1, "")
    first = cell.split(":")[0]
    letters = "".join(ch for ch in first if ch.isalpha())
    digits = "".join(ch for ch in first if ch.isdigit())
    return (int(digits or 0), letters.rjust(3))
