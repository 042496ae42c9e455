"""Speed and memory of xlsxcheck against the reading floor, measured in one run.

    python benchmarks/bench.py                   # N = 100 and 1000, jobs 1 and 2
    python benchmarks/bench.py --sizes 100 1000 10000
    python benchmarks/bench.py --corpus mixed    # several templates and label variants
    python benchmarks/bench.py --corpus varied   # indicator rows varying as in real filings
    python benchmarks/bench.py --corpus varied --sizes 1000 --hit-rate   # the plan hit rate alone
    python benchmarks/bench.py --corpus varied --sizes 300 --extract     # and extraction CPU, plans on/off
    python benchmarks/bench.py --sizes 1000 --jobs 1 --repeat 3   # each step's best of three

For each N it generates N realistic unit workbooks once (cached in benchmarks/.data/; the
generated corpus: Hunan units in four layouts, each table with the same seven indicator
rows; the varied one: the same with 1-3 rows a 二级指标 group and some groups left out; the mixed one: six generated layouts and the
real filings of tests/real_filings/ with their units renamed and amounts varied),
then times on the same files:
  (a) the floor: python-calamine reading every sheet of every file, nothing else;
  (b) `xlsxcheck check DIR --format json -o FILE`;
  (c) `xlsxcheck rollup DIR -o FILE`;
and prints workbooks per second, the ratios (b)/(a) and (c)/(a), the rollup's time beyond the
check ((c) - (b), "writing") over (a), and the peak memory (resident set of the whole process
tree, sampled every 20 ms). With --repeat R every step runs R times, the steps taking turns,
and the best time of each (wall and CPU separately) is shown: "writing" is the difference of
two runs of ~15 s, and on a shared machine one slow run moves it by a quarter of the floor.
After each N it prints the plan hit rate (an untimed extraction
pass over the same files in this process: table blocks read by an extraction plan against
blocks read in full), the speed-up of two jobs over one, and peak memory a workbook.

    python benchmarks/bench.py --screen          # the zip/XML screening alone

times, in this process, the screening that runs before calamine (reading._sniff) on the
bytes of each of the first N workbooks, against calamine reading the same bytes, and on
hostile inputs that once made it slow (the time must grow linearly with their size).
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
BIN = Path(sys.executable).parent / "xlsxcheck"
REAL_FILINGS = HERE.parent / "tests"  # realfilings.py builds the transcribed real filings

LAYOUTS = [
    dict(),
    dict(top=2, left=1, merge=True, rate_style="fraction", fullwidth=True, bracket="（{w}分）"),
    dict(numbered_sheets=True, split_headers=False, rate_style="number", amounts_as_text=True),
    dict(one_sheet=True, extra_column=True, bracket="({w}分"),
]


def _make(i: int, folder: str) -> None:
    from xlsxcheck.samples import MISTAKES, Layout, make_unit, render, unit_canvases

    rng = random.Random(i)
    mistakes = tuple(rng.sample(MISTAKES, rng.randint(1, 3))) if i % 4 == 0 else ()  # a quarter with mistakes
    spec = make_unit(rng, f"第{i:05d}号预算单位", f"第{i % 23:02d}主管部门", rng.randint(1, 8), mistakes=mistakes)
    layout = Layout(**LAYOUTS[i % len(LAYOUTS)])
    render(unit_canvases(spec, layout, rng), Path(folder) / f"unit{i:05d}.xlsx")


def _make_varied(i: int, folder: str) -> None:
    """Workbook i of the varied corpus: as the generated one, but each table's indicator rows
    vary as real filings of one template do (1-3 rows a 二级指标 group, some groups left out)."""
    from xlsxcheck.samples import MISTAKES, Layout, make_unit, render, unit_canvases, varied_indicators

    rng = random.Random(i)
    mistakes = tuple(rng.sample(MISTAKES, rng.randint(1, 3))) if i % 4 == 0 else ()
    spec = make_unit(rng, f"第{i:05d}号预算单位", f"第{i % 23:02d}主管部门", rng.randint(1, 8), mistakes=mistakes,
                     indicators=varied_indicators)
    render(unit_canvases(spec, Layout(**LAYOUTS[i % len(LAYOUTS)]), rng), Path(folder) / f"var{i:05d}.xlsx")


# The mixed corpus: label variants of the generated template (on top of LAYOUTS) …
MIXED_LAYOUTS = LAYOUTS + [
    dict(top=1, left=2, merge=True, rate_style="number", bracket="（{w}分）"),
    dict(numbered_sheets=True, fullwidth=True, amounts_as_text=True, extra_column=True, split_headers=False),
]


@functools.lru_cache(maxsize=None)
def _real_specs() -> list[tuple[dict, list[str]]]:
    """… and the templates of the real filings (Sichuan, Hubei, Yunnan, the central 2020
    table, Hunan county, Anhui, Hebei, Guizhou, Beijing), as tests/realfilings.py loads them,
    each with the names it gives units: the unit and departments its spec expects and the
    unit xlsxcheck reads from it (they differ where the reader is not yet right)."""
    if str(REAL_FILINGS) not in sys.path:
        sys.path.insert(0, str(REAL_FILINGS))
    import realfilings

    from xlsxcheck.extract import extract_workbook

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in realfilings.all_specs():
            spec = realfilings.load(path)
            expected = spec["expected"]
            names = {expected["unit"], *(t.get("department") for t in expected["tables"])} - {None, ""}
            for _ in range(3):  # renaming one name can make the reader take another (11: the 实施单位)
                varied = _varied(spec, sorted(names, key=len, reverse=True), 0, random.Random(0))
                read = extract_workbook(realfilings.build_workbook(varied, Path(tmp) / f"{path.stem}.xlsx")).unit
                if read.startswith("第00000号"):
                    break
                names.add(read)
            out.append((spec, sorted(names, key=len, reverse=True)))
    return out


def _varied(spec: dict, names: list[str], i: int, rng: random.Random) -> dict:
    """A real filing as another unit would file it: every unit it names renamed (unique to
    workbook i), amounts scaled by one factor a workbook. Numbers that look like weights,
    scores or rates (whole numbers up to 100, fractions up to 1) stay; a score with decimals is
    scaled too and then disagrees with its rate, as a real mistake would."""
    import copy

    spec = copy.deepcopy(spec)
    factor = rng.choice((0.5, 0.8, 1.25, 2.0, 3.0))
    renamed = re.compile("|".join(map(re.escape, names)))
    for sheet in spec["sheets"]:
        for row in sheet.get("rows") or []:
            for c, v in enumerate(row or []):
                if isinstance(v, str):
                    row[c] = renamed.sub(lambda m: f"第{i:05d}号{m.group(0)}", v)
                elif isinstance(v, (int, float)) and not isinstance(v, bool) and v > 1 and not (v == int(v) and v <= 100):
                    row[c] = round(v * factor, 2)
    return spec


def _make_mixed(i: int, folder: str) -> str:
    """Workbook i of the mixed corpus: the variants take turns, so any N holds every one."""
    rng = random.Random(i)
    specs = _real_specs()
    k = i % (len(MIXED_LAYOUTS) + len(specs))
    if k < len(MIXED_LAYOUTS):
        from xlsxcheck.samples import MISTAKES, Layout, make_unit, render, unit_canvases

        mistakes = tuple(rng.sample(MISTAKES, rng.randint(1, 3))) if rng.random() < 0.25 else ()
        spec = make_unit(rng, f"第{i:05d}号预算单位", f"第{i % 23:02d}主管部门", rng.randint(1, 8), mistakes=mistakes)
        path = Path(folder) / f"mix{i:05d}_generated{k}.xlsx"
        render(unit_canvases(spec, Layout(**MIXED_LAYOUTS[k]), rng), path)
    else:
        import realfilings

        k -= len(MIXED_LAYOUTS)
        spec, names = specs[k]
        path = Path(folder) / f"mix{i:05d}_{realfilings.all_specs()[k].stem}.xlsx"
        realfilings.build_workbook(_varied(spec, names, i, rng), path)
    return path.name


def corpus(n: int, kind: str = "generated") -> Path:
    """N workbooks, generated once; smaller sizes reuse the first files of the largest."""
    pool = DATA / ("all" if kind == "generated" else kind)
    pool.mkdir(parents=True, exist_ok=True)
    pattern, make = {"generated": ("unit*.xlsx", _make), "mixed": ("mix*.xlsx", _make_mixed), "varied": ("var*.xlsx", _make_varied)}[kind]
    have = sorted(pool.glob(pattern))
    if len(have) < n:
        print(f"generating {n - len(have)} workbooks …", file=sys.stderr, flush=True)
        with ProcessPoolExecutor() as ex:
            list(ex.map(make, range(len(have), n), [str(pool)] * (n - len(have)), chunksize=32))
        have = sorted(pool.glob(pattern))
    folder = DATA / (f"n{n}" if kind == "generated" else f"{kind}-n{n}")
    if not folder.exists() or len(list(folder.iterdir())) != n:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for source in have[:n]:
            os.link(source, folder / source.name)
    return folder


def plan_hit_rate(folder: Path) -> tuple[int, int]:
    """(blocks read by a plan, blocks read in full) extracting every workbook of the folder in
    this process, as one worker would (untimed: the rate, not the speed)."""
    from xlsxcheck.extract import extract_workbook, plan_counts, use_plans, use_rules_dir

    use_rules_dir(None)
    use_plans(True)
    hits0, misses0 = plan_counts()
    for path in sorted(folder.iterdir()):
        extract_workbook(path, path.name)
    hits, misses = plan_counts()
    return hits - hits0, misses - misses0


def extraction_cpu(folder: Path, rounds: int = 2) -> dict[bool, float]:
    """CPU ms a workbook of extraction alone (extract_grids on sheets read beforehand), plans on
    and off taking turns, the best of ``rounds`` each; each pass with plans on starts with none
    made, as a worker does."""
    from xlsxcheck import plans
    from xlsxcheck.extract import extract_grids, use_plans, use_rules_dir
    from xlsxcheck.reading import Grid, read_grids

    use_rules_dir(None)
    books = [(str(p), p.name, read_grids(p, p.name)[0]) for p in sorted(folder.iterdir())]
    best: dict[bool, float] = {}
    for _ in range(rounds):
        for on in (False, True):
            plans.forget()
            use_plans(on)
            fresh = [(path, name, [Grid(g.name, g.rows, g.start, g.merged) for g in grids]) for path, name, grids in books]
            start = time.process_time()
            for path, name, grids in fresh:
                extract_grids(grids, path, name)
            ms = (time.process_time() - start) * 1000 / len(books)
            best[on] = min(best.get(on, ms), ms)
    use_plans(True)
    return best


def _tree_rss_kib(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, StopIteration):
            continue
    return total


def measure(cmd: list[str]) -> tuple[float, float, int, float]:
    """(seconds, peak MiB of the process tree, exit code, CPU seconds of the process tree).
    CPU time is the steadier figure on a machine that other work shares."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # usage includes the reaped workers
        if pid:
            break
        peak = max(peak, _tree_rss_kib(proc.pid))
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, peak / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


