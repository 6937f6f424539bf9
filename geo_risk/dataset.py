"""From placed inputs to what the features stream over: event channels and context.

Incidents feed the "events", "civilian", "fatalities", "battles" and "remote" channels;
engagement records feed "alerts" (early-warning alerts) and "insecure" (consultations whose
reported safety score is 2 or less on the 1-5 scale). Only rows with an H3 cell (not the
admin-level-only ones) stream per cell; unit-level history (:func:`admin_weekly_counts`)
counts those too. Only data dated before ``week_limit`` is used at all.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .features import CellGrid, Context, RestrictionIndex, WeeklyEvents, week_index
from .index import cell_centres, neighbour_pairs

_OPEN_END = 10**7


def _event_type_masks(event_type: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    t = event_type.fillna("").astype(str).str.lower()
    battles = t.str.contains("battle|state-based|non-state", regex=True).to_numpy()
    remote = t.str.contains("explosion|remote", regex=True).to_numpy()
    return battles, remote


def make_streams(grid: CellGrid, *, incidents: pd.DataFrame,
                 consultations: pd.DataFrame | None, week_limit: pd.Timestamp) -> WeeklyEvents:
    """Cell-week channel values from incidents and engagement records before ``week_limit``."""
    inc = incidents.loc[(incidents["cell"] > 0) & (incidents["date"] < week_limit)]
    battles, remote = _event_type_masks(inc["event_type"])
    n = len(inc)
    frames = [pd.DataFrame({
        "cell": inc["cell"].to_numpy(np.uint64), "date": inc["date"].to_numpy(),
        "events": np.ones(n), "civilian": inc["civilian_targeting"].to_numpy(float),
        "fatalities": inc["fatalities"].to_numpy(float), "battles": battles.astype(float),
        "remote": remote.astype(float), "alerts": 0.0, "insecure": 0.0})]
    if consultations is not None and len(consultations):
        c = consultations.loc[(consultations["cell"] > 0) & (consultations["date"] < week_limit)]
        alerts = (c["modality"] == "early_warning_alert").to_numpy(float)
        insecure = (c["safety_score"] <= 2).fillna(False).to_numpy(float)
        keep = (alerts + insecure) > 0
        m = int(keep.sum())
        if m:
            frames.append(pd.DataFrame({
                "cell": c["cell"].to_numpy(np.uint64)[keep], "date": c["date"].to_numpy()[keep],
                "events": 0.0, "civilian": 0.0, "fatalities": 0.0, "battles": 0.0,
                "remote": 0.0, "alerts": alerts[keep], "insecure": insecure[keep]}))
    df = pd.concat(frames, ignore_index=True)
    channels = ["events", "civilian", "fatalities", "battles", "remote", "alerts", "insecure"]
    return WeeklyEvents.from_frame(grid, cells=df["cell"].to_numpy(np.uint64),
                                   dates=df["date"].to_numpy(),
                                   values={k: df[k].to_numpy(float) for k in channels})


def restriction_index(grid: CellGrid, restrictions: gpd.GeoDataFrame | None
                      ) -> RestrictionIndex | None:
    """Cells (by centre) covered by each restriction, with its weeks in force.

    A restriction counts as in force in week ``t`` when it started before that week's
    Monday and had not ended by it: what was known when the forecast was made.
    """
    if restrictions is None or restrictions.empty:
        return None
    lat, lon = cell_centres(grid.cells)
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    cell_idx, r_idx = restrictions.sindex.query(pts, predicate="within")
    start = week_index(restrictions["start_date"].to_numpy()) + 1
    end_dates = restrictions["end_date"]
    end = np.where(end_dates.isna(), _OPEN_END,
                   week_index(end_dates.fillna(pd.Timestamp("2262-01-01")).to_numpy()))
    return RestrictionIndex(rid=r_idx.astype(np.int64), pos=cell_idx.astype(np.int64),
                            start_week=start.astype(np.int64), end_week=end.astype(np.int64),
                            severity=restrictions["severity"].to_numpy(float))


def base_distance_km(grid: CellGrid, bases: pd.DataFrame | None, week: pd.Timestamp
                     ) -> np.ndarray | None:
    """Great-circle distance from each cell centre to the nearest base open in ``week``."""
    if bases is None or bases.empty:
        return None
    open_ = (bases["open_date"].isna() | (bases["open_date"] <= week)) & (
        bases["close_date"].isna() | (bases["close_date"] >= week))
    b = bases.loc[open_]
    if b.empty:
        return None
    lat, lon = (np.radians(a) for a in cell_centres(grid.cells))
    blat, blon = np.radians(b["lat"].to_numpy(float)), np.radians(b["lon"].to_numpy(float))
    best = np.full(len(lat), np.inf)
    for la, lo in zip(blat, blon, strict=True):  # per base (tens), vectorised over cells
        h = (np.sin((lat - la) / 2) ** 2
             + np.cos(lat) * np.cos(la) * np.sin((lon - lo) / 2) ** 2)
        best = np.minimum(best, 2 * 6371.0 * np.arcsin(np.sqrt(h)))
    return best


def admin_neighbours(grid: CellGrid, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (unit code, neighbouring unit code) of units whose cells touch, both ways."""
    if len(grid) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    origin, nbr, _ = neighbour_pairs(grid.cells, k=1)
    opos, _ = grid.positions(origin)
    npos, found = grid.positions(nbr)
    a, b = codes[opos[found]], codes[npos[found]]
    pairs = np.unique(np.column_stack([a, b])[a != b], axis=0)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def admin_weekly_counts(grid: CellGrid, codes: np.ndarray, incidents: pd.DataFrame,
                        week_limit: pd.Timestamp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(week, unit code, incidents) for every incident with a unit before ``week_limit``,
    those located only to the unit (no cell) included, sorted by week."""
    inc = incidents.loc[incidents["date"] < week_limit]
    uniques = pd.unique(pd.Series(grid.admin_pcode, dtype=object))
    code = pd.Index(uniques).get_indexer(pd.Index(inc["admin_pcode"].astype(object)))
    ok = code >= 0
    df = pd.DataFrame({"week": week_index(inc["date"].to_numpy())[ok], "code": code[ok]})
    g = df.groupby(["week", "code"], sort=True).size()
    return (g.index.get_level_values(0).to_numpy(np.int64),
            g.index.get_level_values(1).to_numpy(np.int64), g.to_numpy(np.float64))


def make_context(grid: CellGrid, *, restrictions: gpd.GeoDataFrame | None,
                 data_start: pd.Timestamp | None, incidents: pd.DataFrame | None = None,
                 week_limit: pd.Timestamp | None = None) -> Context:
    """Context of the features; with ``incidents`` and ``week_limit``, unit-level history
    (all incidents with a unit, cell-less ones included) and unit adjacency too."""
    codes, _ = pd.factorize(pd.Series(grid.admin_pcode, dtype=object))
    codes = codes.astype(np.int64)
    admin_events = admin_pairs = None
    if incidents is not None and week_limit is not None and len(grid):
        admin_events = admin_weekly_counts(grid, codes, incidents, week_limit)
        admin_pairs = (grid.admin_pairs if grid.admin_pairs is not None
                       else admin_neighbours(grid, codes))
    return Context(admin_codes=codes,
                   restrictions=restriction_index(grid, restrictions),
                   data_start_week=None if data_start is None
                   else int(week_index(np.array([data_start], dtype="datetime64[D]"))[0]),
                   admin_events=admin_events, admin_pairs=admin_pairs)
