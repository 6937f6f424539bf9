"""How realistic a scenario is: the statistics real event data were measured by.

Measured the way the backtest sees the data (the project's own readers and H3 placement), so
they compare with figures measured on real exports (docs in the package docstring and README).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .spec import ScenarioFiles

#: Weeks without an event in a cell before an event there counts as an onset.
ONSET_WEEKS = 52


def scenario_statistics(files_or_config: ScenarioFiles | str | Path, *,
                        resolution: int = 6) -> dict[str, float]:
    """Sparsity, onsets and concentration of a scenario's incidents, per H3 cell and week.

    Parameters
    ----------
    files_or_config : ScenarioFiles, str or Path
        What :func:`generate_scenario` returned, or the path of a geo-risk configuration (any
        scenario, synthetic or real).
    resolution : int
        H3 resolution of the cells (res 6 ≈ 36 km², where the real figures were measured).

    Returns
    -------
    dict
        ``base_rate``: share of cell-weeks with at least one located event (cells of the
        boundaries' grid, weeks after the first 52 weeks of data up to the last full week);
        ``onset_share``: share of those positive cell-weeks with no event in the cell in the
        previous 52 weeks; ``positive_cells_per_week``; ``events_per_week`` (all accepted
        incidents, admin-level ones included, same weeks); ``quiet_unit_share``: share of admin
        units with no incident in the last 52 weeks before the end of the data;
        ``top_unit_share``: share of those last-52-week incidents in the busiest unit;
        ``n_cells``, ``weeks``.

    Raises
    ------
    GeoRiskError
        If the configuration or its inputs cannot be read.
    """
    from geo_risk.config import load_config
    from geo_risk.features import week_index
    from geo_risk.index import cover_cells
    from geo_risk.pipeline import load_inputs

    path = files_or_config.config if isinstance(files_or_config, ScenarioFiles) \
        else Path(files_or_config)
    config = dataclasses.replace(load_config(path), h3_resolution=resolution)
    inputs = load_inputs(config)
    inc = inputs.incidents
    grid = cover_cells(inputs.admin, resolution=resolution)["cell"].to_numpy(np.uint64)
    week = week_index(inc["date"].to_numpy())
    last = int(week.max())  # the data end with the week before the forecast week
    first = int(week.min()) + ONSET_WEEKS
    cell = inc["cell"].to_numpy(np.uint64)
    located = (cell != 0) & np.isin(cell, grid)
    pairs = np.unique(np.column_stack([cell[located], week[located].astype(np.uint64)]), axis=0)
    pc, pw = pairs[:, 0], pairs[:, 1].astype(np.int64)  # sorted by cell, then week
    same = np.r_[False, pc[1:] == pc[:-1]]
    gap = np.r_[0, np.diff(pw)]
    onset = ~same | (gap > ONSET_WEEKS)
    evaluated = (pw >= first) & (pw <= last)
    weeks = last - first + 1
    if weeks <= 0:
        raise ValueError("the data cover less than 53 weeks: onsets cannot be measured")
    n_pos = int(evaluated.sum())
    in_weeks = (week >= first) & (week <= last)
    year = week > last - ONSET_WEEKS
    units = inputs.admin["admin_pcode"].to_numpy()
    per_unit = inc.loc[year, "admin_pcode"].value_counts()
    return {
        "base_rate": n_pos / (len(grid) * weeks),
        "onset_share": float(onset[evaluated].mean()) if n_pos else float("nan"),
        "positive_cells_per_week": n_pos / weeks,
        "events_per_week": float(in_weeks.sum()) / weeks,
        "quiet_unit_share": float(1.0 - np.isin(units, per_unit.index).mean()),
        "top_unit_share": float(per_unit.iloc[0] / per_unit.sum()) if len(per_unit) else 0.0,
        "n_cells": float(len(grid)),
        "weeks": float(weeks),
    }
