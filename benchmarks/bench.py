"""Speed and memory of xlsxcheck against the reading floor, measured in one run.

    python benchmarks/bench.py                   # N = 100 and 1000, jobs 1 and 2
    python benchmarks/bench.py --sizes 100 1000 10000

For each N it generates N realistic unit workbooks once (cached in benchmarks/.data/),
then times on the same files:
  (a) the floor: python-calamine reading every sheet of every file, nothing else;
  (b) `xlsxcheck check DIR --format json -o FILE`;
  (c) `xlsxcheck rollup DIR -o FILE`;
and prints workbooks per second, the ratios (b)/(a) and (c)/(a), the rollup's time beyond the
check ((c) - (b), "writing") over (a), and the peak memory (resident set of the whole process
tree, sampled every 20 ms).

    python benchmarks/bench.py --screen          # the zip/XML screening alone

times, in this process, the screening that runs before calamine (reading._sniff) on the
bytes of each of the first N workbooks, against calamine reading the same bytes, and on
hostile inputs that once made it slow (the time must grow linearly with their size).
"""

from __future__ import annotations

import argparse
import os
import random
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


def corpus(n: int) -> Path:
    """N workbooks, generated once; smaller sizes reuse the first files of the largest."""
    pool = DATA / "all"
    pool.mkdir(parents=True, exist_ok=True)
    have = len(list(pool.glob("unit*.xlsx")))
    if have < n:
        print(f"generating {n - have} workbooks …", file=sys.stderr, flush=True)
        with ProcessPoolExecutor() as ex:
            list(ex.map(_make, range(have, n), [str(pool)] * (n - have), chunksize=32))
    folder = DATA / f"n{n}"
    if not folder.exists() or len(list(folder.iterdir())) != n:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for i in range(n):
            os.link(pool / f"unit{i:05d}.xlsx", folder / f"unit{i:05d}.xlsx")
    return folder


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


def _hostile_sheet(n: int) -> bytes:
    """A workbook whose sheet holds n unclosed <c><f> elements (quadratic for a lazy regex)."""
    import io
    import zipfile

    with zipfile.ZipFile(DATA / "all" / "unit00000.xlsx") as zin:
        members = {i.filename: zin.read(i) for i in zin.infolist()}
    sheet = next(k for k in members if k.startswith("xl/worksheets/"))
    members[sheet] = members[sheet].replace(b"</sheetData>", b'<row r="900">' + b'<c r="A900"><f>1+1' * n + b"</row></sheetData>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    return buf.getvalue()


def screen(n: int) -> None:
    import io

    import python_calamine as pc

    from xlsxcheck.reading import _sniff

    folder = corpus(n)
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
        data = _hostile_sheet(k)
        start = time.perf_counter()
        _sniff(data, ".xlsx", "x.xlsx")
        print(f"screening {k} unclosed <c><f>: {time.perf_counter() - start:.3f} s", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--screen", action="store_true", help="time the screening alone (N = the first size)")
    args = ap.parse_args()
    if args.screen:
        screen(args.sizes[0])
        return 0
    print(f"{'N':>6} {'jobs':>4} {'step':<8} {'seconds':>8} {'wb/s':>8} {'ratio':>6} {'peak MiB':>9} {'cpu s':>8} {'cpu ratio':>9}")
    for n in args.sizes:
        folder = corpus(n)
        floor_s, floor_mem, _, floor_cpu = measure([sys.executable, "-c", FLOOR, str(folder)])
        print(f"{n:>6} {1:>4} {'floor':<8} {floor_s:>8.2f} {n / floor_s:>8.0f} {1.0:>6.2f} {floor_mem:>9.0f} {floor_cpu:>8.2f} {1.0:>9.2f}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            for jobs in args.jobs:
                times = {}
                for step, cmd in (
                    ("check", [str(BIN), "check", str(folder), "--format", "json", "-o", f"{tmp}/out.json", "-q", "-j", str(jobs)]),
                    ("rollup", [str(BIN), "rollup", str(folder), "-o", f"{tmp}/汇总.xlsx", "-q", "-j", str(jobs)]),
                ):
                    secs, mem, code, cpu = measure(cmd)
                    assert code in (0, 1), f"{step} exited {code}"
                    times[step] = secs, cpu
                    print(f"{n:>6} {jobs:>4} {step:<8} {secs:>8.2f} {n / secs:>8.0f} {secs / floor_s:>6.2f} {mem:>9.0f} "
                          f"{cpu:>8.2f} {cpu / floor_cpu:>9.2f}", flush=True)
                # The rollup's own work (rows kept, sorted, written) over the floor: issue 15 wants <= 2.
                extra, extra_cpu = (times["rollup"][i] - times["check"][i] for i in (0, 1))
                print(f"{n:>6} {jobs:>4} {'writing':<8} {extra:>8.2f} {'':>8} {extra / floor_s:>6.2f} {'':>9} "
                      f"{extra_cpu:>8.2f} {extra_cpu / floor_cpu:>9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
