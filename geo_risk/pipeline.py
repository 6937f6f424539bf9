"""One weekly run: read -> validate -> index -> features -> score -> analyse.

Rendering and writing files live in :mod:`geo_risk.outputs`; this module returns in-memory
results so notebooks and tests can use them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .analyse import (
    admin_matrix,
    admin_trend,
    cell_access,
    civilian_history,
    engagement_per_cell,
    fatality_history,
    matrix_bins,
    restrictions_in_force,
    risk_band,
    trend_class,
    unit_exposure,
    window_per_cell,
)
from .arrays import isin
from .config import RunConfig, SourceConfig
from .engagement import WITHHELD, analyse_engagement
from .engagement.outreach import OutreachResult, analyse_outreach
from .engagement.voice import analyse_voice, split_respondents
from .errors import GeoRiskError
from .features import (
    CellGrid,
    monday_of,
    week_index,
)
from .forecast import forecast
from .gazetteer import Gazetteer
from .index import assign_admin, cell_areas_km2, cover_cells, locate_points
from .population import population_per_cell, read_population_table, spread_over_cells
from .readers.bases import read_bases
from .readers.common import InputReport, ReadResult, today
from .readers.consultations import read_consultations
from .readers.focal_points import read_focal_points
from .readers.incidents import read_incidents
from .readers.spatial import read_boundaries, read_restrictions
from .runtime import heavy_call
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
    # Perception-survey respondents (sources with one_row_per_respondent): canonical
    # consultation rows used for perceptions only, never counted as engagements.
    perceptions: pd.DataFrame | None = None
    focal_points: pd.DataFrame | None = None  # registered alert focal points, placed


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
    history: pd.DataFrame | None = None  # cell, week, risk over the last weeks (map selector)
    # Engagement gaps (geo_risk.engagement): shareable, aggregated and suppressed.
    priorities: pd.DataFrame | None = None  # ranked units then cells for next week
    actors: pd.DataFrame | None = None  # armed actors per admin unit in the window
    base_reach: pd.DataFrame | None = None  # per open base: reach, risk, engagements/staff
    # Perceptions, topics, benchmarks over time (geo_risk.engagement.voice.VoiceResult).
    voice: Any = None
    # Alerts and their response, gender view, who engaged (geo_risk.engagement.outreach).
    outreach: OutreachResult | None = None


#: Reasons of rows that lie outside the boundaries' area start with this; rejects.csv gives them
#: the category "outside_area" and run.json counts them apart (``rows_outside``).
OUTSIDE_AREA = "outside the area"


#: Places points: ``(pcode, distance_km, cell)`` as :func:`geo_risk.index.locate_points`
#: (the dask engine passes one that runs blocks of rows on its workers).
Locator = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


def _place(frame: pd.DataFrame, admin: gpd.GeoDataFrame, *, resolution: int,
           tolerance_km: float, what: str, keep_off_grid: pd.Series | None = None,
           locate: Locator = locate_points
           ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Give each row an admin P-code and an H3 cell, rejecting rows that cannot be placed.

    Points take the unit they fall in (or the nearest within ``tolerance_km``). Rows without a
    point, and imprecise rows (``keep_off_grid``) whose reader already found the unit (P-code or
    gazetteer), keep that unit. Rows without a point, and ``keep_off_grid`` rows, get cell 0:
    counted per admin unit, never pinned to a made-up point in the hex grid.
    """
    warnings: list[str] = []
    lon, lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    has_xy = np.isfinite(lon) & np.isfinite(lat)
    off_grid = (keep_off_grid.to_numpy(dtype=bool) if keep_off_grid is not None
                else np.zeros(len(frame), dtype=bool)) | ~has_xy
    given = frame["admin_pcode"].fillna("").astype(str).str.strip().to_numpy()
    known = isin(given, admin["admin_pcode"].to_numpy())
    use_given = known & off_grid
    to_locate = has_xy & ~use_given
    # cells of the other rows are 0 below anyway: no point (or off the grid by design)
    pcode, dist, cells = locate(lon=np.where(to_locate, lon, np.nan),
                                lat=np.where(to_locate, lat, np.nan), admin=admin,
                                tolerance_km=tolerance_km, resolution=resolution)
    pcode = np.where(use_given, given, pcode)
    dist = np.where(use_given, np.nan, dist)
    outside = to_locate & (pcode == "")
    bad_pcode = ~has_xy & (given != "") & ~known
    unplaced = ~has_xy & (given == "")
    reasons = pd.Series("", index=frame.index, dtype=object)
    if outside.any():
        swapped, _ = assign_admin(lon=lat[outside], lat=lon[outside], admin=admin,
                                  tolerance_km=tolerance_km)
        fits_swapped = swapped != ""
        # Not an error: a regional file holds events of neighbouring countries too.
        where = (" (" + frame.loc[outside, "country"].fillna("").astype(str).str.strip() + ")"
                 if "country" in frame.columns else pd.Series("", index=frame.index[outside]))
        where = where.where(where != " ()", "")
        msg_out = (OUTSIDE_AREA + where + f": more than {tolerance_km:g} km from every admin "
                   "unit of the boundaries; counted apart, not an error (check the coordinates "
                   "if it should be inside)")
        msg_swap = ("point is outside every admin unit but falls inside "
                    "when latitude and longitude are swapped: swap these columns")
        reasons[outside] = np.where(fits_swapped, msg_swap, msg_out.to_numpy(dtype=object))
        share = fits_swapped.mean()
        if outside.sum() >= 3 and share > 0.5:
            warnings.append(f"{what}: {int(fits_swapped.sum())} of {int(outside.sum())} points "
                            "outside the boundaries fit when latitude and longitude are swapped;"
                            " the lat/lon columns are probably swapped in the source file.")
        n_points = int(to_locate.sum())
        if n_points >= 10 and outside.sum() > 0.5 * n_points and share <= 0.5:
            warnings.append(f"{what}: {int(outside.sum())} of {n_points} points fall outside "
                            "every admin unit: is the boundaries file for the right country, "
                            "and are the coordinates in degrees (WGS 84)?")
    reasons[bad_pcode] = "admin P-code is not in the boundaries file; check the code"
    reasons[unplaced] = "no coordinates and no admin unit: the row cannot be placed"
    bad = outside | bad_pcode | unplaced
    rejects = rejects_for(frame.loc[bad], column="lat", reason=reasons[bad],
                          value=frame.loc[bad, "lat"].astype(str) + ", "
                          + frame.loc[bad, "lon"].astype(str))
    if bad_pcode.any() or unplaced.any():
        code_rows = (bad_pcode | unplaced)[bad]
        rejects.loc[code_rows, "column"] = "admin_pcode"
        rejects.loc[code_rows, "value"] = given[bad_pcode | unplaced]
    out = frame.loc[~bad].copy()
    out["admin_pcode"] = pcode[~bad]
    out["snap_km"] = dist[~bad]
    out["cell"] = np.where(off_grid[~bad], np.uint64(0), cells[~bad])
    return out, rejects, warnings


