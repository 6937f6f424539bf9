"""One weekly run: read -> validate -> index -> features -> score -> analyse.

Rendering and writing files live in :mod:`geo_risk.outputs`; this module returns in-memory
results so notebooks and tests can use them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .analyse import (
    admin_matrix,
    cell_access,
    engagement_per_cell,
    restrictions_in_force,
    risk_band,
    window_per_cell,
)
from .config import RunConfig
from .errors import GeoRiskError
from .features import (
    CellGrid,
    HistoryState,
    WeeklyEvents,
    build_training_set,
    monday_of,
    week_index,
    week_start,
)
from .index import assign_admin, cell_areas_km2, cover_cells, points_to_cells, population_per_cell
from .readers.common import InputReport, ReadResult, today
from .readers.consultations import read_consultations
from .readers.incidents import read_incidents
from .readers.spatial import read_bases, read_boundaries, read_restrictions
from .readers.tabular import read_table
from .score import DecayedHistoryScorer, Scorer
from .validate import empty_rejects, rejects_for

@dataclass
class Inputs:
    """Everything read and placed, with the accounting of every row."""

    admin: gpd.GeoDataFrame
    incidents: pd.DataFrame  # canonical + admin_pcode, cell (0 = admin-level only)
    consultations: pd.DataFrame | None
    restrictions: gpd.GeoDataFrame | None
    bases: pd.DataFrame | None
    reports: list[InputReport]
    rejects: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


@dataclass
class WeeklyResult:
    """A scored week."""

    week: pd.Timestamp
    grid: gpd.GeoDataFrame
    matrix: pd.DataFrame
    inputs: Inputs
    restrictions_in_force: gpd.GeoDataFrame | None
    model: dict[str, Any]
    parameters: dict[str, Any]


def _place(frame: pd.DataFrame, admin: gpd.GeoDataFrame, *, resolution: int,
           tolerance_km: float, what: str, keep_off_grid: pd.Series | None = None
           ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Give each row an admin P-code and an H3 cell, rejecting rows that cannot be placed."""
    warnings: list[str] = []
    lon, lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    has_xy = np.isfinite(lon) & np.isfinite(lat)
    pcode, dist = assign_admin(lon=lon, lat=lat, admin=admin, tolerance_km=tolerance_km)
    given = frame["admin_pcode"].fillna("").astype(str).str.strip().to_numpy()
    known = np.isin(given, admin["admin_pcode"].to_numpy())
    # Rows with only a P-code (gazetteer precision) take it; points use where they fall.
    pcode = np.where(has_xy, pcode, np.where(known, given, ""))
    outside = has_xy & (pcode == "")
    bad_pcode = ~has_xy & (given != "") & ~known
    reasons = pd.Series("", index=frame.index, dtype=object)
    if outside.any():
        swapped, _ = assign_admin(lon=lat[outside], lat=lon[outside], admin=admin,
                                  tolerance_km=tolerance_km)
        fits_swapped = swapped != ""
        msg_out = (f"point is outside every admin unit (more than {tolerance_km:g} km away); "
                   "check the coordinates or the boundaries file")
        msg_swap = ("point is outside every admin unit but falls inside "
                    "when latitude and longitude are swapped: swap these columns")
        reasons[outside] = np.where(fits_swapped, msg_swap, msg_out)
        share = fits_swapped.mean()
        if outside.sum() >= 3 and share > 0.5:
            warnings.append(f"{what}: {int(fits_swapped.sum())} of {int(outside.sum())} points "
                            "outside the boundaries fit when latitude and longitude are swapped;"
                            " the lat/lon columns are probably swapped in the source file.")
    reasons[bad_pcode] = "admin P-code is not in the boundaries file; check the code"
    bad = outside | bad_pcode
    rejects = rejects_for(frame.loc[bad], column="lat", reason=reasons[bad],
                          value=frame.loc[bad, "lat"].astype(str) + ", "
                          + frame.loc[bad, "lon"].astype(str))
    if bad_pcode.any():
        rejects.loc[bad_pcode[bad], "column"] = "admin_pcode"
        rejects.loc[bad_pcode[bad], "value"] = given[bad_pcode]
    out = frame.loc[~bad].copy()
    out["admin_pcode"] = pcode[~bad]
    out["snap_km"] = dist[~bad]
    cells = points_to_cells(lat=lat[~bad], lon=lon[~bad], resolution=resolution)
    if keep_off_grid is not None:
        cells = np.where(keep_off_grid.to_numpy()[~bad], np.uint64(0), cells)
    out["cell"] = cells
    return out, rejects, warnings


