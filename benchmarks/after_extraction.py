"""CPU time of what a worker does after extraction: profiles, batch frames, checks, summaries.

    python benchmarks/after_extraction.py [N] [REPEATS] [--rules] [--profile]

Reads and extracts the first N workbooks of benchmarks/.data/n1000 (made by bench.py) once,
then runs pipeline.check_chunk on chunks of 200 with extraction replaced by those workbooks,
REPEATS times, and prints CPU milliseconds a workbook: the whole stage, build_batch, the
checks (by rule with --rules) and Workbook.summarize. --profile prints a cProfile instead.
To compare two trees in one run, put the other first on PYTHONPATH.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import sys
import time
from pathlib import Path

import xlsxcheck
import xlsxcheck.batch
import xlsxcheck.checks
import xlsxcheck.model
import xlsxcheck.pipeline as pipeline

args = [a for a in sys.argv[1:] if not a.startswith("--")]
n = int(args[0]) if args else 400
repeats = int(args[1]) if len(args) > 1 else 5
folder = Path(__file__).resolve().parent / ".data" / "n1000"
jobs = [(str(p), p.name) for p in sorted(folder.glob("*.xlsx"))[:n]]
if not jobs:
    sys.exit(f"no workbooks in {folder}: run benchmarks/bench.py --sizes 1000 first")
gc.disable()
extracted = {job: pipeline.extract_safely(job) for job in jobs}
gc.enable()
gc.freeze()  # the extracted workbooks live on here; a real run frees them after each chunk
pipeline.extract_safely = extracted.__getitem__
options = pipeline.Options()
chunks = [jobs[i:i + 200] for i in range(0, len(jobs), 200)]

spent: dict[str, float] = {"build_batch": 0.0, "checks": 0.0, "summarize": 0.0}
by_rule: dict[str, float] = {}


def timed(part: str, fn, rule: str = ""):
    def wrapper(*a, **k):
        t = time.process_time()
        try:
            out = fn(*a, **k)
            return list(out) if part == "checks" else out  # rules are generators
        finally:
            spent[part] += time.process_time() - t
            if rule:
                by_rule[rule] = by_rule.get(rule, 0.0) + time.process_time() - t
    return wrapper


xlsxcheck.batch.build_batch = timed("build_batch", xlsxcheck.batch.build_batch)
xlsxcheck.model.Workbook.summarize = timed("summarize", xlsxcheck.model.Workbook.summarize)
runners = xlsxcheck.checks.runners
xlsxcheck.checks.runners = lambda scope="book": [(name, timed("checks", fn, name)) for name, fn in runners(scope)]


def once() -> None:
    for chunk in chunks:
        pipeline.check_chunk((chunk, options, None))


once()  # imports, caches, pandera's first use
if "--profile" in sys.argv:
    profile = cProfile.Profile()
    profile.enable()
    once()
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    sys.exit()
for part in spent:
    spent[part] = 0.0
by_rule.clear()
cpu = []
for _ in range(repeats):
    t = time.process_time()
    once()
    cpu.append(time.process_time() - t)
ms = lambda seconds: f"{seconds / n * 1000:.3f}"  # noqa: E731
print(f"{Path(xlsxcheck.__file__).parent}: {n} workbooks, stage CPU ms a workbook: "
      f"min {ms(min(cpu))}, median {ms(sorted(cpu)[len(cpu) // 2])}; "
      + ", ".join(f"{part} {ms(s / repeats)}" for part, s in spent.items()))
if "--rules" in sys.argv:
    print("  " + ", ".join(f"{rule} {ms(s / repeats)}" for rule, s in sorted(by_rule.items(), key=lambda kv: -kv[1])))
