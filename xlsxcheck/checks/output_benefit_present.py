"""S206: every self-evaluation table has at least one output and one benefit indicator."""

import numpy as np

from ..catalog import Bi, make_finding
from .common import split_ref

FIELDS = ('indicators.header',)  # table fields this rule reads (the batch frames hold only declared fields)

_NAMES = {"output": ("产出指标", "output indicators"), "benefit": ("效益指标", "benefit indicators")}


def check(ctx):
    batch = ctx.batch
    ind = batch.indicators
    have = {key: set() for key in _NAMES}  # (book, table) of the tables with such an indicator
    if not ind.empty:
        for key, pos, table in zip(ind["level1_key"].tolist(), ind["_book"].tolist(), ind["_table"].tolist()):
            if key in have:
                have[key].add((pos, table))
    for kind in ("overall", "project"):
        columns = batch.columns.get(kind)
        if not batch.sources.get(kind):
            continue
        # Only tables whose indicator header was read: R006 names what another one lacks. (No
        # column at all: no table of the batch has one.)
        header = columns.get("indicators.header@status")
        rows = np.flatnonzero(header == "ok") if header is not None else np.arange(0)
        keys = list(zip(columns["_book"][rows].tolist(), columns["_table"][rows].tolist()))
        for key, (zh, en) in _NAMES.items():
            for i, k in zip(rows, keys):
                if k not in have[key]:
                    yield make_finding("S206", columns["_file"][i], *split_ref(columns["_anchor"][i]), unit=columns["_unit"][i],
                                       field=f"{columns['_table'][i]}:{key}", label=Bi(zh, en),
                                       table=Bi(columns["_name_zh"][i], columns["_name_en"][i]))