def _collect(results: list[ReadResult]) -> tuple[pd.DataFrame | None, list[InputReport],
                                                  list[pd.DataFrame]]:
    if not results:
        return None, [], []
    frame = pd.concat([r.frame for r in results], ignore_index=True)
    return frame, [r.report for r in results], [r.rejects for r in results]


def load_inputs(config: RunConfig, *, now: pd.Timestamp | None = None) -> Inputs:
    """Read, validate and place every input named in ``config``."""
    now = now if now is not None else today()
    admin = read_boundaries(config.boundaries)
    res = config.h3_resolution
    rejects: list[pd.DataFrame] = []
    warnings: list[str] = []

    incidents, reports, rej = _collect([read_incidents(s, now=now) for s in config.incidents])
    rejects += rej
    assert incidents is not None
    # Imprecise events (e.g. ACLED geo_precision 3: only the admin unit is known) count per
    # admin unit but are kept off the hex grid rather than pinned to a fake point.
    off_grid = incidents["geo_precision"] > config.hex_max_geo_precision
    incidents, rej_inc, warn = _place(incidents, admin, resolution=res,
                                      tolerance_km=config.admin_tolerance_km, what="incidents",
                                      keep_off_grid=off_grid)
    rejects.append(rej_inc)
    warnings += warn

    consultations, rep, rej = _collect([read_consultations(s, now=now)
                                        for s in config.consultations])
    reports += rep
    rejects += rej
    if consultations is not None:
        consultations, rej_c, warn = _place(consultations, admin, resolution=res,
                                            tolerance_km=config.admin_tolerance_km,
                                            what="consultations")
        rejects.append(rej_c)
        warnings += warn

    restriction_results = [read_restrictions(s, admin=admin, now=now)
                           for s in config.access_restrictions]
    restrictions = None
    if restriction_results:
        restrictions = gpd.GeoDataFrame(
            pd.concat([r.frame for r in restriction_results], ignore_index=True),
            geometry="geometry", crs="EPSG:4326")
        reports += [r.report for r in restriction_results]
        rejects += [r.rejects for r in restriction_results]

    bases = None
    if config.bases is not None:
        b = read_bases(config.bases, now=now)
        bases, reports, rejects = b.frame, [*reports, b.report], [*rejects, b.rejects]

    all_rejects = pd.concat([r for r in rejects if len(r)] or [empty_rejects()],
                            ignore_index=True)
    accepted: dict[str, int] = {}
    for frame in (incidents, consultations, restrictions, bases):
        if frame is not None:
            for f, n in frame["source_file"].value_counts().items():
                accepted[str(f)] = accepted.get(str(f), 0) + int(n)
    rejected = all_rejects["file"].value_counts()
    for report in reports:
        report.rows_accepted = accepted.get(report.path, 0)
        report.rows_rejected = int(rejected.get(report.path, 0))
        if report.rows_accepted + report.rows_rejected != report.rows_read:
            raise GeoRiskError(f"internal accounting error for {report.path}: read "
                               f"{report.rows_read}, accepted {report.rows_accepted}, rejected "
                               f"{report.rows_rejected}. Please report this bug.")
        if report.rows_read and report.rows_rejected / report.rows_read > 0.2:
            warnings.append(f"{report.path}: {report.rows_rejected} of {report.rows_read} rows "
                            "rejected (see rejects.csv).")
    return Inputs(admin=admin, incidents=incidents, consultations=consultations,
                  restrictions=restrictions, bases=bases, reports=reports,
                  rejects=all_rejects, warnings=warnings)


def build_grid(config: RunConfig, inputs: Inputs) -> CellGrid:
    """Cells covering the boundaries plus any cell holding a placed event."""
    cover = cover_cells(inputs.admin, resolution=config.h3_resolution)
    inc = inputs.incidents
    extra = inc.loc[inc["cell"] > 0, ["cell", "admin_pcode"]]
    cover = (pd.concat([cover, extra], ignore_index=True).drop_duplicates("cell")
             .sort_values("cell").reset_index(drop=True))
    cells = cover["cell"].to_numpy(np.uint64)
    area = cell_areas_km2(cells)
    population = np.full(len(cells), np.nan)
    pop = config.population
    if pop is not None:
        if pop.path.suffix.lower() in (".tif", ".tiff", ".vrt", ".img"):
            population = population_per_cell(path=pop.path, cells=cells,
                                              resolution=config.h3_resolution)
        else:
            population = _population_from_table(pop.path, pop.pcode_column,
                                                pop.population_column, cover, area)
    return CellGrid(cells=cells, admin_pcode=cover["admin_pcode"].to_numpy(object),
                    population=population, area_km2=area)


