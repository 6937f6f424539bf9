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

Safety
------
All data is embedded as one JSON block (``<``, ``>``, ``&``, U+2028 and U+2029 escaped so it
cannot end the ``<script>`` element) and every text node is built with ``textContent`` in
``map.js``. No folium Popup/Tooltip/GeoJsonTooltip is used; the data reaches the template only
as that JSON block. Only aggregated grid columns are read; unknown columns are ignored.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3ronpy
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from geo_risk.errors import Problem, ValidationError
from geo_risk.render import assets
from geo_risk.render.coverage import simplify_coverage
from geo_risk.render.layers import bases_in_week
from geo_risk.render.templating import Markup, escape, render

__all__ = [
    "BOUNDARY_SIMPLIFY_DEG",
    "MAX_HISTORY_WEEKS",
    "LEVEL_COLOURS",
    "MapMeta",
    "format_probability",
    "quantise_probability",
    "render_map",
    "write_map",
]

#: Simplification tolerance (degrees, about 220 m at the equator) for boundaries and
#: restriction areas. Boundaries are simplified as one coverage (shared borders stay shared,
#: :mod:`geo_risk.render.coverage`); restrictions, which overlap, polygon by polygon.
BOUNDARY_SIMPLIFY_DEG = 0.002
#: At most this many past weeks are offered in the week selector (most recent kept).
MAX_HISTORY_WEEKS = 26

#: Upper bounds of the probability classes (last class open-ended up to 1).
RISK_BREAKS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
RISK_COLOURS = (
    "#fff7d1",
    "#fee79b",
    "#fed070",
    "#fdae4b",
    "#f88b3a",
    "#ec5f2e",
    "#d3362b",
    "#a8182f",
    "#6b0a2e",
)
#: Upper bounds (percentage points) of the change classes.
CHANGE_BREAKS_PP = (-10.0, -5.0, -2.0, -0.5, 0.5, 2.0, 5.0, 10.0)
CHANGE_COLOURS = (
    "#1f4e8c",
    "#3b78b7",
    "#76a8d3",
    "#b9d5ea",
    "#f4f4f2",
    "#f6c1a6",
    "#e9866a",
    "#c94a3b",
    "#8e1b22",
)
NO_DATA_COLOUR = "#d4d4d4"
_KNOWN_TREND = {
    "onset": "#7b1d8f",
    "new": "#7b1d8f",
    "emerging": "#7b1d8f",
    "intensifying": "#d3362b",
    "rising": "#d3362b",
    "increasing": "#d3362b",
    "up": "#d3362b",
    "persistent": "#f08a3a",
    "sporadic": "#f5c95c",
    "stable": "#a3a3a3",
    "steady": "#a3a3a3",
    "diminishing": "#3b78b7",
    "falling": "#3b78b7",
    "decreasing": "#3b78b7",
    "declining": "#3b78b7",
    "down": "#3b78b7",
    "none": "#ededed",
    "no history": "#ededed",
    "quiet": "#ededed",
}
_KNOWN_ENGAGEMENT = {
    "engaged": "#2b8a4b",
    "regularly engaged": "#2b8a4b",
    "rarely engaged": "#f0a33a",
    "no women": "#8e5bb5",
    "no youth": "#b58ed6",
    "never engaged": "#c8553d",
    "not engaged": "#f4a582",
    "suppressed": "#9a9a9a",
    "withheld": "#6f6f6f",
}
#: Colour of each admin level of the risk matrix (map, brief and GIS styles).
LEVEL_COLOURS = {"critical": "#8c0d26", "high": "#dc4b2f", "medium": "#f7a35c", "low": "#fde7c4"}
_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666")

_REQUIRED_GRID = ("cell", "risk", "admin_pcode", "admin_name")
_PROB_COLUMNS = ("risk_low", "risk_high", "risk_prev")
_TEXT_COLUMNS = ("risk_band", "trend", "drivers", "under_engaged_reason")
_COUNT_COLUMNS = ("incidents_4w", "incidents_52w")


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


