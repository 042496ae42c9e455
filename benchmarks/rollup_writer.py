"""CPU time of writing the rollup workbook (rollup.write_rollup) in one process.

    python benchmarks/rollup_writer.py [N] [REPEATS] [--profile] [--streamed]

Checks the first N workbooks of benchmarks/.data/n1000 (made by bench.py) once, as the
rollup command does (Options(rollup_rows=True), one job, untimed), loads the writer as the
command does while its workers check (rollup.load_writer), then writes the rollup REPEATS
times and prints its CPU seconds (the first write is the one the command does: pinyin keys
not yet cached) and where they go. --profile prints a cProfile of the first write instead;
--streamed writes in the constant-memory mode (rows streamed to disk) that runs of more than
rollup.STREAM_ROWS indicator rows take.
To compare two trees in one run, put the other first on PYTHONPATH.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import pstats
import sys
import tempfile
import time
from pathlib import Path

import xlsxcheck
import xlsxcheck.pipeline as pipeline
import xlsxcheck.rollup as rollup

args = [a for a in sys.argv[1:] if not a.startswith("--")]
n = int(args[0]) if args else 1000
repeats = int(args[1]) if len(args) > 1 else 3
folder = Path(__file__).resolve().parent / ".data" / "n1000"
paths = sorted(folder.glob("*.xlsx"))[:n]
if not paths:
    sys.exit(f"no workbooks in {folder}: run benchmarks/bench.py --sizes 1000 first")
result = pipeline.run([str(p) for p in paths], pipeline.Options(rollup_rows=True, jobs=1))
rollup.load_writer()
if "--streamed" in sys.argv:  # the constant-memory mode a province-sized run takes
    rollup.STREAM_ROWS = 0
out = Path(tempfile.mkdtemp()) / "汇总.xlsx"
today = dt.date(2026, 1, 1)

spent: dict[str, float] = {}


def timed(part: str, owner, name: str) -> None:
    fn = getattr(owner, name)

    def wrapper(*a, **k):
        t = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            spent[part] = spent.get(part, 0.0) + time.process_time() - t
    setattr(owner, name, wrapper)


if "--profile" in sys.argv:
    profile = cProfile.Profile()
    profile.enable()
    rollup.write_rollup(result, out, today=today)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    sys.exit()
# The parts, where this tree has them: the order, the sheets, XlsxWriter's close (XML and zip).
for part, name in (("order", "_ordered"), ("units", "_units_sheet"), ("projects", "_projects_sheet"),
                   ("indicators", "_indicators_sheet"), ("findings", "_findings_sheet")):
    if hasattr(rollup, name):
        timed(part, rollup, name)
if hasattr(rollup, "_Book"):
    timed("close", rollup._Book, "close")
cpu = []
for i in range(repeats):
    t = time.process_time()
    rollup.write_rollup(result, out, today=today)
    cpu.append(time.process_time() - t)
    if i == 0:
        first = dict(spent)
print(f"{Path(xlsxcheck.__file__).parent}: {len(result.books)} workbooks, "
      f"{sum(len(b.indicator_rows) for b in result.books)} indicator rows, {out.stat().st_size / 2**20:.1f} MiB; "
      f"write_rollup CPU s: first {cpu[0]:.2f}, later min {min(cpu[1:] or cpu):.2f}; first: "
      + ", ".join(f"{part} {s:.2f}" for part, s in first.items()))
