"""Where a workbook's CPU time goes in a worker, stage by stage, on any benchmark corpus.

    python benchmarks/stages.py [CORPUS] [N]      # CORPUS: n1000 (default), varied-n1000, mixed-n1000 …
    python benchmarks/stages.py varied-n1000 --cold  # every text new to the caches

Runs pipeline.check_chunk in this process on chunks of 200 of the first N workbooks (600 by
default) of benchmarks/.data/CORPUS (made by bench.py), the first chunk untimed (plans made,
caches filled, pandera loaded), and prints CPU milliseconds a workbook for each stage, timed
where it is called (a stage inside another counts in both: guards and the band rows are part of
"sheets by plans or in full"). To compare two trees in one run, put the other first on
PYTHONPATH; the machine's noise is ±10% from one run to the next, so alternate the trees.

The corpora draw their texts from small pools, so the caches of text functions (normalize,
label_form, parse, the plans' text checks) hit far more often than on a real batch, whose units
write their own indicator names, values and reasons. --cold clears those caches before each
workbook: every text is new, labels included, the upper bound of a batch whose units share no text.
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
import xlsxcheck.values as values

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
    if "--cold" in sys.argv:
        pipeline.extract_safely = _cold(pipeline.extract_safely)
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
    cold = ", every text new" if "--cold" in sys.argv else ""
    print(f"{Path(xlsxcheck.__file__).parent} on {folder.name}{cold}: {timed} workbooks, CPU ms a workbook")
    print(f"  {'worker, all of it':<40} {total * 1000 / timed:6.2f}")
    for _, name, what in STAGES:
        print(f"  {what:<40} {spent[name] * 1000 / timed:6.2f}  ({name})")


_TEXT_CACHES = [(values, "_normalize_str"), (values, "_label_form_str"), (values, "parse"), (values, "parse_indicator"),
                (plans, "_text"), (plans, "_inert"), (plans, "_placeholder"), (plans, "_mask"), (plans, "_band_ok"),
                (plans, "_band_cell"), (plans, "_band_prefix"), (plans, "_starts_join"), (plans, "_label_tails")]


def _cold(extract_safely):
    caches = [getattr(module, name) for module, name in _TEXT_CACHES if hasattr(getattr(module, name, None), "cache_clear")]

    def cold(job):
        for cache in caches:
            cache.cache_clear()
        return extract_safely(job)
    return cold


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
