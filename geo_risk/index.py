"""Spatial indexing: points to H3 cells and admin units, and the cell universe.

H3 ids are ``uint64`` arrays throughout; h3ronpy does the work in Rust so no Python runs per
point (h3-py 4 has no vectorised point indexing).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import h3.api.basic_int as h3int
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from h3ronpy import (
    ContainmentMode,
    cells_area_km2,
    cells_to_string,
    grid_disk,
    grid_disk_distances,
)
from h3ronpy.vector import (
    cells_to_coordinates,
    cells_to_wkb_polygons,
    coordinates_to_cells,
    geometry_to_cells,
)

WGS84 = "EPSG:4326"


def points_to_cells(*, lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cells of points; 0 where a coordinate is missing.

    Examples
    --------
    >>> points_to_cells(lat=np.array([4.85]), lon=np.array([31.6]), resolution=7).dtype
    dtype('uint64')
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    out = np.zeros(len(lat), dtype=np.uint64)
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if ok.any():
        out[ok] = np.asarray(coordinates_to_cells(lat[ok], lon[ok], resolution)).astype(np.uint64)
    return out


def locate_points(*, lon: np.ndarray, lat: np.ndarray, admin: gpd.GeoDataFrame,
                  tolerance_km: float, resolution: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Admin unit and H3 cell of each point: ``(pcode, distance_km, cell)``.

    :func:`assign_admin` and :func:`points_to_cells` in one call, row by row independent, so a
    caller may split the rows into blocks and run them anywhere (the dask engine's readers
    do, :mod:`geo_risk.engine.readers`).
    """
    pcode, dist = assign_admin(lon=lon, lat=lat, admin=admin, tolerance_km=tolerance_km)
    return pcode, dist, points_to_cells(lat=lat, lon=lon, resolution=resolution)


def cell_centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) in degrees of cell centres."""
    batch = cells_to_coordinates(pa.array(np.asarray(cells, dtype=np.uint64)))
    return (np.asarray(batch.column("lat")), np.asarray(batch.column("lng")))


def cells_to_polygons(cells: np.ndarray) -> gpd.GeoSeries:
    """Hexagon polygons of cells (WGS 84)."""
    wkb = cells_to_wkb_polygons(pa.array(np.asarray(cells, dtype=np.uint64)), link_cells=False)
    return gpd.GeoSeries(shapely.from_wkb(np.asarray(pa.array(wkb).to_pylist(), dtype=object)),
                         crs=WGS84)


def cell_strings(cells: np.ndarray) -> np.ndarray:
    """H3 cells (valid ``uint64`` indexes) as the hex strings people and other tools use."""
    text = pa.array(cells_to_string(pa.array(np.asarray(cells, dtype=np.uint64))))
    return np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)


def cell_areas_km2(cells: np.ndarray) -> np.ndarray:
    return np.asarray(cells_area_km2(pa.array(np.asarray(cells, dtype=np.uint64))))


def neighbour_pairs(cells: np.ndarray, *, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (cell, neighbour, ring distance) pairs with 1 <= distance <= k."""
    cells = np.asarray(cells, dtype=np.uint64)
    batch = grid_disk_distances(pa.array(cells), k)
    cell_list = pa.array(batch.column("cell"))
    dist_list = pa.array(batch.column("k"))
    lengths = np.asarray(cell_list.value_lengths())
    nbr = np.asarray(cell_list.flatten()).astype(np.uint64)
    dist = np.asarray(dist_list.flatten()).astype(np.int8)
    origin = np.repeat(cells, lengths)
    keep = dist > 0
    return origin[keep], nbr[keep], dist[keep]


def cover_cells(admin: gpd.GeoDataFrame, *, resolution: int) -> pd.DataFrame:
    """Cells whose centre lies in each admin unit: the grid the risk is scored on.

    Returns a frame ``cell`` (uint64, unique), ``admin_pcode``. Units smaller than a cell
    still get the cell containing their representative point, so no unit is left empty.
    """
    parts: list[np.ndarray] = []
    for geom in admin.geometry:
        cells = np.asarray(geometry_to_cells(geom, resolution,
                                             containment_mode=ContainmentMode.ContainsCentroid))
        if len(cells) == 0:
            p = geom.representative_point()
            cells = np.array([h3int.latlng_to_cell(p.y, p.x, resolution)], dtype=np.uint64)
        parts.append(cells.astype(np.uint64))
    pcodes = np.repeat(admin["admin_pcode"].to_numpy(object), [len(c) for c in parts])
    # A cell whose centre sits exactly on a shared border would appear twice: the first unit
    # keeps it (np.unique gives each cell's first position, cells sorted).
    cells, first = np.unique(np.concatenate(parts) if parts else np.zeros(0, np.uint64),
                             return_index=True)
    return pd.DataFrame({"cell": cells, "admin_pcode": pcodes[first]})