FLOOR = """
import sys, pathlib, python_calamine as pc
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.xlsx")):
    book = pc.CalamineWorkbook.from_path(str(p))
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python()
"""


def _hostile_sheet(n: int, model: Path) -> bytes:
    """A workbook whose sheet holds n unclosed <c><f> elements (quadratic for a lazy regex)."""
    import io
    import zipfile

    with zipfile.ZipFile(model) as zin:
        members = {i.filename: zin.read(i) for i in zin.infolist()}
    sheet = next(k for k in members if k.startswith("xl/worksheets/"))
    members[sheet] = members[sheet].replace(b"</sheetData>", b'<row r="900">' + b'<c r="A900"><f>1+1' * n + b"</row></sheetData>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    return buf.getvalue()


def screen(n: int, kind: str = "generated") -> None:
    import io

    import python_calamine as pc

    from xlsxcheck.reading import _sniff

    folder = corpus(n, kind)
    blobs = [p.read_bytes() for p in sorted(folder.iterdir())]
    for _ in range(2):  # the second round is measured: caches and imports are warm
        start = time.perf_counter()
        for data in blobs:
            _sniff(data, ".xlsx", "x.xlsx")
        screen_s = time.perf_counter() - start
        start = time.perf_counter()
        for data in blobs:
            book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
            for name in book.sheet_names:
                book.get_sheet_by_name(name).to_python()
        read_s = time.perf_counter() - start
    print(f"screening {n} workbooks: {screen_s / n * 1000:.3f} ms a workbook; calamine {read_s / n * 1000:.3f} ms"
          f" ({screen_s / read_s:.2f}x calamine)")
    for k in (5000, 10000, 20000):
        data = _hostile_sheet(k, min(folder.iterdir()))
        start = time.perf_counter()
        _sniff(data, ".xlsx", "x.xlsx")
        print(f"screening {k} unclosed <c><f>: {time.perf_counter() - start:.3f} s", flush=True)


def _compile_package() -> None:
    """xlsxcheck's bytecode, as `pip install` leaves it: where Python writes no bytecode cache
    (PYTHONDONTWRITEBYTECODE set), every timed process would compile the package's modules from
    source again (~0.1 s in the parent and in each worker), which no installed copy does."""
    import compileall

    import xlsxcheck

    compileall.compile_dir(Path(xlsxcheck.__file__).parent, quiet=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--corpus", choices=("generated", "mixed", "varied"), default="generated",
                    help="generated: Hunan units in four layouts; mixed: every template and label variant; "
                         "varied: the generated units with indicator rows that vary as in real filings")
    ap.add_argument("--hit-rate", action="store_true", help="print the plan hit rate alone (N = each size), untimed")
    ap.add_argument("--extract", action="store_true",
                    help="the plan hit rate and extraction CPU a workbook, plans on and off (in this process; best of --repeat, at least 2)")
    ap.add_argument("--screen", action="store_true", help="time the screening alone (N = the first size)")
    ap.add_argument("--repeat", type=int, default=1, help="run each step R times, steps taking turns; show the best")
    args = ap.parse_args()
    if args.screen:
        screen(args.sizes[0], args.corpus)
        return 0
    if args.hit_rate or args.extract:
        for n in args.sizes:
            folder = corpus(n, args.corpus)
            hits, misses = plan_hit_rate(folder)
            print(f"{args.corpus} {n:>6} plan hit rate: {hits / max(1, hits + misses):.1%} ({hits} blocks by a plan, {misses} read in full)")
            if args.extract:
                cpu = extraction_cpu(folder, max(2, args.repeat))
                print(f"{args.corpus} {n:>6} extraction CPU: {cpu[True]:.2f} ms a workbook with plans, {cpu[False]:.2f} without"
                      f" ({cpu[True] / cpu[False]:.2f}x)", flush=True)
        return 0
    _compile_package()
    print(f"corpus: {args.corpus}")
    print(f"{'N':>6} {'jobs':>4} {'step':<8} {'seconds':>8} {'wb/s':>8} {'ratio':>6} {'peak MiB':>9} {'cpu s':>8} {'cpu ratio':>9}")
    summaries = []
    for n in args.sizes:
        folder = corpus(n, args.corpus)
        results: dict[tuple[int, str], tuple[float, float, float]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            steps = {(1, "floor"): [sys.executable, "-c", FLOOR, str(folder)]}
            for jobs in args.jobs:
                steps[(jobs, "check")] = [str(BIN), "check", str(folder), "--format", "json", "-o", f"{tmp}/out.json", "-q", "-j", str(jobs)]
                steps[(jobs, "rollup")] = [str(BIN), "rollup", str(folder), "-o", f"{tmp}/汇总.xlsx", "-q", "-j", str(jobs)]
            best: dict[tuple[int, str], tuple[float, float, float]] = {}
            for _ in range(args.repeat):
                for key, cmd in steps.items():
                    secs, mem, code, cpu = measure(cmd)
                    assert code in (0, 1), f"{key[1]} exited {code}"
                    old = best.get(key, (secs, mem, cpu))
                    best[key] = min(old[0], secs), max(old[1], mem), min(old[2], cpu)
            floor_s, floor_mem, floor_cpu = best.pop((1, "floor"))
            print(f"{n:>6} {1:>4} {'floor':<8} {floor_s:>8.2f} {n / floor_s:>8.0f} {1.0:>6.2f} {floor_mem:>9.0f} {floor_cpu:>8.2f} {1.0:>9.2f}", flush=True)
            for jobs in args.jobs:
                times = {}
                for step in ("check", "rollup"):
                    secs, mem, cpu = best[(jobs, step)]
                    times[step] = secs, cpu
                    results[(jobs, step)] = secs, cpu, mem
                    print(f"{n:>6} {jobs:>4} {step:<8} {secs:>8.2f} {n / secs:>8.0f} {secs / floor_s:>6.2f} {mem:>9.0f} "
                          f"{cpu:>8.2f} {cpu / floor_cpu:>9.2f}", flush=True)
                # The rollup's own work (rows kept, sorted, written) over the floor: issue 15 wants <= 2.
                extra, extra_cpu = (times["rollup"][i] - times["check"][i] for i in (0, 1))
                print(f"{n:>6} {jobs:>4} {'writing':<8} {extra:>8.2f} {'':>8} {extra / floor_s:>6.2f} {'':>9} "
                      f"{extra_cpu:>8.2f} {extra_cpu / floor_cpu:>9.2f}", flush=True)
        summaries.append((n, floor_s, floor_cpu, results, plan_hit_rate(folder)))
        _print_summary(summaries, args.jobs)
    return 0


def _print_summary(summaries: list, jobs: list[int]) -> None:
    """The figures issue 17 sets targets for, for the last N measured: check and rollup over
    the floor (one job, wall and CPU), plan hit rate, two jobs over one, memory a workbook
    (peak over N, and its growth since the previous N: start-up memory is not per workbook)."""
    n, floor_s, floor_cpu, results, (hits, misses) = summaries[-1]
    one = min(jobs)
    for step in ("check", "rollup"):
        secs, cpu, _ = results[(one, step)]
        print(f"{n:>6} {step} / floor ({one} job): {secs / floor_s:.2f}x wall, {cpu / floor_cpu:.2f}x CPU")
    rate = f"{hits / (hits + misses):.1%}" if hits + misses else "n/a"
    print(f"{n:>6} plan hit rate: {rate} ({hits} blocks by a plan, {misses} read in full)")
    for more in sorted(set(jobs) - {one}):
        speed = ", ".join(f"{step} {results[(one, step)][0] / results[(more, step)][0]:.2f}x" for step in ("check", "rollup"))
        print(f"{n:>6} {more} jobs over {one}: {speed} (wall)")
    for step in ("check", "rollup"):
        for j in sorted(jobs):
            mem = results[(j, step)][2]
            line = f"{n:>6} {step} peak {mem:.0f} MiB with {j} job{'s' if j > 1 else ''}: {mem * 1024 / n:.1f} KiB a workbook"
            if len(summaries) > 1:
                prev_n, *_, prev_results, _ = summaries[-2]
                growth = (mem - prev_results[(j, step)][2]) * 1024 / (n - prev_n)
                line += f", {growth:+.1f} KiB a workbook from N={prev_n}"
            print(line, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
