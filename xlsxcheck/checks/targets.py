"""Whether each indicator met its target: the reading shared by the I30x rules.

A target without a comparator means "at least", except where the profile says less is
better (cost indicators, durations, failure rates): there it means "at most". Percent
values written as "98%" and as 0.98 are put on one scale; values in different units are
not compared.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["unmet"]


def unmet(ctx) -> np.ndarray:
    """For each row of the indicators frame: its target and actual value are comparable and
    the target was not met. Computed once per chunk over plain arrays (the rules filter the
    frame with it)."""
    cached = getattr(ctx, "_unmet", None)
    if cached is not None:
        return cached
    ind = ctx.batch.indicators
    if ind.empty:
        ctx._unmet = np.zeros(0, bool)
        return ctx._unmet
    # A target written without a comparator: "at most" by the level-1 block or by words in the
    # level-3 (or level-2) label, as the workbook's profile says; "at least" otherwise.
    written = ind["target.cmp"].to_numpy(object)
    bare = np.flatnonzero(pd.isna(written))
    at_most = np.zeros(len(ind), bool)
    if len(bare):
        profile_of = np.array([p.id for p in ctx.batch.profiles], object)[ind["_book"].to_numpy()[bare]]
        keys = ind["level1_key"].to_numpy()[bare]
        labels = ind["level3"].to_numpy()[bare] + ind["level2"].to_numpy()[bare]
        for p in {p.id: p for p in ctx.batch.profiles}.values():  # a handful of profiles, not one pass per workbook
            mine = profile_of == p.id
            words = re.compile("|".join(map(re.escape, p.at_most_keywords)) or "$^")
            codes, texts = pd.factorize(labels[mine])  # each distinct label searched once
            said = np.array([words.search(text) is not None for text in texts], bool)
            at_most[bare[mine]] = np.isin(keys[mine], list(p.at_most_level1)) | said[codes]
    t, a = ind["target.num"].to_numpy(float), ind["actual.num"].to_numpy(float)
    tu = np.array([u or "" for u in ind["target.unit"].to_numpy()], object)
    au = np.array([u or "" for u in ind["actual.unit"].to_numpy()], object)
    # "100%" against 0.98 from a percent-formatted cell: one scale, percent points.
    a = np.where((tu == "%") & (au == "") & (np.abs(a) <= 2), a * 100, a)
    t = np.where((au == "%") & (tu == "") & (np.abs(t) <= 2), t * 100, t)
    same_unit = (tu == au) | (tu == "") | (au == "") | (tu == "%") | (au == "%")
    ok = (ind["target.status"].to_numpy() == "ok") & (ind["actual.status"].to_numpy() == "ok")
    comparable = ok & same_unit & ~np.isnan(t) & ~np.isnan(a)
    cmp = np.where(pd.isna(written), np.where(at_most, "<=", ">="), written)
    with np.errstate(invalid="ignore"):
        missed = np.select(
            [cmp == ">=", cmp == ">", cmp == "<=", cmp == "<", cmp == "="],
            [a < t - 1e-9, a <= t, a > t + 1e-9, a >= t, np.abs(a - t) > 1e-9],
            default=False,
        )
    ctx._unmet = comparable & missed
    return ctx._unmet