def local_utm(geoms: gpd.GeoSeries | gpd.GeoDataFrame) -> Any:
    """The UTM zone (WGS 84) at the centre of ``geoms``' bounds, for metre distances.

    The zone comes from the longitude by the UTM rule (6-degree zones from 180 W; EPSG
    326zz north, 327zz south). ``GeoDataFrame.estimate_utm_crs`` gives the same zone outside
    the Norway and Svalbard exceptions, but searches pyproj's database for it: ~0.3 s per call,
    paid by every reader that snaps or buffers.
    """
    from pyproj import CRS

    x0, y0, x1, y1 = geoms.to_crs(WGS84).total_bounds if geoms.crs != WGS84 else \
        geoms.total_bounds
    lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
    zone = int((lon + 180) // 6) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _unit_of_points(admin: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Position in ``admin`` of the unit each point (finite ``x``, ``y``) lies in, -1 if none.

    Tested per unit on the coordinates (``shapely.intersects_xy``), among the points in the
    unit's bounding box: no Point object per row, whose creation (and the garbage collections
    it sets off) cost more than the tests. A point on a border shared by two units takes the
    first unit the spatial index lists, as :meth:`STRtree.query` always gave it.
    """
    geoms = admin.geometry.to_numpy()
    bounds = shapely.bounds(geoms)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    unit = np.full(len(x), -1, dtype=np.int64)
    hits = np.zeros(len(x), dtype=np.int64)
    for j, geom in enumerate(geoms):  # per unit, not per row: units are few next to points
        if geom is None or geom.is_empty:
            continue
        lo = np.searchsorted(xs, bounds[j, 0], side="left")
        hi = np.searchsorted(xs, bounds[j, 2], side="right")
        cand = order[lo:hi]
        cand = cand[(y[cand] >= bounds[j, 1]) & (y[cand] <= bounds[j, 3])]
        if len(cand) == 0:
            continue
        cand = cand[shapely.intersects_xy(geom, x[cand], y[cand])]
        unit[cand] = j
        hits[cand] += 1
    several = np.flatnonzero(hits > 1)
    if len(several):
        hit_pt, hit_poly = admin.sindex.query(shapely.points(x[several], y[several]),
                                              predicate="intersects")
        first = pd.Series(hit_poly, index=hit_pt).groupby(level=0).first()
        unit[several[first.index.to_numpy()]] = first.to_numpy()
    return unit


def assign_admin(*, lon: np.ndarray, lat: np.ndarray, admin: gpd.GeoDataFrame,
                 tolerance_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Admin P-code of each point: the unit containing it, else the nearest unit within
    ``tolerance_km`` (border towns and sliver gaps), else ``""``.

    Returns
    -------
    pcode, distance_km
        ``distance_km`` is 0 inside a unit, the snap distance for snapped points, NaN for
        points left unassigned or without coordinates.
    """
    n = len(lon)
    pcode = np.full(n, "", dtype=object)
    dist = np.full(n, np.nan)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return pcode, dist
    idx = np.flatnonzero(ok)
    x, y = lon[ok], lat[ok]
    unit = _unit_of_points(admin, x, y)
    inside = unit >= 0
    pcode[idx[inside]] = admin["admin_pcode"].to_numpy()[unit[inside]]
    dist[idx[inside]] = 0.0
    outside = np.flatnonzero(~inside)
    if len(outside) and tolerance_km > 0:
        crs = local_utm(admin)
        admin_m = admin.geometry.to_crs(crs)
        pts_m = gpd.GeoSeries(gpd.points_from_xy(x[outside], y[outside]), crs=WGS84).to_crs(crs)
        near_pt, near_poly = admin_m.sindex.nearest(pts_m, max_distance=tolerance_km * 1000,
                                                    return_all=False)
        d = shapely.distance(pts_m.to_numpy()[near_pt], admin_m.to_numpy()[near_poly]) / 1000
        sel = idx[outside[near_pt]]
        pcode[sel] = admin["admin_pcode"].to_numpy()[near_poly]
        dist[sel] = d
    return pcode, dist


__all__ = [
    "assign_admin",
    "local_utm",
    "locate_points",
    "cell_areas_km2",
    "cell_centres",
    "cell_strings",
    "cells_to_polygons",
    "cover_cells",
    "grid_disk",
    "neighbour_pairs",
    "points_to_cells",
]