# --------------------------------------------------------------------------- numbers


def quantise_probability(p: np.ndarray | pd.Series | Sequence[float]) -> np.ndarray:
    """Round probabilities to the precision the map displays, in units of 1e-4.

    Two significant digits: steps of 0.01 percentage points below 1 %, 0.1 pp below 10 %,
    1 pp above. NaN becomes -1.

    Parameters
    ----------
    p : array-like of float
        Probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray of int64
        Rounded values in units of 1e-4 (``1234`` is 12.34 %), -1 where ``p`` is NaN.
    """
    arr = np.asarray(p, dtype="float64")
    step = np.where(arr < 0.01, 1.0, np.where(arr < 0.1, 10.0, 100.0))
    units = np.round(np.nan_to_num(arr, nan=0.0) * 1e4 / step) * step
    return np.where(np.isnan(arr), -1, units).astype(np.int64)


def format_probability(units: int) -> str:
    """Format a value from :func:`quantise_probability` the way the page does.

    Parameters
    ----------
    units : int
        Probability in units of 1e-4; negative means missing.

    Returns
    -------
    str
        E.g. ``"0.42%"``, ``"3.4%"``, ``"27%"``, ``"<0.01%"`` or ``"n/a"``.
    """
    if units < 0:
        return "n/a"
    if units == 0:
        return "<0.01%"
    pct = units / 100
    if pct < 1:
        return f"{pct:.2f}%"
    if pct < 10:
        return f"{pct:.1f}%"
    return f"{pct:.0f}%"


def _coord_scale(resolution: int) -> int:
    """Integer units per degree for vertex quantisation (about 1/100 of a cell edge)."""
    return 10_000 if resolution <= 8 else 100_000 if resolution <= 11 else 1_000_000


def _varint_b64(values: np.ndarray) -> str:
    """Pack non-negative integers as LEB128 varints, base64 encoded."""
    v = np.asarray(values, dtype=np.uint64)
    if v.size == 0:
        return ""
    nbytes = np.ones(v.size, dtype=np.int64)
    rest = v >> np.uint64(7)
    while rest.any():
        nbytes += rest > 0
        rest >>= np.uint64(7)
    out = np.zeros(int(nbytes.sum()), dtype=np.uint8)
    pos = np.concatenate(([0], np.cumsum(nbytes)[:-1]))
    rest = v.copy()
    for k in range(int(nbytes.max())):
        live = nbytes > k
        byte = (rest[live] & np.uint64(0x7F)).astype(np.uint8)
        byte |= np.where(nbytes[live] > k + 1, 0x80, 0).astype(np.uint8)
        out[pos[live] + k] = byte
        rest >>= np.uint64(7)
    return base64.b64encode(out.tobytes()).decode("ascii")


def _rle_varint_b64(values: np.ndarray) -> str:
    """Run-length encode as (value, run length) varint pairs, base64 encoded."""
    v = np.asarray(values, dtype=np.int64)
    if v.size == 0:
        return ""
    starts = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    runs = np.diff(np.append(starts, v.size))
    return _varint_b64(np.column_stack([v[starts], runs]).ravel())


def _zigzag(d: np.ndarray) -> np.ndarray:
    d = np.asarray(d, dtype=np.int64)
    return ((d << 1) ^ (d >> 63)).astype(np.uint64)


#: Rings up to this many vertices whose predecessor has the same count (single hexagons, in
#: practice) are coded relative to that predecessor's shape: second-order deltas near zero.
_SHAPE_RING_MAX = 12