def _collect(results: list[ReadResult]) -> tuple[pd.DataFrame | None, list[InputReport],
                                                  list[pd.DataFrame]]:
    if not results:
        return None, [], []
    frame = pd.concat([r.frame for r in results], ignore_index=True)
    return frame, [r.report for r in results], [r.rejects for r in results]


def _with_sensitive(source: SourceConfig, columns: tuple[str, ...]) -> SourceConfig:
    """The source with the run's sensitive columns added to its own ``sensitive_columns``."""
    own = source.options.get("sensitive_columns", ())
    own = (own,) if isinstance(own, str) else tuple(own)
    merged = tuple(dict.fromkeys([*columns, *own]))
    return replace(source, options={**source.options, "sensitive_columns": merged})


def _account(reports: list[InputReport], rejects: list[pd.DataFrame],
             frames: tuple[pd.DataFrame | None, ...]) -> tuple[pd.DataFrame, list[str]]:
    """Fill each report's accepted/rejected/outside counts and check that they add up.

    Returns all rejects in one table, with ``category`` ("outside_area" for rows outside the
    boundaries' area, else "invalid"), and the warnings of the reports.
    """
    warnings: list[str] = []
    all_rejects = pd.concat([r for r in rejects if len(r)] or [empty_rejects()],
                            ignore_index=True)
    outside_area = all_rejects["reason"].astype(str).str.startswith(OUTSIDE_AREA)
    all_rejects["category"] = np.where(outside_area, "outside_area", "invalid")
    outside_per_file = all_rejects.loc[outside_area, "file"].value_counts()
    accepted: dict[str, int] = {}
    for frame in frames:
        if frame is not None:
            # A base built from a base-month panel stands for several accepted rows.
            weight = (frame["source_rows"] if "source_rows" in frame.columns
                      else pd.Series(1, index=frame.index))
            for f, n in weight.groupby(frame["source_file"].to_numpy()).sum().items():
                accepted[str(f)] = accepted.get(str(f), 0) + int(n)
    rejected = all_rejects["file"].value_counts()
    for report in reports:
        report.rows_accepted = accepted.get(report.path, 0)
        report.rows_rejected = int(rejected.get(report.path, 0))
        report.rows_outside = int(outside_per_file.get(report.path, 0))
        if report.rows_accepted + report.rows_rejected != report.rows_read:
            raise GeoRiskError(f"internal accounting error for {report.path}: read "
                               f"{report.rows_read}, accepted {report.rows_accepted}, rejected "
                               f"{report.rows_rejected}. Please report this bug.")
        invalid = report.rows_rejected - report.rows_outside
        if report.rows_read and invalid / report.rows_read > 0.2:
            warnings.append(f"{report.path}: {invalid} of {report.rows_read} rows "
                            "rejected (see rejects.csv).")
        warnings += [f"{Path(report.path).name}: {w}" for w in report.warnings
                     if not w.startswith("personal fields dropped")]
    return all_rejects, warnings


