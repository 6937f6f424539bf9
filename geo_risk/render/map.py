"""The interactive weekly risk map: one self-contained, offline HTML file.

The page is the plain template ``templates/map.html.j2`` (no folium: it could only give this
page through private attributes) and draws everything with Leaflet 1.9.4 inlined from the installed
``django-js-lib-leaflet`` package plus our own ``map.js``/``map.css``. Opening it makes no
network request unless the caller asks for an online basemap (``basemap_url``).

How the grid stays small and fast
---------------------------------
* Cells are grouped by the values a reader sees (probability rounded to two significant
  digits, interval, last week, band, trend, drivers, admin unit, engagement, access, history).
  Each group is dissolved into its outline with ``h3ronpy.vector.cells_to_wkb_polygons(...,
  link_cells=True)``: a country's base-rate cells collapse into one polygon per admin unit
  (with holes where active cells are), so size grows with the number of *distinct areas*, not
  cells. Every cell keeps its value on hover: a group only ever covers cells whose displayed
  values are identical.
* Vertices are quantised to integers (1e-4 degrees, about 11 m, at resolution <= 8), delta
  encoded, zig-zag + varint packed and base64 encoded; the page rebuilds the polygons.
* Leaflet draws on one canvas (``preferCanvas``); the grid is restyled in place when the reader
  switches layers or weeks.
* At country zoom the risk layer draws coarser H3 parents instead of the cells, in classes that
  follow this week's data, with the hottest cells ringed (:mod:`geo_risk.render.map_tiers`,
  ``map_tiers.js``); the cells themselves are built only when the reader zooms in. A grid of
  more than ``LARGE_GRID_CELLS`` cells (a continent) draws only its highest-risk cells one by
  one, over the finest display tier (:func:`geo_risk.render.map_tiers.detail_cells`).

Modules: :mod:`~geo_risk.render.map_style` (colours, breaks), :mod:`~geo_risk.render.map_encode`
(numbers and shape streams), :mod:`~geo_risk.render.map_checks` (input checks),
:mod:`~geo_risk.render.map_overlays` (units, restrictions, bases) and
:mod:`~geo_risk.render.map_tiers` (display tiers).

Safety
------
All data is embedded as one JSON block (``<``, ``>``, ``&``, U+2028 and U+2029 escaped so it
cannot end the ``<script>`` element) and every text node is built with ``textContent`` in
``map.js``. No folium Popup/Tooltip/GeoJsonTooltip is used; the data reaches the template only
as that JSON block. Only aggregated grid columns are read; unknown columns are ignored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3ronpy
import numpy as np
import pandas as pd
import shapely

from geo_risk.arrays import unique_rows
from geo_risk.errors import Problem, ValidationError
from geo_risk.render import assets
from geo_risk.render.map_checks import (
    _bool_or_missing,
    _category_scale,
    _cells_array,
    _codes,
    _int_or_missing,
    _prepare_grid,
    _require,
)
from geo_risk.render.map_encode import (
    _coord_scale,
    _dissolve_groups,
    _encode_shapes,
    _json_for_script,
    _outline,
    format_probability,
    quantise_probability,
)
from geo_risk.render.map_overlays import (
    _bases_payload,
    _boundaries_payload,
    _reach_outline,
    _restrictions_payload,
)
from geo_risk.render.map_style import (
    _COUNT_COLUMNS,
    _KNOWN_ENGAGEMENT,
    _KNOWN_TREND,
    _PROB_COLUMNS,
    _TEXT_COLUMNS,
    BOUNDARY_SIMPLIFY_DEG,
    CHANGE_BREAKS_PP,
    CHANGE_COLOURS,
    LEVEL_COLOURS,
    MAX_HISTORY_WEEKS,
    NO_DATA_COLOUR,
    RISK_BREAKS,
    RISK_COLOURS,
)
from geo_risk.render.map_tiers import detail_cells, display_payload, fine_probability
from geo_risk.render.templating import Markup, escape, render

__all__ = [
    "BOUNDARY_SIMPLIFY_DEG",
    "LEVEL_COLOURS",
    "MAX_HISTORY_WEEKS",
    "NO_DATA_COLOUR",
    "RISK_BREAKS",
    "RISK_COLOURS",
    "MapMeta",
    "format_probability",
    "quantise_probability",
    "render_map",
    "write_map",
]


@dataclass(frozen=True)
class MapMeta:
    """What the map says about itself: title block and provenance.

    Parameters
    ----------
    title : str
        Map title.
    week : datetime.date
        Forecast week (its Monday).
    synthetic : bool
        True when the data are synthetic; the page then carries a prominent label.
    h3_resolution : int
        Resolution of the grid cells.
    sources : tuple of str
        Data sources, one line each.
    freshness : tuple of (str, str, bool)
        ``(input name, newest record date ISO, stale?)`` per input.
    notes : tuple of str
        Free notes, e.g. ``"engagement suppressed below k=5"``.
    """

    title: str
    week: dt.date
    synthetic: bool
    h3_resolution: int
    sources: tuple[str, ...] = ()
    freshness: tuple[tuple[str, str, bool], ...] = ()
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- validation


def _check_meta(meta: MapMeta) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(meta, MapMeta):
        return [Problem("meta", "meta must be a MapMeta")]
    if not isinstance(meta.week, dt.date):
        problems.append(Problem("meta", "week must be a datetime.date", column="week"))
    if not isinstance(meta.h3_resolution, int | np.integer) or not 0 <= meta.h3_resolution <= 15:
        problems.append(
            Problem("meta", "h3_resolution must be an int 0-15", column="h3_resolution")
        )
    if any(not isinstance(f, tuple | list) or len(f) != 3 for f in meta.freshness):
        problems.append(
            Problem(
                "meta", "each freshness entry is (input, newest date, stale?)", column="freshness"
            )
        )
    for name in ("sources", "notes"):
        if isinstance(getattr(meta, name), str):
            problems.append(
                Problem("meta", "must be a tuple of strings, not a string", column=name)
            )
    return problems


# --------------------------------------------------------------------------- layers


def _grid_payload(
    grid: pd.DataFrame,
    cells: np.ndarray,
    meta: MapMeta,
    history: pd.DataFrame | None,
    classes: str,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, np.ndarray, np.ndarray,
           np.ndarray]:
    """Group, dissolve and encode the grid; also the under-engaged and restricted outlines.

    Also returns the past weeks' quantised probabilities (weeks x cells) and each cell's index
    in the page's admin table, for the display tiers.
    """
    n = len(grid)
    cols: dict[str, np.ndarray] = {}
    tables: dict[str, list[str]] = {}

    risk = pd.to_numeric(grid["risk"]).to_numpy(dtype="float64")
    cols["risk"] = quantise_probability(risk)
    if classes == "data":  # data classes need more digits than the tooltip shows
        cols["fine"] = fine_probability(risk)
    for col, short in zip(_PROB_COLUMNS, ("low", "high", "prev"), strict=True):
        if col in grid.columns:
            vals = pd.to_numeric(grid[col], errors="coerce")
            cols[short] = quantise_probability(vals.to_numpy(dtype="float64", na_value=np.nan))
    admin_text = (
        grid["admin_pcode"].astype("string").fillna("").str.strip()
        + "\x1f"
        + grid["admin_name"].astype("string").fillna("").str.strip()
    )
    admin_codes, admin_uniques = pd.factorize(admin_text, sort=True)
    cols["admin"] = np.asarray(admin_codes, dtype=np.int64)
    admins = [u.split("\x1f", 1) for u in admin_uniques]
    for col, short in zip(_TEXT_COLUMNS, ("band", "trend", "drivers", "ureason"), strict=True):
        if col in grid.columns:
            known = tuple(_KNOWN_TREND) if short == "trend" else ()
            cols[short], tables[short] = _codes(grid[col], known)
    for col, short in zip(_COUNT_COLUMNS, ("inc4", "inc52"), strict=True):
        if col in grid.columns:
            cols[short] = _int_or_missing(grid[col])

    # Engagement: a status per cell, and a count that is never shown when suppressed.
    has_eng = "engagements_12w" in grid.columns
    if "engagement_status" in grid.columns:
        status = grid["engagement_status"].astype("string").str.strip()
    elif has_eng:
        eng_values = pd.to_numeric(grid["engagements_12w"], errors="coerce")
        status = pd.Series(
            np.where(
                eng_values.isna(),
                "suppressed",
                np.where(eng_values > 0, "engaged", "never engaged"),
            ),
            index=grid.index,
            dtype="string",
        )
    else:
        status = None
    if status is not None:
        cols["status"], tables["status"] = _codes(status, tuple(_KNOWN_ENGAGEMENT))
    if has_eng:
        eng = _int_or_missing(grid["engagements_12w"])
        if status is not None:
            suppressed = status.str.lower().fillna("").to_numpy(dtype=object) == "suppressed"
            eng = np.where(suppressed, -1, eng)
        cols["eng"] = eng
    for col, short in (("restricted", "restricted"), ("under_engaged", "under")):
        if col in grid.columns:
            cols[short] = _bool_or_missing(grid[col])

    # History for the week selector (past weeks only; the current week is the grid itself).
    weeks: list[dt.date] = []
    hist = np.empty((0, n), dtype=np.int64)
    if history is not None:
        weeks, hist = _history_matrix(history, cells, meta.week)

    keep = detail_cells(risk=risk)  # a continent: only its highest-risk cells one by one
    shown = {k: v[keep] for k, v in cols.items()}
    shown_hist = hist[:, keep]
    key = [shown[k] for k in shown] + list(shown_hist)
    matrix = np.column_stack(key)
    first, inverse, counts = unique_rows(matrix)
    order = np.argsort(inverse, kind="stable")
    polygons, owner = _dissolve_groups(cells[keep][order], counts)
    scale = _coord_scale(meta.h3_resolution)
    n_groups = len(first)
    shapes = _encode_shapes(polygons, owner, n_groups, scale)

    group_cols = {k: v[first].tolist() for k, v in shown.items()}
    group_cols["cells"] = counts.tolist()
    all_weeks = [*weeks, meta.week]
    week_index = {w: i for i, w in enumerate(all_weeks)}
    payload: dict[str, Any] = {
        "shapes": shapes,
        "cols": group_cols,
        "tables": tables,
        "admins": admins,
        "weeks": [
            {"date": w.isoformat(), "prev": week_index.get(w - dt.timedelta(days=7), -1)}
            for w in all_weeks
        ],
        "hist": [row[first].tolist() for row in shown_hist],
        "nCells": int(n),
        "nDetail": int(keep.sum()),
        "nPolygons": int(len(polygons)),
    }

    def overlay(flag: str) -> dict[str, Any] | None:
        if flag not in cols:
            return None
        sel = cells[cols[flag] == 1]
        polys = _outline(sel)
        return _encode_shapes(polys, np.zeros(len(polys), dtype=np.int64), 1, scale) | {
            "nCells": int(sel.size)
        }

    bounds_xy = shapely.get_coordinates(polygons) if len(polygons) else np.zeros((0, 2))
    return (payload, overlay("under"), overlay("restricted"), bounds_xy, hist,
            cols["admin"])



def _history_matrix(
    history: pd.DataFrame, cells: np.ndarray, week: dt.date
) -> tuple[list[dt.date], np.ndarray]:
    if not isinstance(history, pd.DataFrame):
        raise ValidationError([Problem("history", "history must be a pandas DataFrame")])
    _require(history, "history", ("cell", "week", "risk"))
    hcells = _cells_array(history["cell"])
    if hcells is None:
        raise ValidationError([Problem("history", "cell must hold H3 indexes", column="cell")])
    weeks = pd.to_datetime(history["week"], errors="coerce")
    risk = pd.to_numeric(history["risk"], errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    problems: list[Problem] = []
    if weeks.isna().any():
        first = int(np.flatnonzero(weeks.isna().to_numpy())[0])
        problems.append(Problem("history", "week is not a date", row=first + 2, column="week"))
    bad = ~np.isnan(risk) & ((risk < 0) | (risk > 1))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        problems.append(
            Problem("history", "risk not between 0 and 1", row=first + 2, column="risk")
        )
    if problems:
        raise ValidationError(problems)
    wdate = weeks.dt.normalize()
    dup = pd.DataFrame({"c": hcells, "w": wdate}).duplicated().to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        raise ValidationError(
            [Problem("history", "the same cell appears twice in one week", row=first + 2)]
        )
    current = pd.Timestamp(week)
    past = sorted(w for w in wdate.unique() if w < current)[-MAX_HISTORY_WEEKS:]
    if not past:
        return [], np.empty((0, len(cells)), dtype=np.int64)
    w_pos = pd.Index(past).get_indexer(pd.Index(wdate))
    c_pos = pd.Index(cells).get_indexer(hcells)
    ok = (w_pos >= 0) & (c_pos >= 0)
    matrix = np.full((len(past), len(cells)), -1, dtype=np.int64)
    matrix[w_pos[ok], c_pos[ok]] = quantise_probability(risk[ok])
    return [w.date() for w in past], matrix


# --------------------------------------------------------------------------- page



def _scales(full: dict[str, Any]) -> dict[str, Any]:
    return {
        "risk": {
            **full,
            "title": "Risk probability",
            "unit": "probability of \u22651 incident next week"
            + (" (classes from this week's cells)" if full["mode"] == "data" else ""),
        },
        "change": {
            "breaks": [round(b * 100) for b in CHANGE_BREAKS_PP],
            "colours": list(CHANGE_COLOURS),
            "title": "Change vs last week",
            "unit": "percentage points of probability",
        },
        "noData": NO_DATA_COLOUR,
    }


def _basemap(url: str | None, attribution: str | None) -> dict[str, str] | None:
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ValidationError([Problem("basemap_url", "must be an http(s) tile URL template")])
    if not all(p in url for p in ("{z}", "{x}", "{y}")):
        raise ValidationError([Problem("basemap_url", "must contain {z}, {x} and {y}")])
    host = url.split("/")[2]
    text = attribution if attribution else f"Basemap: {host}"
    # Leaflet writes attributions as HTML, so escape here.
    return {"url": url, "attribution": str(escape(text))}


def render_map(
    *,
    grid: pd.DataFrame,
    boundaries: gpd.GeoDataFrame,
    meta: MapMeta,
    restrictions: gpd.GeoDataFrame | None = None,
    bases: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    basemap_url: str | None = None,
    basemap_attribution: str | None = None,
    base_reach_km: float | None = None,
    network_reach: bool = False,
    classes: str = "data",
) -> str:
    """Render the weekly risk map as one self-contained HTML page.

    Parameters
    ----------
    grid : pandas.DataFrame
        One row per H3 cell. Required: ``cell`` (uint64 H3 index at ``meta.h3_resolution``),
        ``risk`` (0-1), ``admin_pcode``, ``admin_name``. Optional: ``risk_low``,
        ``risk_high``, ``risk_prev``, ``risk_band``, ``trend``, ``drivers``, ``incidents_4w``,
        ``incidents_52w``, ``engagements_12w`` (NaN when suppressed), ``engagement_status``,
        ``restricted``, ``under_engaged``, ``under_engaged_reason`` (shown in the tooltip of
        under-engaged cells), ``access_status``. Other columns are ignored.
    boundaries : geopandas.GeoDataFrame
        Admin units (``admin_pcode``, ``admin_name``, geometry), drawn as outlines with name
        labels; optional unit columns from the matrix (:func:`geo_risk.render.layers.unit_layers`):
        ``level``, ``engagement_status`` and ``engagements`` (the engagement theme then colours
        units, as ``admin_matrix.csv`` has them), ``priority_rank``, ``top_change``, and the
        category columns of :data:`geo_risk.render.layers.UNIT_THEMES` (each adds a theme).
        Reprojected to EPSG:4326 with a warning if needed.
    meta : MapMeta
        Title block contents.
    restrictions : geopandas.GeoDataFrame, optional
        Access restrictions (``cause``, ``severity`` 1-3, geometry; optional
        ``restriction_id``, ``start_date``, ``end_date``). Only those in force during the
        forecast week are drawn.
    bases : pandas.DataFrame, optional
        ``base_name``, ``lon``, ``lat``; optional ``liaison_staff``, ``reach_km``,
        ``open_date``, ``close_date``. A base closed before the week is drawn greyed with its
        close date and no reach; one not yet open is not drawn
        (:func:`geo_risk.render.layers.bases_in_week`).
    history : pandas.DataFrame, optional
        ``cell``, ``week``, ``risk`` for past weeks; adds a week selector (at most
        :data:`MAX_HISTORY_WEEKS` most recent weeks before ``meta.week``).
    basemap_url : str, optional
        An online XYZ tile URL template. Default None: the page is fully offline.
    basemap_attribution : str, optional
        Attribution text for the basemap (plain text).
    base_reach_km : float, optional
        Reach of open bases without their own ``reach_km``, drawn as a circle.
    network_reach : bool
        Reach is measured along a road network: draw it as the outline of the grid's
        ``access_status == "reachable"`` cells instead of circles.
    classes : {"data", "fixed"}
        ``"data"`` (default): colour classes from this week's distribution (the top 1 %, 3 %,
        10 %, 25 % and 50 % of the area), absolute values in the legend and tooltips;
        ``"fixed"``: the absolute probability classes (:data:`RISK_BREAKS`). At country zoom
        the grid is drawn as coarser H3 parents (:mod:`geo_risk.render.map_tiers`) and the
        hottest cells are marked at every zoom.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    geo_risk.errors.ValidationError
        When an input lacks a required column or holds unusable values.
    """
    problems = _check_meta(meta)
    if problems:
        raise ValidationError(problems)
    if isinstance(meta.week, dt.datetime):
        meta = dataclasses.replace(meta, week=meta.week.date())
    resolution = int(meta.h3_resolution)
    grid, cells = _prepare_grid(grid, resolution)
    scale = _coord_scale(resolution)
    grid_payload, under, restricted, grid_xy, hist, admin = _grid_payload(
        grid, cells, meta, history, classes)
    display = display_payload(
        cells=cells, risk=pd.to_numeric(grid["risk"]).to_numpy(dtype="float64"), hist=hist,
        admin=admin, resolution=resolution, mode=classes, scale=scale)
    bounds_payload, bounds_xy = _boundaries_payload(boundaries, scale)
    restr_payload = (
        None if restrictions is None else _restrictions_payload(restrictions, meta.week, scale)
    )
    bases_payload = [] if bases is None else _bases_payload(bases, meta.week, base_reach_km)
    reach = _reach_outline(grid, cells, scale) if network_reach else None

    xy = np.vstack([grid_xy, bounds_xy])
    west, south = xy.min(axis=0)
    east, north = xy.max(axis=0)
    cell_area = float(np.asarray(h3ronpy.cells_area_km2(cells[:1000])).mean())

    week_end = meta.week + dt.timedelta(days=6)
    data = {
        "version": 1,
        "meta": {
            "title": str(meta.title),
            "week": meta.week.isoformat(),
            "weekEnd": week_end.isoformat(),
            "synthetic": bool(meta.synthetic),
            "resolution": resolution,
            "cellAreaKm2": round(cell_area, 2),
            "sources": [str(s) for s in meta.sources],
            "freshness": [[str(a), str(b), bool(c)] for a, b, c in meta.freshness],
            "notes": [str(s) for s in meta.notes],
        },
        "bounds": [
            [round(float(south), 4), round(float(west), 4)],
            [round(float(north), 4), round(float(east), 4)],
        ],
        "scale": scale,
        "scales": _scales(display["full"]),
        "display": display,
        "colours": {
            "trend": _category_scale(grid_payload["tables"].get("trend", []), _KNOWN_TREND),
            "status": _category_scale(grid_payload["tables"].get("status", []), _KNOWN_ENGAGEMENT),
        },
        "grid": grid_payload,
        "under": under,
        "restrictedCells": restricted,
        "boundaries": bounds_payload,
        "restrictions": restr_payload,
        "bases": bases_payload,
        "reach": reach,
        "basemap": _basemap(basemap_url, basemap_attribution),
    }

    # A plain template, not folium: folium would need private attributes (``_id`` for a stable
    # element id, per-instance ``default_js``/``default_css`` to drop its CDN links).
    return render(
        "map.html.j2",
        title=str(meta.title),
        week=meta.week.isoformat(),
        leaflet_css=Markup(assets.leaflet_css()),  # assets are checked before inlining
        own_css=Markup(assets.own_css()),
        leaflet_js=Markup(assets.leaflet_js()),
        own_js=Markup(assets.own_js()),
        data_json=Markup(_json_for_script(data)),
        centre=Markup(json.dumps([(south + north) / 2, (west + east) / 2])),
    )


def write_map(
    path: str | os.PathLike[str],
    *,
    grid: pd.DataFrame,
    boundaries: gpd.GeoDataFrame,
    meta: MapMeta,
    restrictions: gpd.GeoDataFrame | None = None,
    bases: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    basemap_url: str | None = None,
    basemap_attribution: str | None = None,
    base_reach_km: float | None = None,
    network_reach: bool = False,
    classes: str = "data",
) -> Path:
    """Render the map (see :func:`render_map`) and write it as UTF-8.

    Parameters
    ----------
    path : str or os.PathLike
        Output file, e.g. ``out/map.html``; parent folders are created.
    grid, boundaries, meta, restrictions, bases, history, basemap_url, basemap_attribution
        As for :func:`render_map`.
    base_reach_km, network_reach, classes
        As for :func:`render_map`.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    page = render_map(
        grid=grid,
        boundaries=boundaries,
        meta=meta,
        restrictions=restrictions,
        bases=bases,
        history=history,
        basemap_url=basemap_url,
        basemap_attribution=basemap_attribution,
        base_reach_km=base_reach_km,
        network_reach=network_reach,
        classes=classes,
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