def _canonical_starts(q: np.ndarray, verts_per_ring: np.ndarray) -> np.ndarray:
    """Rotate each small ring to start at the vertex pointing closest to a common direction.

    H3 gives neighbouring hexagons' vertices in the same cyclic order but from different
    starting vertices; starting all of them at the same corner makes :func:`_ring_deltas`'
    second-order steps near zero. The direction is the grid's own hexagon orientation (a
    vertex direction, found from all 6-vertex rings), so the choice is never a near tie.
    """
    starts = np.cumsum(verts_per_ring) - verts_per_ring
    hexes = np.flatnonzero(verts_per_ring == 6)
    if hexes.size == 0:
        return q
    pts = q[starts[hexes][:, None] + np.arange(6)].astype("float64")
    rel = pts - pts.mean(axis=1, keepdims=True)
    ang6 = 6 * np.arctan2(rel[..., 1], rel[..., 0])
    phi = np.arctan2(np.sin(ang6).sum(), np.cos(ang6).sum()) / 6
    phi0 = phi + (np.pi / 3) * np.round((np.pi / 2 - phi) / (np.pi / 3))
    out = q.copy()
    for length in np.unique(
        verts_per_ring[(verts_per_ring >= 3) & (verts_per_ring <= _SHAPE_RING_MAX)]
    ):
        rings = np.flatnonzero(verts_per_ring == length)  # one pass per ring length, not per ring
        idx = starts[rings][:, None] + np.arange(length)
        pts = q[idx].astype("float64")
        rel = pts - pts.mean(axis=1, keepdims=True)
        off = np.angle(np.exp(1j * (np.arctan2(rel[..., 1], rel[..., 0]) - phi0)))
        k = np.argmin(np.abs(off), axis=1)
        out[idx] = q[starts[rings][:, None] + (np.arange(length) + k[:, None]) % length]
    return out


def _ring_deltas(q: np.ndarray, verts_per_ring: np.ndarray) -> np.ndarray:
    """Integer deltas for interleaved vertices ``q`` (N x 2), as ``map.js`` decodes them.

    A ring's first vertex is relative to the previous ring's first vertex; each later vertex
    is relative to the vertex before it, minus the same step of the previous ring when both
    rings have the same small vertex count (neighbouring hexagons are near-identical).
    """
    n_rings = verts_per_ring.size
    starts = np.cumsum(verts_per_ring) - verts_per_ring
    ring_of = np.repeat(np.arange(n_rings), verts_per_ring)
    pos = np.arange(len(q)) - starts[ring_of]
    d1 = np.empty_like(q)
    d1[1:] = q[1:] - q[:-1]
    first = pos == 0
    prev_start = np.concatenate(([-1], starts[:-1]))
    ps = prev_start[ring_of[first]]
    d1[first] = q[first] - np.where((ps >= 0)[:, None], q[np.maximum(ps, 0)], 0)
    same = np.zeros(n_rings, dtype=bool)
    same[1:] = (verts_per_ring[1:] == verts_per_ring[:-1]) & (verts_per_ring[1:] <= _SHAPE_RING_MAX)
    second = same[ring_of] & ~first
    idx = np.flatnonzero(second)
    d = d1.copy()
    d[idx] = d1[idx] - d1[idx - verts_per_ring[ring_of[idx]]]
    return d


def _encode_shapes(
    polygons: np.ndarray, item_of_polygon: np.ndarray, n_items: int, scale: int
) -> dict[str, Any]:
    """Encode polygons (sorted by item) as compact varint streams the page decodes.

    ``p``: polygons per item, ``r``: rings per polygon and ``v``: vertices per ring (closing
    vertex dropped), both run-length encoded (mostly 1 and 6 when cells are drawn one by
    one), ``c``: zig-zag integer lon/lat deltas (see :func:`_ring_deltas`).
    """
    polygons = np.asarray(polygons, dtype=object)
    polys_per_item = np.bincount(item_of_polygon.astype(np.int64), minlength=n_items)
    if polygons.size == 0:
        return {"n": n_items, "p": _varint_b64(polys_per_item), "r": "", "v": "", "c": ""}
    rings, ring_poly = shapely.get_rings(polygons, return_index=True)
    rings_per_poly = np.bincount(ring_poly, minlength=polygons.size)
    xy, vert_ring = shapely.get_coordinates(rings, return_index=True)
    verts_per_ring = np.bincount(vert_ring, minlength=rings.size)
    keep = np.ones(len(xy), dtype=bool)
    nonempty = verts_per_ring > 0
    keep[(np.cumsum(verts_per_ring) - 1)[nonempty]] = False
    xy = xy[keep]
    verts_per_ring = verts_per_ring - nonempty
    q = _canonical_starts(np.round(xy * scale).astype(np.int64), verts_per_ring)
    deltas = _ring_deltas(q, verts_per_ring).ravel()
    return {
        "n": n_items,
        "p": _varint_b64(polys_per_item),
        "r": _rle_varint_b64(rings_per_poly),
        "v": _rle_varint_b64(verts_per_ring),
        "c": _varint_b64(_zigzag(deltas)),
    }


