"""Where a workbook's CPU time goes in a worker, stage by stage, on any benchmark corpus.

    python benchmarks/stages.py [CORPUS] [N]      # CORPUS: n1000 (default), varied-n1000, mixed-n1000 …

Runs pipeline.check_chunk in this process on chunks of 200 of the first N workbooks (600 by
default) of benchmarks/.data/CORPUS (made by bench.py), the first chunk untimed (plans made,
caches filled, pandera loaded), and prints CPU milliseconds a workbook for each stage, timed
where it is called (a stage inside another counts in both: guards and the band rows are part of
"sheets by plans or in full"). To compare two trees in one run, put the other first on
PYTHONPATH; the machine's noise is ±10% from one run to the next, so alternate the trees.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import xlsxcheck
import xlsxcheck.batch as batch
import xlsxcheck.extract as extract
import xlsxcheck.pipeline as pipeline
import xlsxcheck.plans as plans
import xlsxcheck.reading as reading

STAGES = [  # (module, function, what it is)
    (pipeline, "extract_safely", "extraction, reading included"),
    (extract, "read_grids", "reading: screening and calamine"),
    (reading, "_screen_zip", "screening the zip before calamine"),
    (plans, "sheet_tables", "sheets by plans or in full"),
    (plans, "_admits", "guards (flat plans and banded parts)"),
    (plans, "_admit_banded", "banded guards"),
    (plans, "_apply", "flat plans applied"),
    (plans, "_apply_banded", "banded plans applied"),
    (plans, "indicator_rows", "band rows read by the reader's loop"),
    (plans, "read_sheet", "sheets read in full"),
    (batch, "build_batch", "batch frames"),
]


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    folder = Path(__file__).resolve().parent / ".data" / (args[0] if args else "n1000")
    n = int(args[1]) if len(args) > 1 else 600
    jobs = [(str(p), p.name) for p in sorted(folder.glob("*.xlsx"))[:n]]
    if len(jobs) < 400:
        sys.exit(f"fewer than 400 workbooks in {folder}: run benchmarks/bench.py for that corpus first")
    spent = dict.fromkeys((name for _, name, _ in STAGES), 0.0)
    for module, name, _ in STAGES:
        setattr(module, name, _timed(getattr(module, name), name, spent))
    options = pipeline.Options()

    def run(chunk_jobs: list) -> None:
        for i in range(0, len(chunk_jobs), 200):
            pipeline.check_chunk((chunk_jobs[i:i + 200], options, None))

    run(jobs[:200])
    for name in spent:
        spent[name] = 0.0
    start = time.process_time()
    run(jobs[200:])
    total = time.process_time() - start
    timed = len(jobs) - 200
    print(f"{Path(xlsxcheck.__file__).parent} on {folder.name}: {timed} workbooks, CPU ms a workbook")
    print(f"  {'worker, all of it':<40} {total * 1000 / timed:6.2f}")
    for _, name, what in STAGES:
        print(f"  {what:<40} {spent[name] * 1000 / timed:6.2f}  ({name})")


def _timed(fn, name: str, spent: dict[str, float]):
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - start
    return wrapper


if __name__ == "__main__":
    main()