@heavy_call
def load_inputs(config: RunConfig, *, now: pd.Timestamp | None = None,
                locate: Locator = locate_points) -> Inputs:
    """Read, validate and place every input named in ``config``.

    ``locate`` places the rows' points (admin unit and H3 cell); the dask engine gives one
    that runs blocks of rows on its workers (:func:`geo_risk.engine.dask_locator`).

    Every row of every file ends up accepted or in ``rejects`` (file, row, column, value,
    reason); the counts are checked per file. Rows that carry only an admin name or P-code are
    placed through the gazetteer at admin precision (cell 0, off the hex grid).
    """
    now = now if now is not None else today()
    admin = read_boundaries(config.boundaries)
    gazetteer = Gazetteer.from_admin(
        admin, min_similarity=getattr(config, "gazetteer_min_similarity", 0.8))
    res = config.h3_resolution
    rejects: list[pd.DataFrame] = []
    warnings: list[str] = []

    incidents, reports, rej = _collect([read_incidents(s, now=now, gazetteer=gazetteer)
                                        for s in config.incidents])
    rejects += rej
    assert incidents is not None
    # Imprecise events (e.g. ACLED geo_precision 3: only the admin unit is known) count per
    # admin unit but are kept off the hex grid rather than pinned to a fake point.
    off_grid = incidents["geo_precision"] > config.hex_max_geo_precision
    incidents, rej_inc, warn = _place(incidents, admin, resolution=res,
                                      tolerance_km=config.admin_tolerance_km, what="incidents",
                                      keep_off_grid=off_grid, locate=locate)
    incidents = incidents.drop(columns="country", errors="ignore")
    rejects.append(rej_inc)
    warnings += warn

    sensitive = tuple(getattr(config, "sensitive_columns", ()))
    consultations, rep, rej = _collect([
        read_consultations(_with_sensitive(s, sensitive), now=now, gazetteer=gazetteer)
        for s in config.consultations])
    reports += rep
    rejects += rej
    if consultations is not None:
        consultations, rej_c, warn = _place(consultations, admin, resolution=res,
                                            tolerance_km=config.admin_tolerance_km,
                                            what="consultations", locate=locate)
        rejects.append(rej_c)
        warnings += warn
    consultations, perceptions = split_respondents(consultations, config.consultations)

    restriction_results = [read_restrictions(s, admin=admin, now=now, gazetteer=gazetteer)
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

    focal_points = None
    fp_source = getattr(config, "focal_points", None)
    if fp_source is not None:
        fp = read_focal_points(_with_sensitive(fp_source, sensitive), now=now,
                               gazetteer=gazetteer)
        reports, rejects = [*reports, fp.report], [*rejects, fp.rejects]
        focal_points, rej_fp, warn = _place(fp.frame, admin, resolution=res,
                                            tolerance_km=config.admin_tolerance_km,
                                            what="focal points", locate=locate)
        rejects.append(rej_fp)
        warnings += warn

    pop = config.population
    population_table = None
    if pop is not None and not _is_raster(pop.path):
        p = read_population_table(path=pop.path, admin_pcodes=admin["admin_pcode"].to_numpy(),
                                  pcode_column=pop.pcode_column,
                                  population_column=pop.population_column)
        population_table = p.frame
        reports, rejects = [*reports, p.report], [*rejects, p.rejects]

    all_rejects, account_warnings = _account(
        reports, rejects, (incidents, consultations, perceptions, restrictions, bases,
                           population_table, focal_points))
    warnings += account_warnings
    return Inputs(admin=admin, incidents=incidents, consultations=consultations,
                  restrictions=restrictions, bases=bases, reports=reports,
                  rejects=all_rejects, warnings=warnings, perceptions=perceptions,
                  focal_points=focal_points)


def _is_raster(path: Path) -> bool:
    return path.suffix.lower() in (".tif", ".tiff", ".vrt", ".img")


def build_grid(config: RunConfig, inputs: Inputs, *, state_dir: Path | None = None
               ) -> CellGrid:
    """Cells covering the boundaries plus any cell holding a placed event.

    Population per cell comes from the raster (exact pixel coverage, any CRS) or from the per-admin
    table spread over each unit's cells by area. With ``state_dir`` the cells' areas and the
    raster's zonal sums are kept there and reused while the raster and the cells are the same.
    """
    cover = cover_cells(inputs.admin, resolution=config.h3_resolution)
    inc = inputs.incidents
    extra = inc.loc[inc["cell"] > 0, ["cell", "admin_pcode"]]
    cover = (pd.concat([cover, extra], ignore_index=True).drop_duplicates("cell")
             .sort_values("cell").reset_index(drop=True))
    cells = cover["cell"].to_numpy(np.uint64)
    if state_dir is not None:  # the same cells every week: their exact areas cost ~0.08 s
        from .state import cached_per_cell

        area = cached_per_cell(state_dir, name="area", cells=cells,
                               compute=lambda: cell_areas_km2(cells))
    else:
        area = cell_areas_km2(cells)
    population = np.full(len(cells), np.nan)
    pop = config.population
    if pop is not None:
        if _is_raster(pop.path) and state_dir is not None:
            from .state import cached_population

            population = cached_population(
                state_dir, path=pop.path, cells=cells,
                compute=lambda: population_per_cell(path=pop.path, cells=cells))
        elif _is_raster(pop.path):
            population = population_per_cell(path=pop.path, cells=cells)
        else:
            population = _population_from_table(pop.path, pop.pcode_column,
                                                pop.population_column, cover, area,
                                                admin=inputs.admin)
    grid = CellGrid(cells=cells, admin_pcode=cover["admin_pcode"].to_numpy(object),
                    population=population, area_km2=area)
    return replace(grid, admin_pairs=_kept_admin_pairs(state_dir, grid)) if state_dir else grid


def _kept_admin_pairs(state_dir: Path, grid: CellGrid) -> tuple[np.ndarray, np.ndarray]:
    """The grid's unit adjacency (:func:`geo_risk.dataset.admin_neighbours`, ~0.05 s for a
    country's cells), kept in the state folder while the cells and their units are the same."""
    from .dataset import admin_neighbours
    from .state import cached_arrays

    codes = pd.factorize(pd.Series(grid.admin_pcode, dtype=object))[0].astype(np.int64)
    pairs = cached_arrays(state_dir, name="admin-pairs", key=[grid.cells, codes],
                          compute=lambda: dict(zip("ab", admin_neighbours(grid, codes),
                                                   strict=True)))
    return pairs["a"], pairs["b"]


def _population_from_table(path: Any, pcode_column: str | None, pop_column: str | None,
                           cover: pd.DataFrame, area: np.ndarray, *,
                           admin: gpd.GeoDataFrame | None = None) -> np.ndarray:
    """Spread a per-admin population table over the unit's cells by area."""
    pcodes = (admin["admin_pcode"].to_numpy() if admin is not None
              else cover["admin_pcode"].unique())
    table = read_population_table(path=Path(path), admin_pcodes=pcodes,
                                  pcode_column=pcode_column, population_column=pop_column)
    unit = table.frame.set_index("admin_pcode")["population"]
    return spread_over_cells(unit, cell_admin=cover["admin_pcode"].to_numpy(object),
                             area_km2=area)


@heavy_call
def run_week(config: RunConfig, *, week: str | pd.Timestamp | None = None,
             inputs: Inputs | None = None, now: pd.Timestamp | None = None,
             progress: bool = False, use_state: bool = False,
             forecaster: Callable[..., Any] | None = None) -> WeeklyResult:
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
    use_state
        Start from, and save, the run's state folder (:mod:`geo_risk.state`; ``state_dir``
        of the config, else ``.geo-risk`` next to the config file): next week's run then adds
        one week instead of rebuilding years. The scores are the same either way.
    forecaster
        Replaces :func:`geo_risk.forecast.forecast` (same arguments but the state folder, same
        result), e.g. the dask engine's (:func:`geo_risk.engine.forecast_dask` with its
        client bound); it runs from scratch (no state folder).
    """
    inputs = inputs if inputs is not None else load_inputs(config, now=now)
    if week is None:
        week = config.forecast_week or (inputs.incidents["date"].max() + pd.Timedelta(days=7))
    week = monday_of(pd.Timestamp(week))
    state_dir = _forecast_state(config) if use_state else None
    grid = build_grid(config, inputs, state_dir=state_dir)
    names = inputs.admin.set_index("admin_pcode")["admin_name"]
    kw: dict[str, Any] = dict(incidents=inputs.incidents, consultations=inputs.consultations,
                              restrictions=inputs.restrictions, bases=inputs.bases, week=week,
                              config=config.model, admin_names=names,
                              min_count=config.min_count, progress=progress)
    fc = (forecaster(grid, **kw) if forecaster is not None
          else forecast(grid, state_dir=state_dir, **kw))
    risk, risk_prev, events, model_info = fc.risk, fc.risk_prev, fc.events, fc.info
    t = int(week_index(np.array([week], dtype="datetime64[D]"))[0])
    n = len(grid)
    in_force = restrictions_in_force(inputs.restrictions, week)
    restricted, weeks_in_force = cell_access(grid, in_force, week)
    consultations = inputs.consultations
    if consultations is not None and config.reprisal_sensitive_pcodes:
        # do no harm: records in reprisal-sensitive units never reach a shared count
        consultations = consultations.loc[~consultations["admin_pcode"].astype(str).isin(
            config.reprisal_sensitive_pcodes)]
    engagement = engagement_per_cell(grid, consultations, week=week,
                                     weeks=config.engagement_weeks, min_count=config.min_count)
    cells = pd.DataFrame({
        "cell": grid.cells,
        "admin_pcode": grid.admin_pcode,
        "admin_name": pd.Series(grid.admin_pcode).map(names).fillna("").to_numpy(),
        "risk": risk,
        "risk_low": fc.risk_low,
        "risk_high": fc.risk_high,
        "risk_prev": risk_prev,
        "risk_change": risk - risk_prev,
        "risk_band": risk_band(risk),
        "trend": trend_class(events, week=t, size=n),
        "onset": fc.onset,
        "drivers": fc.drivers,
        "incidents_4w": window_per_cell(events, 4, week=t, size=n).astype(int),
        "incidents_52w": window_per_cell(events, 52, week=t, size=n).astype(int),
        "fatalities_4w": window_per_cell(events, 4, week=t, size=n, column="fatalities")
        .astype(int),
        "population": grid.population,
        "area_km2": grid.area_km2,
        "base_distance_km": (fc.grid.base_distance_km if fc.grid.base_distance_km is not None
                             else np.full(n, np.nan)),
        "restricted": restricted,
        "restricted_weeks": weeks_in_force,
    })
    cells = pd.concat([cells, engagement], axis=1)
    units = fc.units.table if fc.units is not None else None
    bins = matrix_bins(config.matrix,
                       past_likelihood=fc.units.past_likelihood if fc.units is not None
                       else None, exposure=unit_exposure(cells).to_numpy(),
                       civilian=civilian_history(inputs.incidents, week=week),
                       fatalities=fatality_history(inputs.incidents, week=week))
    matrix = admin_matrix(cells=cells, admin=inputs.admin, incidents=inputs.incidents,
                          week=week, cfg=config.matrix, units=units, bins=bins)
    matrix = matrix.merge(admin_trend(inputs.incidents, admin=inputs.admin, week=t),
                          on="admin_pcode", how="left")
    eng = analyse_engagement(cells=cells, matrix=matrix, consultations=inputs.consultations,
                             incidents=inputs.incidents, bases=inputs.bases,
                             restrictions=in_force, week=week, config=config)
    cells = pd.concat([cells, eng.cells], axis=1)
    withheld = (eng.cells["coverage_status"] == WITHHELD).to_numpy()
    cells.loc[withheld, "engagements_12w"] = np.nan
    cells.loc[withheld, "engagement_status"] = WITHHELD
    matrix = matrix.merge(eng.admin, on="admin_pcode", how="left")
    voice = analyse_voice(matrix=matrix, cells=cells, consultations=inputs.consultations,
                          perceptions=inputs.perceptions, week=week, config=config)
    matrix = matrix.merge(voice.matrix, on="admin_pcode", how="left")
    cells = pd.concat([cells, voice.cells], axis=1)  # perception_* per cell
    outreach = analyse_outreach(cells=cells, matrix=matrix, consultations=inputs.consultations,
                                focal_points=inputs.focal_points, bases=inputs.bases,
                                week=week, config=config)
    matrix = matrix.merge(outreach.admin, on="admin_pcode", how="left")
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
        "model": config.model.kind,
        "half_lives_weeks": list(config.model.half_lives_weeks),
        "training_weeks": config.model.training_weeks,
        "retrain_every_weeks": config.model.retrain_every_weeks,
        "matrix": bins.as_dict(),
        "admin_level_only_incidents": int((inputs.incidents["cell"] == 0).sum()),
        "follow_up_weeks": config.follow_up_weeks,
        "base_reach_km": config.base_reach_km,
        "network": str(config.network.path) if config.network is not None else None,
        "engagement": {**vars(config.engagement), **eng.metadata},
        "voice": voice.metadata,
        "outreach": outreach.metadata,
    }
    check_freshness(config, inputs, reference=week, label=f"the week of {week.date()}")
    return WeeklyResult(week=week, grid=grid_gdf, matrix=matrix, inputs=inputs,
                        restrictions_in_force=in_force, model=model_info, parameters=params,
                        history=fc.history, priorities=eng.priorities, actors=eng.actors,
                        base_reach=eng.bases, voice=voice, outreach=outreach)


def _forecast_state(config: RunConfig) -> Path | None:
    from .state import state_folder

    folder = state_folder(config)
    return folder / "forecast" if folder is not None else None


def check_freshness(config: RunConfig, inputs: Inputs, *, reference: pd.Timestamp,
                    label: str) -> None:
    """Flag feeds whose newest record is older than ``stale_after_days`` before ``reference``
    (the forecast week in a run, today in ``geo-risk validate``): a quiet map must never be a
    feed that stopped. A source may set its own ``stale_after_days`` (e.g. a restriction log
    that changes monthly).
    """
    limits = {str(s.path): s.options.get("stale_after_days", config.stale_after_days)
              for s in (*config.incidents, *config.consultations, *config.access_restrictions)}
    for report in inputs.reports:
        if report.kind in ("bases", "population", "focal_points") or report.newest_date is None:
            continue
        limit = int(limits.get(report.path, config.stale_after_days))
        age = (reference - pd.Timestamp(report.newest_date)).days
        if age > limit:
            report.stale = True
            msg = (f"STALE FEED: {report.name} newest record is {report.newest_date}, {age} days "
                   f"before {label} (limit {limit}); the map may show a quiet week that is only "
                   "missing data.")
            if msg not in inputs.warnings:
                inputs.warnings.append(msg)