def _population_from_table(path: Any, pcode_column: str | None, pop_column: str | None,
                           cover: pd.DataFrame, area: np.ndarray) -> np.ndarray:
    """Spread a per-admin population table over the unit's cells by area."""
    raw = read_table(path)
    pc, col = pcode_column or "admin_pcode", pop_column or "population"
    for c in (pc, col):
        if c not in raw.frame.columns:
            raise GeoRiskError(f"{path}: no column {c!r}; set [population] pcode_column and "
                               f"population_column. Columns: {list(raw.frame.columns)}")
    table = pd.to_numeric(raw.frame.set_index(pc)[col], errors="coerce")
    unit_area = pd.Series(area).groupby(cover["admin_pcode"].to_numpy()).transform("sum")
    unit_pop = cover["admin_pcode"].map(table).to_numpy(float)
    return unit_pop * area / unit_area.to_numpy()


def _fit(scorer_factory: Callable[[], Scorer], X: np.ndarray, y: np.ndarray, w: np.ndarray
         ) -> Scorer:
    return scorer_factory().fit(X, y, sample_weight=w)


def score_week(config: RunConfig, inputs: Inputs, grid: CellGrid, week: pd.Timestamp, *,
               scorer_factory: Callable[[], Scorer] | None = None, progress: bool = False
               ) -> tuple[np.ndarray, np.ndarray, WeeklyEvents, dict[str, Any]]:
    """Probability of >= 1 incident per cell for ``week`` and for the week before.

    The previous week is scored by a model trained only on data before it, i.e. what last
    week's run would have shown, so "change vs last week" is honest.
    """
    factory = scorer_factory or DecayedHistoryScorer
    inc = inputs.incidents
    usable = inc.loc[(inc["cell"] > 0) & (inc["date"] < week)]
    events = WeeklyEvents.from_events(grid, cells=usable["cell"].to_numpy(),
                                      dates=usable["date"],
                                      civilian=usable["civilian_targeting"].to_numpy(),
                                      fatalities=usable["fatalities"].to_numpy())
    t = int(week_index(np.array([week], dtype="datetime64[D]"))[0])
    m = config.model
    first_train = t - m.training_weeks
    first_data = int(events.week.min()) if len(events.week) else first_train
    start = max(first_data, first_train - int(10 * max(m.half_lives_weeks)))
    state = HistoryState(grid, events, half_lives=m.half_lives_weeks)
    state.start(min(start, first_train))
    all_pos = np.arange(len(grid))
    older = build_training_set(state, first=first_train, last=t - 2,
                               inactive_sample=m.inactive_sample, seed=m.seed, progress=progress)
    X_prev = state.features(all_pos)
    newest = build_training_set(state, first=t - 1, last=t - 1,
                                inactive_sample=max(1, m.inactive_sample // m.training_weeks),
                                seed=m.seed + 1)
    X_now = state.features(all_pos)
    model_prev = _fit(factory, older.X, older.y, older.weight)
    X = np.concatenate([older.X, newest.X])
    y = np.concatenate([older.y, newest.y])
    w = np.concatenate([older.weight, newest.weight])
    model = _fit(factory, X, y, w)
    risk = model.predict_proba(X_now)[:, 1]
    risk_prev = model_prev.predict_proba(X_prev)[:, 1]
    info = {
        "scorer": type(model).__name__,
        "features": older.feature_names,
        "training_weeks": [str(week_start(first_train).date()),
                           str((week - pd.Timedelta(weeks=1)).date())],
        "training_rows": int(len(y)),
        "training_positive_rows": int(y.sum()),
        "base_rate": float(np.average(y, weights=w)) if len(y) else 0.0,
        "coefficients": dict(zip(older.feature_names,
                                 np.round(getattr(model, "coef_", np.array([])), 4).tolist(),
                                 strict=False)),
    }
    return risk, risk_prev, events, info


def run_week(config: RunConfig, *, week: str | pd.Timestamp | None = None,
             inputs: Inputs | None = None, now: pd.Timestamp | None = None,
             scorer_factory: Callable[[], Scorer] | None = None,
             progress: bool = False) -> WeeklyResult:
    """Score one week and analyse it.

    Parameters
    ----------
    config
        The run configuration.
    week
        Any day of the forecast week (normalised to its Monday); default: the config's
        ``forecast_week``, else the week after the newest incident.
    inputs
        Already loaded inputs (to score several weeks without reading files again).
    """
    inputs = inputs if inputs is not None else load_inputs(config, now=now)
    if week is None:
        week = config.forecast_week or (inputs.incidents["date"].max() + pd.Timedelta(days=7))
    week = monday_of(pd.Timestamp(week))
    grid = build_grid(config, inputs)
    risk, risk_prev, events, model_info = score_week(config, inputs, grid, week,
                                                     scorer_factory=scorer_factory,
                                                     progress=progress)
    t = int(week_index(np.array([week], dtype="datetime64[D]"))[0])
    n = len(grid)
    in_force = restrictions_in_force(inputs.restrictions, week)
    restricted, weeks_in_force = cell_access(grid, in_force, week)
    engagement = engagement_per_cell(grid, inputs.consultations, week=week,
                                     weeks=config.engagement_weeks, min_count=config.min_count)
    names = inputs.admin.set_index("admin_pcode")["admin_name"]
    cells = pd.DataFrame({
        "cell": grid.cells,
        "admin_pcode": grid.admin_pcode,
        "admin_name": pd.Series(grid.admin_pcode).map(names).fillna("").to_numpy(),
        "risk": risk,
        "risk_prev": risk_prev,
        "risk_change": risk - risk_prev,
        "risk_band": risk_band(risk),
        "incidents_4w": window_per_cell(events, 4, week=t, size=n).astype(int),
        "incidents_52w": window_per_cell(events, 52, week=t, size=n).astype(int),
        "fatalities_4w": window_per_cell(events, 4, week=t, size=n, column="fatalities")
        .astype(int),
        "population": grid.population,
        "area_km2": grid.area_km2,
        "restricted": restricted,
        "restricted_weeks": weeks_in_force,
    })
    cells = pd.concat([cells, engagement], axis=1)
    matrix = admin_matrix(cells=cells, admin=inputs.admin, incidents=inputs.incidents,
                          week=week, cfg=config.matrix)
    from .index import cells_to_polygons  # geometry only for the written grid

    grid_gdf = gpd.GeoDataFrame(cells, geometry=cells_to_polygons(grid.cells).to_numpy(),
                                crs="EPSG:4326")
    params = {
        "week": str(week.date()),
        "h3_resolution": config.h3_resolution,
        "admin_tolerance_km": config.admin_tolerance_km,
        "hex_max_geo_precision": config.hex_max_geo_precision,
        "engagement_weeks": config.engagement_weeks,
        "min_count": config.min_count,
        "stale_after_days": config.stale_after_days,
        "half_lives_weeks": list(config.model.half_lives_weeks),
        "training_weeks": config.model.training_weeks,
        "matrix": {k: list(v) for k, v in vars(config.matrix).items()},
        "admin_level_only_incidents": int((inputs.incidents["cell"] == 0).sum()),
    }
    _stamp_freshness(config, inputs, week)
    return WeeklyResult(week=week, grid=grid_gdf, matrix=matrix, inputs=inputs,
                        restrictions_in_force=in_force, model=model_info, parameters=params)


def _stamp_freshness(config: RunConfig, inputs: Inputs, week: pd.Timestamp) -> None:
    """Flag feeds whose newest record is older than ``stale_after_days`` before the week."""
    for report in inputs.reports:
        if report.kind == "bases" or report.newest_date is None:
            continue
        age = (week - pd.Timestamp(report.newest_date)).days
        if age > config.stale_after_days:
            report.stale = True
            msg = (f"STALE FEED: {report.name} newest record is {report.newest_date}, {age} days "
                   f"before the week of {week.date()} (limit {config.stale_after_days}); the map "
                   "may show a quiet week that is only missing data.")
            if msg not in inputs.warnings:
                inputs.warnings.append(msg)