def _wkb_array_to_shapely(arr: Any) -> np.ndarray:
    return np.asarray(shapely.from_wkb(pa.array(arr).to_numpy(zero_copy_only=False)))


def _dissolve_groups(cells_sorted: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outline each group of cells (``cells_sorted`` grouped, ``counts`` per group).

    Returns polygons and the group of each polygon, sorted by group.
    """
    ends = np.cumsum(counts)
    starts = ends - counts
    parts: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    single = counts == 1
    if single.any():
        # One cell: its hexagon, in one vectorised call.
        parts.append(_wkb_array_to_shapely(h3v.cells_to_wkb_polygons(cells_sorted[starts[single]])))
        owners.append(np.flatnonzero(single))
    for gi in np.flatnonzero(~single):  # one call per group, not per cell
        polys = _wkb_array_to_shapely(
            h3v.cells_to_wkb_polygons(cells_sorted[starts[gi] : ends[gi]], link_cells=True)
        )
        parts.append(polys)
        owners.append(np.full(len(polys), gi, dtype=np.int64))
    if not parts:
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    # h3o's linking returns polygons, holes and ring starts in no fixed order: normalise them
    # and sort each group's polygons by position, so the same grid always gives the same page.
    polygons = shapely.normalize(np.concatenate(parts))
    owner = np.concatenate(owners).astype(np.int64)
    bounds = shapely.bounds(polygons)
    order = np.lexsort((bounds[:, 0], bounds[:, 1], owner))
    return polygons[order], owner[order]


def _outline(cells: np.ndarray) -> np.ndarray:
    """The outline of a set of cells as polygons (deterministic order)."""
    if cells.size == 0:
        return np.empty(0, dtype=object)
    polygons, _ = _dissolve_groups(np.sort(cells), np.array([cells.size], dtype=np.int64))
    return polygons


def _polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explode (multi)polygons into polygons; non-polygonal parts are dropped."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    is_poly = shapely.get_type_id(parts) == 3
    parts, owner = parts[is_poly], owner[is_poly]
    nonempty = ~shapely.is_empty(parts)
    return parts[nonempty], owner[nonempty].astype(np.int64)


# --------------------------------------------------------------------------- categories


def _category_scale(values: Sequence[str], known: Mapping[str, str]) -> list[str]:
    colours: list[str] = []
    spare = iter(_PALETTE * (1 + len(values) // len(_PALETTE)))
    for value in values:
        key = value.strip().lower()
        colours.append(known[key] if key in known else next(spare))
    return colours


def _codes(series: pd.Series, order: Sequence[str] = ()) -> tuple[np.ndarray, list[str]]:
    """Factorize text (missing -> -1) into codes and plain-str values.

    Values named in ``order`` (case-insensitive) come first in that order, the rest sorted.
    """
    text = series.astype("string").str.strip()
    text = text.mask(text == "")
    codes, uniques = pd.factorize(text, sort=True, use_na_sentinel=True)
    values = [str(u) for u in uniques]
    rank = {v: i for i, v in enumerate(order)}
    new_order = sorted(
        range(len(values)), key=lambda i: (rank.get(values[i].lower(), len(rank)), i)
    )
    remap = np.empty(len(values) + 1, dtype=np.int64)
    remap[-1] = -1
    remap[np.asarray(new_order, dtype=np.int64)] = np.arange(len(values))
    return remap[np.asarray(codes, dtype=np.int64)], [values[i] for i in new_order]


def _int_or_missing(series: pd.Series) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isnan(values), -1, np.round(np.nan_to_num(values, nan=0.0))).astype(np.int64)


def _bool_or_missing(series: pd.Series) -> np.ndarray:
    """1 true, 0 false, -1 missing; accepts bools, numbers and yes/no/true/false text."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = pd.to_numeric(series, errors="coerce").astype("float64")
        flag = values.to_numpy(dtype="float64", na_value=np.nan)
        return np.where(np.isnan(flag), -1, flag != 0).astype(np.int64)
    text = series.astype("string").str.strip().str.lower()
    truthy = text.isin(["1", "true", "yes", "y", "t"]).fillna(False).to_numpy(dtype=bool)
    falsy = text.isin(["0", "false", "no", "n", "f"]).fillna(False).to_numpy(dtype=bool)
    return np.where(truthy, 1, np.where(falsy, 0, -1)).astype(np.int64)


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


def _cells_array(series: pd.Series) -> np.ndarray | None:
    """H3 cells as uint64, accepting integer ids or hexadecimal strings; None if unusable."""
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy().astype(np.uint64)
    if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        try:
            parsed = h3ronpy.cells_parse(series.astype(str).tolist(), set_failing_to_invalid=True)
        except (ValueError, TypeError):
            return None
        arr = pa.array(parsed)
        return arr.fill_null(0).to_numpy(zero_copy_only=False).astype(np.uint64)
    return None


def _prepare_grid(grid: pd.DataFrame, resolution: int) -> tuple[pd.DataFrame, np.ndarray]:
    if not isinstance(grid, pd.DataFrame):
        raise ValidationError([Problem("grid", "grid must be a pandas DataFrame")])
    problems: list[Problem] = []
    missing = [c for c in _REQUIRED_GRID if c not in grid.columns]
    for col in missing:
        problems.append(Problem("grid", "required column is missing", column=col))
    if problems:
        raise ValidationError(problems)
    if len(grid) == 0:
        raise ValidationError([Problem("grid", "grid has no rows; nothing to map")])
    cells = _cells_array(grid["cell"])
    if cells is None:
        raise ValidationError([Problem("grid", "cell must hold uint64 H3 indexes", column="cell")])
    valid = np.asarray(h3ronpy.cells_valid(cells, booleanarray=True))
    if not valid.all():
        first = int(np.flatnonzero(~valid)[0])
        problems.append(
            Problem(
                "grid", f"{int((~valid).sum())} invalid H3 cell(s)", row=first + 2, column="cell"
            )
        )
    else:
        res = np.asarray(h3ronpy.cells_resolution(cells))
        wrong = res != resolution
        if wrong.any():
            first = int(np.flatnonzero(wrong)[0])
            problems.append(
                Problem(
                    "grid",
                    f"{int(wrong.sum())} cell(s) are not at resolution {resolution} "
                    f"(first is resolution {int(res[first])}); set meta.h3_resolution to match",
                    row=first + 2,
                    column="cell",
                )
            )
    dup = pd.Series(cells).duplicated().to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        problems.append(
            Problem("grid", f"{int(dup.sum())} duplicate cell(s)", row=first + 2, column="cell")
        )
    for col in ("risk", *_PROB_COLUMNS):
        if col not in grid.columns:
            continue
        vals = pd.to_numeric(grid[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad_type = np.isnan(vals) & grid[col].notna().to_numpy()
        out = ~np.isnan(vals) & ((vals < 0) | (vals > 1))
        if col == "risk":
            out |= np.isnan(vals)
        bad = bad_type | out
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            what = "a number" if col != "risk" else "a number (not missing)"
            problems.append(
                Problem(
                    "grid",
                    f"{int(bad.sum())} value(s) are not {what} between 0 and 1",
                    row=first + 2,
                    column=col,
                )
            )
    if problems:
        raise ValidationError(problems)
    return grid, cells


def _check_crs(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise ValidationError(
            [Problem(name, "has no CRS; set it, e.g. gdf.set_crs('EPSG:4326')", column="geometry")]
        )
    if gdf.crs.to_epsg() != 4326:
        warnings.warn(
            f"{name}: CRS is {gdf.crs.to_string()}, not EPSG:4326; reprojecting for the map",
            UserWarning,
            stacklevel=4,
        )
        gdf = gdf.to_crs(4326)
    return gdf


def _require(df: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValidationError(
            [Problem(name, "required column is missing", column=c) for c in missing]
        )


def _require_geometry(gdf: gpd.GeoDataFrame, name: str) -> None:
    try:
        gdf.geometry  # noqa: B018 - raises when there is no active geometry column
    except AttributeError as exc:
        raise ValidationError(
            [Problem(name, "has no active geometry column", column="geometry")]
        ) from exc


# --------------------------------------------------------------------------- layers


def _grid_payload(
    grid: pd.DataFrame,
    cells: np.ndarray,
    meta: MapMeta,
    history: pd.DataFrame | None,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None, np.ndarray]:
    """Group, dissolve and encode the grid; also the under-engaged and restricted outlines."""
    n = len(grid)
    cols: dict[str, np.ndarray] = {}
    tables: dict[str, list[str]] = {}

    cols["risk"] = quantise_probability(pd.to_numeric(grid["risk"]).to_numpy(dtype="float64"))
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

    key = [cols[k] for k in cols] + list(hist)
    matrix = np.column_stack(key)
    _, first, inverse, counts = np.unique(
        matrix, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    polygons, owner = _dissolve_groups(cells[order], counts)
    scale = _coord_scale(meta.h3_resolution)
    n_groups = len(first)
    shapes = _encode_shapes(polygons, owner, n_groups, scale)

    group_cols = {k: v[first].tolist() for k, v in cols.items()}
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
        "hist": [row[first].tolist() for row in hist],
        "nCells": int(n),
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
    return payload, overlay("under"), overlay("restricted"), bounds_xy


def _reach_outline(grid: pd.DataFrame, cells: np.ndarray, scale: int) -> dict[str, Any] | None:
    """Outline of the cells reachable from an open base along the network (``access_status``)."""
    if "access_status" not in grid.columns:
        return None
    sel = cells[(grid["access_status"].astype("string") == "reachable").fillna(False).to_numpy()]
    polys = _outline(sel)
    return _encode_shapes(polys, np.zeros(len(polys), dtype=np.int64), 1, scale) | {
        "nCells": int(sel.size)
    }


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


def _boundaries_payload(
    boundaries: gpd.GeoDataFrame, scale: int
) -> tuple[dict[str, Any] | None, np.ndarray]:
    if not isinstance(boundaries, gpd.GeoDataFrame):
        raise ValidationError([Problem("boundaries", "boundaries must be a GeoDataFrame")])
    _require(boundaries, "boundaries", ("admin_pcode", "admin_name"))
    _require_geometry(boundaries, "boundaries")
    if len(boundaries) == 0:
        return None, np.zeros((0, 2))
    b = _check_crs(boundaries, "boundaries")
    geoms = np.asarray(b.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    simplified = simplify_coverage(geoms[present], tolerance=BOUNDARY_SIMPLIFY_DEG)
    parts, owner = _polygon_parts(simplified)
    kept = np.flatnonzero(present)
    # Labels sit on the largest part of each unit, on the surface (not the centroid).
    orig_parts, orig_owner = _polygon_parts(geoms[present])
    area = shapely.area(orig_parts)
    biggest = pd.Series(area).groupby(orig_owner).idxmax().to_numpy()
    label_pts = shapely.point_on_surface(orig_parts[biggest])
    label_owner = orig_owner[biggest]
    label_xy = np.full((len(kept), 2), np.nan)
    label_xy[label_owner] = shapely.get_coordinates(label_pts)
    payload: dict[str, Any] = {
        "shapes": _encode_shapes(parts, owner, len(kept), scale),
        "pcode": b["admin_pcode"].astype("string").fillna("").to_numpy(dtype=object)[kept].tolist(),
        "name": b["admin_name"].astype("string").fillna("").to_numpy(dtype=object)[kept].tolist(),
        "label": [
            None if np.isnan(x) else [round(float(y), 4), round(float(x), 4)] for x, y in label_xy
        ],
    }
    for col, key, known in (("level", "level", LEVEL_COLOURS),
                            ("engagement_status", "engagement", _KNOWN_ENGAGEMENT)):
        if col in b.columns:
            codes, values = _codes(b[col].iloc[kept], tuple(known))
            payload[key] = {
                "codes": codes.tolist(),
                "values": values,
                "colours": _category_scale(values, known),
            }
    themes = _unit_themes(b, kept)
    if themes:
        payload["themes"] = themes
    if "engagements" in b.columns:  # empty where suppressed or withheld: never a count there
        payload["engagements"] = _int_or_missing(b["engagements"].iloc[kept]).tolist()
    if "priority_rank" in b.columns:
        payload["rank"] = _int_or_missing(b["priority_rank"].iloc[kept]).tolist()
    if "top_change" in b.columns:
        payload["topChange"] = (_bool_or_missing(b["top_change"].iloc[kept]) == 1).tolist()
    corners = shapely.bounds(parts)
    xy = np.vstack([corners[:, :2], corners[:, 2:]]) if len(parts) else np.zeros((0, 2))
    return payload, xy


def _unit_themes(b: gpd.GeoDataFrame, kept: np.ndarray) -> list[dict[str, Any]]:
    """Category themes of the units (:data:`geo_risk.render.layers.UNIT_THEMES`)."""
    from .layers import UNIT_THEMES

    out = []
    for t in UNIT_THEMES:
        if t.column in b.columns:
            codes, values = _codes(b[t.column].iloc[kept], tuple(t.colours))
            if not values:  # no unit has a value (e.g. no alert data): no theme
                continue
            out.append({"key": t.key, "label": t.label, "note": t.note,
                        "codes": codes.tolist(), "values": values,
                        "colours": _category_scale(values, t.colours)})
            if t.detail and t.detail in b.columns:
                out[-1]["detail"] = (b[t.detail].iloc[kept].astype("string").fillna("")
                                     .tolist())
    return out


def _restrictions_payload(
    restrictions: gpd.GeoDataFrame, week: dt.date, scale: int
) -> dict[str, Any] | None:
    if not isinstance(restrictions, gpd.GeoDataFrame):
        raise ValidationError([Problem("restrictions", "restrictions must be a GeoDataFrame")])
    _require(restrictions, "restrictions", ("cause", "severity"))
    _require_geometry(restrictions, "restrictions")
    if len(restrictions) == 0:
        return None
    r = _check_crs(restrictions, "restrictions")
    sev = pd.to_numeric(r["severity"], errors="coerce")
    bad = sev.isna() | ~sev.isin([1, 2, 3])
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValidationError(
            [
                Problem(
                    "restrictions", "severity must be 1, 2 or 3", row=first + 2, column="severity"
                )
            ]
        )
    start = (
        pd.to_datetime(r["start_date"], errors="coerce")
        if "start_date" in r.columns
        else pd.Series(pd.NaT, index=r.index)
    )
    end = (
        pd.to_datetime(r["end_date"], errors="coerce")
        if "end_date" in r.columns
        else pd.Series(pd.NaT, index=r.index)
    )
    week_start = pd.Timestamp(week)
    week_end = week_start + pd.Timedelta(days=6)
    in_force = (start.isna() | (start <= week_end)) & (end.isna() | (end >= week_start))
    geoms = np.asarray(r.geometry.values, dtype=object)
    usable = in_force.to_numpy() & ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kept = np.flatnonzero(usable)
    if kept.size == 0:
        return None
    simplified = shapely.simplify(geoms[kept], BOUNDARY_SIMPLIFY_DEG, preserve_topology=True)
    parts, owner = _polygon_parts(simplified)
    dropped = np.setdiff1d(np.arange(kept.size), owner)
    if dropped.size:
        warnings.warn(
            f"restrictions: {dropped.size} restriction(s) are not polygons and are not drawn; "
            "buffer points and lines to areas first",
            UserWarning,
            stacklevel=3,
        )

    def dates(s: pd.Series) -> list[str | None]:
        return [None if pd.isna(v) else v.date().isoformat() for v in s.iloc[kept]]

    ids = (
        r["restriction_id"].astype("string").fillna("").iloc[kept].tolist()
        if "restriction_id" in r.columns
        else [""] * kept.size
    )
    return {
        "shapes": _encode_shapes(parts, owner, kept.size, scale),
        "id": [str(v) for v in ids],
        "cause": [str(v) for v in r["cause"].astype("string").fillna("").iloc[kept]],
        "severity": sev.iloc[kept].astype(int).tolist(),
        "start": dates(start),
        "end": dates(end),
    }


def _bases_payload(
    bases: pd.DataFrame, week: dt.date, reach_km: float | None
) -> list[dict[str, Any]]:
    if not isinstance(bases, pd.DataFrame):
        raise ValidationError([Problem("bases", "bases must be a pandas DataFrame")])
    _require(bases, "bases", ("base_name", "lon", "lat"))
    lon = pd.to_numeric(bases["lon"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    lat = pd.to_numeric(bases["lat"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            [Problem("bases", "lon/lat missing or out of range", row=first + 2, column="lon")]
        )
    b = bases_in_week(bases=bases, week=week, reach_km=reach_km)

    def numbers(col: str) -> list[float | None]:
        if col not in b.columns:
            return [None] * len(b)
        vals = pd.to_numeric(b[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return [None if not np.isfinite(v) or v < 0 else float(v) for v in vals]

    names = b["base_name"].astype("string").fillna("").tolist()
    blat = pd.to_numeric(b["lat"]).to_numpy(dtype="float64")
    blon = pd.to_numeric(b["lon"]).to_numpy(dtype="float64")
    rows = zip(names, blat, blon, numbers("liaison_staff"), numbers("reach_km"), b["open"],
               b["closed_on"], strict=True)
    return [  # tens of bases, not cells
        {"name": str(name), "lat": round(float(y), 5), "lon": round(float(x), 5),
         "staff": None if s is None else round(s), "reachKm": r, "open": bool(o),
         "closed": None if pd.isna(c) else str(c)}
        for name, y, x, s, r, o, c in rows
    ]


def _scales() -> dict[str, Any]:
    return {
        "risk": {
            "breaks": [round(b * 1e4) for b in RISK_BREAKS],
            "colours": list(RISK_COLOURS),
            "title": "Risk probability",
            "unit": "probability of \u22651 incident next week",
        },
        "change": {
            "breaks": [round(b * 100) for b in CHANGE_BREAKS_PP],
            "colours": list(CHANGE_COLOURS),
            "title": "Change vs last week",
            "unit": "percentage points of probability",
        },
        "noData": NO_DATA_COLOUR,
    }


# --------------------------------------------------------------------------- page


def _json_for_script(obj: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


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
    grid_payload, under, restricted, grid_xy = _grid_payload(grid, cells, meta, history)
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
        "scales": _scales(),
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
) -> Path:
    """Render the map (see :func:`render_map`) and write it as UTF-8.

    Parameters
    ----------
    path : str or os.PathLike
        Output file, e.g. ``out/map.html``; parent folders are created.
    grid, boundaries, meta, restrictions, bases, history, basemap_url, basemap_attribution
        As for :func:`render_map`.
    base_reach_km, network_reach
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
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
