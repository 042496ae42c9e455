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

__all__ = ["outcomes"]


def outcomes(ctx) -> pd.DataFrame:
    """The indicators frame with `comparable`, `unmet`, `t_num` and `a_num` columns."""
    cached = getattr(ctx, "_outcomes", None)
    if cached is not None:
        return cached
    ind = ctx.batch.indicators.copy()
    if ind.empty:
        ctx._outcomes = ind
        return ind
    profiles = ctx.batch.profiles
    profile_of = np.array([p.id for p in profiles], dtype=object)[ind["_book"].to_numpy()]
    at_most = np.zeros(len(ind), bool)
    for p in {p.id: p for p in profiles}.values():  # a handful of profiles, not one pass per workbook
        mask = profile_of == p.id
        words = "|".join(map(re.escape, p.at_most_keywords)) or "$^"
        text = ind.loc[mask, "level3"].fillna("") + ind.loc[mask, "level2"].fillna("")
        at_most[mask] = ind.loc[mask, "level1_key"].isin(p.at_most_level1).to_numpy() | text.str.contains(words).to_numpy()
    t, a = ind["target.num"].to_numpy(float), ind["actual.num"].to_numpy(float)
    tu, au = ind["target.unit"].fillna(""), ind["actual.unit"].fillna("")
    # "100%" against 0.98 from a percent-formatted cell: one scale, percent points.
    a = np.where((tu == "%") & (au == "") & (np.abs(a) <= 2), a * 100, a)
    t = np.where((au == "%") & (tu == "") & (np.abs(t) <= 2), t * 100, t)
    same_unit = ((tu == au) | (tu == "") | (au == "") | ((tu == "%") | (au == "%"))).to_numpy()
    ok = (ind["target.status"] == "ok").to_numpy() & (ind["actual.status"] == "ok").to_numpy()
    comparable = ok & same_unit & ~np.isnan(t) & ~np.isnan(a)
    cmp = ind["target.cmp"].where(ind["target.cmp"].notna(), np.where(at_most, "<=", ">=")).to_numpy(object)
    with np.errstate(invalid="ignore"):
        unmet = np.select(
            [cmp == ">=", cmp == ">", cmp == "<=", cmp == "<", cmp == "="],
            [a < t - 1e-9, a <= t, a > t + 1e-9, a >= t, np.abs(a - t) > 1e-9],
            default=False,
        )
    ind["comparable"], ind["unmet"], ind["t_num"], ind["a_num"] = comparable, comparable & unmet, t, a
    ctx._outcomes = ind
    return ind
