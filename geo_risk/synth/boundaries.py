"""SYNTHETIC geography: country outline, admin units, towns, villages; COD-AB style writer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from ._common import (
    COUNTRY_CODE,
    COUNTRY_NAME,
    F64,
    I64,
    Str,
    _as_multi,
    _Frame,
    _lloyd,
    _Names,
    _sample_in,
)
from .spec import ScenarioSpec

# ============================================================================================
# Geography: country, admin units, towns, population, cells, bases
# ============================================================================================


@dataclass
class _Geo:
    frame: _Frame
    country: Polygon
    adm1_geom: list[MultiPolygon]
    adm1_pcode: list[str]
    adm1_name: list[str]
    adm2_geom: list[MultiPolygon]
    adm2_pcode: list[str]
    adm2_name: list[str]
    adm2_parent: I64  # index into adm1 lists
    adm2_point: F64  # (n_adm2, 2) lon/lat of a point inside (centroid when inside)
    town_lon: F64 = field(default_factory=lambda: np.zeros(0))
    town_lat: F64 = field(default_factory=lambda: np.zeros(0))
    town_share: F64 = field(default_factory=lambda: np.zeros(0))
    town_name: list[str] = field(default_factory=list)
    place_lon: F64 = field(default_factory=lambda: np.zeros(0))
    place_lat: F64 = field(default_factory=lambda: np.zeros(0))
    place_name: Str = field(default_factory=lambda: np.zeros(0, dtype=str))


def _country_outline(rng: np.random.Generator, bbox: tuple[float, float, float, float]) -> Polygon:
    lon_min, lat_min, lon_max, lat_max = bbox
    cx, cy = (lon_min + lon_max) / 2, (lat_min + lat_max) / 2
    hw, hh = (lon_max - lon_min) / 2 * 0.985, (lat_max - lat_min) / 2 * 0.985
    theta = np.linspace(0.0, 2 * np.pi, 400, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 18):
        r += rng.uniform(0.01, 0.07) / k**0.6 * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r /= r.max()
    x = np.round(cx + hw * r * np.cos(theta), 6)
    y = np.round(cy + hh * r * np.sin(theta), 6)
    return Polygon(np.column_stack([x, y]))


def _build_geography(rng: np.random.Generator, spec: ScenarioSpec, names: _Names) -> _Geo:
    bbox = spec.bbox
    frame = _Frame((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)
    grid = 1e-7
    country = shapely.set_precision(_country_outline(rng, bbox), grid)
    assert isinstance(country, Polygon)

    lon, lat = _sample_in(rng, country, 6000)
    pts = np.column_stack(frame.xy(lon, lat))
    seeds2 = _lloyd(rng, pts, spec.n_adm2)
    seeds1 = _lloyd(rng, pts, spec.n_adm1)
    group = ((seeds2[:, None, :] - seeds1[None, :, :]) ** 2).sum(-1).argmin(1)
    for g in range(spec.n_adm1):  # give every adm1 at least one adm2
        if not (group == g).any():
            counts = np.bincount(group, minlength=spec.n_adm1)
            d2 = ((seeds2 - seeds1[g]) ** 2).sum(1)
            d2[counts[group] <= 1] = np.inf
            group[int(np.argmin(d2))] = g

    cx_km = frame.to_km(country)
    minx, miny, maxx, maxy = cx_km.bounds
    env = box(minx - 100, miny - 100, maxx + 100, maxy + 100)
    vor = shapely.voronoi_polygons(shapely.multipoints(seeds2), extend_to=env, ordered=True)
    vcells = [frame.to_deg(p) for p in shapely.get_parts(vor)]
    adm2 = [
        _as_multi(shapely.set_precision(shapely.intersection(c, country), grid)) for c in vcells
    ]
    adm1 = [
        _as_multi(shapely.union_all([adm2[i] for i in np.flatnonzero(group == g)], grid_size=grid))
        for g in range(spec.n_adm1)
    ]

    def order_key(geoms: Sequence[BaseGeometry]) -> I64:
        c = shapely.centroid(np.asarray(geoms, dtype=object))
        return np.lexsort((np.round(shapely.get_x(c), 3), -np.round(shapely.get_y(c), 1)))

    o1 = order_key(adm1)
    rank1 = np.empty(spec.n_adm1, dtype=np.int64)
    rank1[o1] = np.arange(spec.n_adm1)
    adm1_geom = [adm1[i] for i in o1]
    adm1_pcode = [f"{COUNTRY_CODE}{i + 1:02d}" for i in range(spec.n_adm1)]
    adm1_name = names.make(spec.n_adm1)
    adm2_geom: list[MultiPolygon] = []
    adm2_pcode: list[str] = []
    parent: list[int] = []
    for g in range(spec.n_adm1):
        members = np.flatnonzero(rank1[group] == g)
        members = members[order_key([adm2[i] for i in members])]
        for j, i in enumerate(members):
            adm2_geom.append(adm2[i])
            adm2_pcode.append(f"{adm1_pcode[g]}{j + 1:02d}")
            parent.append(g)
    adm2_name = names.make(spec.n_adm2)
    cen = shapely.centroid(np.asarray(adm2_geom, dtype=object))
    rep = shapely.point_on_surface(np.asarray(adm2_geom, dtype=object))
    pt = np.column_stack([np.round(shapely.get_x(cen), 4), np.round(shapely.get_y(cen), 4)])
    inside = np.array(
        [g.contains(Point(x, y)) for g, (x, y) in zip(adm2_geom, pt, strict=True)], dtype=bool
    )
    rep_pt = np.column_stack([np.round(shapely.get_x(rep), 4), np.round(shapely.get_y(rep), 4)])
    pt[~inside] = rep_pt[~inside]
    return _Geo(
        frame=frame,
        country=country,
        adm1_geom=adm1_geom,
        adm1_pcode=adm1_pcode,
        adm1_name=adm1_name,
        adm2_geom=adm2_geom,
        adm2_pcode=adm2_pcode,
        adm2_name=adm2_name,
        adm2_parent=np.asarray(parent, dtype=np.int64),
        adm2_point=pt,
    )


def _place_towns(rng: np.random.Generator, geo: _Geo, n_towns: int, names: _Names) -> None:
    frame = geo.frame
    lon, lat = _sample_in(rng, geo.country, 4000)
    x, y = frame.xy(lon, lat)
    border_km = shapely.distance(frame.to_km(geo.country.exterior), shapely.points(x, y))
    keep = border_km > 8.0
    lon, lat, x, y = lon[keep], lat[keep], x[keep], y[keep]
    cen = geo.country.centroid
    cxk, cyk = frame.xy(cen.x, cen.y)
    tx = cxk + rng.normal(0, 25)
    ty = cyk + rng.normal(0, 25)
    first = int(np.argmin((x - tx) ** 2 + (y - ty) ** 2))
    chosen = [first]
    spacing = 35.0
    order = rng.permutation(len(x))
    while len(chosen) < n_towns:
        for i in order:
            if len(chosen) >= n_towns:
                break
            d = np.hypot(x[chosen] - x[i], y[chosen] - y[i])
            if d.min() >= spacing:
                chosen.append(int(i))
        spacing *= 0.7
    idx = np.asarray(chosen)
    share = 1.0 / (np.arange(n_towns) + 1.0) ** 1.05
    geo.town_lon = np.round(lon[idx], 4)
    geo.town_lat = np.round(lat[idx], 4)
    geo.town_share = share / share.sum()
    geo.town_name = names.make(n_towns)



def _write_boundaries(path: Path, geo: _Geo) -> None:
    if path.exists():
        path.unlink()
    a0 = gpd.GeoDataFrame(
        {"ADM0_PCODE": [COUNTRY_CODE], "ADM0_EN": [COUNTRY_NAME]},
        geometry=[MultiPolygon([geo.country])],
        crs="EPSG:4326",
    )
    a1 = gpd.GeoDataFrame(
        {
            "ADM1_PCODE": geo.adm1_pcode,
            "ADM1_EN": geo.adm1_name,
            "ADM0_PCODE": COUNTRY_CODE,
            "ADM0_EN": COUNTRY_NAME,
        },
        geometry=geo.adm1_geom,
        crs="EPSG:4326",
    )
    par = geo.adm2_parent
    a2 = gpd.GeoDataFrame(
        {
            "ADM2_PCODE": geo.adm2_pcode,
            "ADM2_EN": geo.adm2_name,
            "ADM1_PCODE": [geo.adm1_pcode[i] for i in par],
            "ADM1_EN": [geo.adm1_name[i] for i in par],
            "ADM0_PCODE": COUNTRY_CODE,
            "ADM0_EN": COUNTRY_NAME,
        },
        geometry=geo.adm2_geom,
        crs="EPSG:4326",
    )
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        for name, gdf, desc in (
            ("adm0", a0, "SYNTHETIC admin level 0 (country) of fictional Veridia"),
            ("adm1", a1, "SYNTHETIC admin level 1 of fictional Veridia"),
            ("adm2", a2, "SYNTHETIC admin level 2 of fictional Veridia"),
        ):
            gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio",
                        layer_options={"DESCRIPTION": desc})  # fmt: skip
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


