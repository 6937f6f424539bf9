"""Perceptions per H3 cell, where counts allow: the respondents and the mean of each measure
over the last ``period_weeks`` (the period of the unit values), for the grid file.

Only responses with a point location count (``cell`` != 0; admin-only records never reach a
cell), and only in a cell of their own admin unit, so a unit's cells add up to part of the
unit's published value. Do no harm: a cell value is shown only with at least ``min_count``
responses and respondents (for a mean, answers to that measure) in the cell and only where
the unit's own value is shown (never in a suppressed or withheld unit). The unit's value
minus its shown cells must not give a hidden cell away: the unit's hidden remainder (hidden
cells plus its responses without a cell) is checked with the rule the unit totals use,
:func:`geo_risk.engagement.series.suppress`, which hides the next-smallest cell too.
No point or id is output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..arrays import unique_inverse
from ..voice_config import PerceptionConfig
from .series import suppress


def _shown(*, gi: np.ndarray, upos: np.ndarray, count: np.ndarray, people: np.ndarray,
           grid_upos: np.ndarray, eligible: np.ndarray, n_units: int, k: int) -> np.ndarray:
    """Shown cells (bool per grid cell) for one measure, with complementary suppression.

    ``gi``: each response's grid cell (-1 = none); ``upos``: its unit; ``count``/``people``:
    its weights; ``eligible``: cells allowed before counting (their unit is shown).
    """
    n_grid = len(grid_upos)
    inc = gi >= 0
    c = np.bincount(gi[inc], weights=count[inc], minlength=n_grid)
    p = np.bincount(gi[inc], weights=people[inc], minlength=n_grid)
    pc = np.flatnonzero(c > 0)
    if len(pc) == 0:
        return np.zeros(n_grid, dtype=bool)
    # the unit totals minus their located part = what no shown cell carries
    rest_c = np.bincount(upos, weights=count, minlength=n_units) - np.bincount(
        grid_upos[pc], weights=c[pc], minlength=n_units)
    rest_p = np.bincount(upos, weights=people, minlength=n_units) - np.bincount(
        grid_upos[pc], weights=p[pc], minlength=n_units)
    # one column per unit, one row per populated cell (row 0: the remainder, never shown),
    # so suppress() treats every unit as a group in one vectorised call
    cols, col = unique_inverse(grid_upos[pc])
    slot = pd.Series(col).groupby(col).cumcount().to_numpy() + 1
    shape = (int(slot.max()) + 1, len(cols))
    n, part, start = np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=bool)
    n[0], part[0] = np.clip(rest_c[cols], 0, None), np.clip(rest_p[cols], 0, None)
    n[slot, col], part[slot, col], start[slot, col] = c[pc], p[pc], eligible[pc]
    ok = suppress(n=n, part=part, k=k, groups=[np.ones(shape[0], dtype=bool)], start=start)
    out = np.zeros(n_grid, dtype=bool)
    out[pc] = ok[slot, col]
    return out


def perception_cells(*, obs: pd.DataFrame, grid_cells: np.ndarray, grid_units: np.ndarray,
                     units: pd.Index, unit_shown: dict[str, np.ndarray],
                     cfg: PerceptionConfig, k: int) -> pd.DataFrame:
    """Perception columns of the grid (see module docstring).

    Parameters
    ----------
    obs : pandas.DataFrame
        Responses as :func:`geo_risk.engagement.perceptions.perception_indicators` reads
        them, plus ``cell`` (uint64, 0 = admin only). Not modified.
    grid_cells, grid_units : numpy.ndarray
        The grid's H3 cells and their admin P-codes.
    units : pandas.Index
        The units of ``obs["unit_pos"]``.
    unit_shown : dict of str to numpy.ndarray
        Per unit, whether its forecast-week value is shown: ``respondents`` and each
        ``<measure>_mean``.
    cfg : PerceptionConfig
        Measures and period.
    k : int
        ``min_count``.

    Returns
    -------
    pandas.DataFrame
        One row per grid cell: ``perception_respondents`` and ``perception_<measure>_mean``
        (NaN where not shown).
    """
    n_grid = len(grid_cells)
    cols = [c for _, c in cfg.measures if c in obs.columns]
    answered = (obs[cols].notna().any(axis=1).to_numpy() if cols
                else np.zeros(len(obs), dtype=bool))
    ago = obs["weeks_ago"].to_numpy()
    o = obs.loc[answered & (ago >= 0) & (ago < cfg.period_weeks)
                & (obs["unit_pos"].to_numpy() >= 0)]
    upos = o["unit_pos"].to_numpy(np.int64)
    grid_upos = units.get_indexer(pd.Index(np.asarray(grid_units).astype(str)))
    cell = (o["cell"].to_numpy(np.uint64) if "cell" in o.columns
            else np.zeros(len(o), dtype=np.uint64))
    ids = pd.Index(np.asarray(grid_cells, dtype=np.uint64))
    first = np.flatnonzero(~ids.duplicated())  # the grid's cells are unique; 0s may repeat
    pos = ids[first].get_indexer(pd.Index(cell))
    gi = np.where(pos >= 0, first[np.maximum(pos, 0)], -1)
    gi = np.where((cell != 0) & (gi >= 0) & (grid_upos[np.maximum(gi, 0)] == upos), gi, -1)
    grid_upos_ok = np.maximum(grid_upos, 0)
    known = grid_upos >= 0

    def allowed(name: str) -> np.ndarray:
        s = unit_shown.get(name, np.zeros(len(units), dtype=bool))
        return known & np.asarray(s, bool)[grid_upos_ok]

    part = o["part"].to_numpy(float)
    base = _shown(gi=gi, upos=upos, count=np.ones(len(o)), people=part,
                  grid_upos=grid_upos_ok, eligible=allowed("respondents"),
                  n_units=len(units), k=k)
    inc = gi >= 0
    resp = np.bincount(gi[inc], weights=part[inc], minlength=n_grid)
    out = pd.DataFrame({"perception_respondents": np.where(base, resp, np.nan)})
    for name, col in cfg.measures:
        if col not in o.columns:
            out[f"perception_{name}_mean"] = np.nan
            continue
        x = pd.to_numeric(o[col], errors="coerce").to_numpy(float)
        has = np.isfinite(x)
        ok = _shown(gi=gi[has], upos=upos[has], count=np.ones(int(has.sum())),
                    people=part[has], grid_upos=grid_upos_ok,
                    eligible=base & allowed(f"{name}_mean"), n_units=len(units), k=k)
        g = gi[has]
        total = np.bincount(g[g >= 0], weights=x[has][g >= 0], minlength=n_grid)
        n = np.bincount(g[g >= 0], minlength=n_grid)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"perception_{name}_mean"] = np.where(ok, total / n, np.nan)
    return out


__all__ = ["perception_cells"]
