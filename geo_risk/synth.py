"""Synthetic scenario generator: a fictional country, "Veridia", written in real file formats.

``geo-risk synth`` and ``geo-risk demo`` call :func:`generate_scenario`. It writes the files a
JMAC analyst would have (COD-AB style boundaries, an ACLED-style export, a KoBo export of a
community-engagement form, access restrictions, a WorldPop-style raster, mission bases) for a
country that does not exist, plus the ground truth the files were drawn from, so the pipeline,
the models and the maps can be tested against known answers. Everything is labelled SYNTHETIC.

The conflict process is simulated weekly on H3 cells covering the country. Intensity per
cell-week is a small population-driven background, a few persistent hotspots (a Gaussian halo
of ``radius_km`` around a core a quarter that size; slowly varying amplitude, some drifting),
short flare-ups (some in places with no prior events: "onset") and self-excitation (events in
the last four weeks in a cell and its ring-1 and ring-2 neighbours raise the rate).
Engagement is concentrated near bases (rate decays as ``exp(-d / 40 km)``), with designated
never-engaged units and units where no women or no youth took part; early-warning alerts rise
where flares start. Restrictions close areas around hotspots, cut roads in the wet season and
put up checkpoints.

Deterministic: every random draw comes from ``numpy.random.default_rng`` streams spawned from the
seed; no global random state and no wall clock, so the same seed gives byte-identical CSV,
GeoJSON and JSON files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3ronpy
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import rasterio
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray
from scipy.signal import lfilter
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import cKDTree
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from geo_risk.errors import ConfigError

__all__ = [
    "ACLED_COLUMNS",
    "COUNTRY_NAME",
    "KOBO_COLUMNS",
    "ScenarioFiles",
    "ScenarioSpec",
    "generate_scenario",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]
Str = NDArray[np.str_]

COUNTRY_CODE = "XV"  # ISO 3166 user-assigned range: no real country has it
COUNTRY_NAME = "Veridia (synthetic)"
ISO_NUMERIC = 999  # ISO 3166-1 numeric user-assigned range
ACLED_REGION = "Eastern Africa"
SOURCE_NAME = "Synthetic generator (geo-risk)"
EVENT_ID_PREFIX = "XVR"
UTC_OFFSET_HOURS = 3  # local time of the KoBo devices (East Africa Time)

#: Current ACLED export columns (lowercase), in export order.
ACLED_COLUMNS = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
    "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
    "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2", "admin3",
    "location", "latitude", "longitude", "geo_precision", "source", "source_scale", "notes",
    "fatalities", "tags", "timestamp",
)  # fmt: skip

KOBO_MODALITIES = (
    "community_meeting", "consultation", "perception_survey", "early_warning_alert",
    "radio_outreach", "remote_engagement",
)  # fmt: skip
KOBO_TOPICS = ("security", "displacement", "services", "reconciliation", "land")

#: Columns of the KoBo export of the community-engagement form, in export order.
KOBO_COLUMNS = (
    "start", "end", "today", "meeting/meeting_date", "meeting/modality", "meeting/base",
    "location/admin2", "location/gps", "_location/gps_latitude", "_location/gps_longitude",
    "_location/gps_altitude", "_location/gps_precision", "participants/total",
    "participants/women", "participants/youth", "topics",
    *(f"topics/{t}" for t in KOBO_TOPICS),
    "safety_score", "commitments/made", "commitments/follow_up", "facilitator_name",
    "facilitator_phone", "notes", "_id", "_uuid", "_submission_time", "_index",
)  # fmt: skip

RESTRICTION_CAUSES = ("armed_group", "government_denial", "terrain_weather", "insecurity")

_MONTHS = np.array(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"]
)  # fmt: skip

# --- process parameters (expected events per week at incident_scale = 1) --------------------
_REFERENCE_AREA_KM2 = 138_000.0  # country area of the default spec; background and flare
#                                  rates scale with area, persistent hotspots do not
_BACKGROUND_PER_WEEK = 11.5
_HOTSPOTS_PER_WEEK = 36.0  # all persistent hotspots together
_HOTSPOT_WEIGHTS = (11.0, 9.5, 8.0, 6.5)  # how that is shared between them
_FLARES_PER_WEEK = 0.2  # new flare-ups per week
_FLARE_PEAK = (10.0, 20.0)  # expected events per week at the peak of a flare
_HOTSPOT_CORE = 0.6  # share of a hotspot's events in its core (radius / 4)
_EXC_LAGS = np.array([0.45, 0.25, 0.18, 0.12])  # weights of the last 1..4 weeks
_EXC_RING = (0.15, 0.035, 0.008)  # own cell, each ring-1 neighbour, each ring-2 neighbour
_ENGAGE_DECAY_KM = 40.0
_CONSULTATIONS_PER_STAFF_WEEK = 1.4


@dataclass(frozen=True)
class ScenarioSpec:
    """What to generate.

    Parameters
    ----------
    start : str
        First day of the history, ``YYYY-MM-DD``; must be a Monday.
    weeks : int
        Weeks of history written. The forecast week starts ``weeks * 7`` days after ``start``.
    bbox : tuple of float
        ``(lon_min, lat_min, lon_max, lat_max)`` the country is drawn inside (WGS 84).
    n_adm1, n_adm2 : int
        Number of admin-1 and admin-2 units (admin-2 units nest in admin-1 units).
    n_bases : int
        Mission bases (team sites).
    h3_resolution : int
        H3 resolution of the grid the conflict process is simulated on.
    incident_scale : float
        Multiplies all event rates: about 25k incidents at 1.0 and 100k at 4.0 (benchmarks).
    population_total : float
        People in the country (sum of the population raster).
    kobo_delimiter : str
        Field separator of the KoBo CSV export. KoBoToolbox's own default is ``";"``.
    """

    start: str = "2021-01-04"
    weeks: int = 260
    bbox: tuple[float, float, float, float] = (30.0, 4.0, 34.5, 8.0)
    n_adm1: int = 5
    n_adm2: int = 36
    n_bases: int = 8
    h3_resolution: int = 7
    incident_scale: float = 1.0
    population_total: float = 8_000_000
    kobo_delimiter: str = ";"


@dataclass(frozen=True)
class ScenarioFiles:
    """Paths of everything :func:`generate_scenario` wrote, and headline counts.

    ``n_incidents`` counts the valid ACLED rows (the deliberately bad rows, ``n_bad_rows``, come
    on top). ``weekly_base_rate`` is the mean share of simulated cells with at least one event
    per week of history.
    """

    out_dir: Path
    boundaries: Path
    incidents: Path
    consultations: Path
    access_restrictions: Path
    population: Path
    bases: Path
    truth: Path
    truth_cells: Path
    config: Path
    readme: Path
    forecast_week: date
    seed: int
    n_incidents: int
    n_bad_rows: int
    n_consultations: int
    n_restrictions: int
    n_cells: int
    weekly_base_rate: float


# ============================================================================================
# Small helpers
# ============================================================================================


@dataclass(frozen=True)
class _Frame:
    """A local planar frame in kilometres (equirectangular around the bbox centre)."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return 111.32 * math.cos(math.radians(self.lat0))

    @property
    def ky(self) -> float:
        return 110.57

    def xy(self, lon: Any, lat: Any) -> tuple[F64, F64]:
        lon_a = np.asarray(lon, dtype=float)
        lat_a = np.asarray(lat, dtype=float)
        return (lon_a - self.lon0) * self.kx, (lat_a - self.lat0) * self.ky

    def lonlat(self, x: Any, y: Any) -> tuple[F64, F64]:
        x_a = np.asarray(x, dtype=float)
        y_a = np.asarray(y, dtype=float)
        return x_a / self.kx + self.lon0, y_a / self.ky + self.lat0

    def to_km(self, geom: BaseGeometry) -> BaseGeometry:
        def fwd(c: F64) -> F64:
            return np.column_stack(self.xy(c[:, 0], c[:, 1]))

        return shapely.transform(geom, fwd)

    def to_deg(self, geom: BaseGeometry) -> BaseGeometry:
        def inv(c: F64) -> F64:
            return np.column_stack(self.lonlat(c[:, 0], c[:, 1]))

        return shapely.transform(geom, inv)


_ONSETS = ("b", "d", "g", "k", "l", "m", "n", "r", "s", "t", "w", "y", "z", "ch", "nd", "mb",
           "ng", "sh", "kw", "ny", "j", "p")  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "a", "o", "a")
_CODAS = ("", "", "", "n", "r", "l", "m")


class _Names:
    """Deterministic, unique, pronounceable fictional names made of syllables."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def make(self, n: int, syllables: tuple[int, int] = (2, 3)) -> list[str]:
        out: list[str] = []
        rng = self.rng
        while len(out) < n:
            k = int(rng.integers(syllables[0], syllables[1] + 1))
            ons = rng.integers(0, len(_ONSETS), k)
            vow = rng.integers(0, len(_VOWELS), k)
            coda = _CODAS[int(rng.integers(0, len(_CODAS)))]
            name = "".join(_ONSETS[o] + _VOWELS[v] for o, v in zip(ons, vow, strict=True)) + coda
            name = name.capitalize()
            if len(name) < 4 or name in self.used:
                continue
            self.used.add(name)
            out.append(name)
        return out


def _sample_in(rng: np.random.Generator, geom: BaseGeometry, n: int) -> tuple[F64, F64]:
    """``n`` uniform random points (lon, lat) inside ``geom`` (rejection sampling, batched)."""
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    xs: list[F64] = []
    ys: list[F64] = []
    got = 0
    while got < n:
        m = max(2 * n, 1000)
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        ok = shapely.contains_xy(geom, x, y)
        xs.append(x[ok])
        ys.append(y[ok])
        got += int(ok.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _lloyd(rng: np.random.Generator, pts: F64, k: int, iters: int = 15) -> F64:
    """Lloyd relaxation of ``k`` seeds over sample points: evenly sized regions."""
    seeds = pts[rng.choice(len(pts), k, replace=False)].copy()
    for _ in range(iters):
        d2 = ((pts[:, None, :] - seeds[None, :, :]) ** 2).sum(-1)
        lab = d2.argmin(1)
        cnt = np.bincount(lab, minlength=k).astype(float)
        sx = np.bincount(lab, weights=pts[:, 0], minlength=k)
        sy = np.bincount(lab, weights=pts[:, 1], minlength=k)
        ok = cnt > 0
        seeds[ok, 0] = sx[ok] / cnt[ok]
        seeds[ok, 1] = sy[ok] / cnt[ok]
    return seeds


def _as_multi(geom: BaseGeometry) -> MultiPolygon:
    polys = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]
    return MultiPolygon(polys)


def _locate(polys: Sequence[BaseGeometry], lon: F64, lat: F64) -> I64:
    """Index of the polygon containing each point, -1 when none (loop over polygons only)."""
    out = np.full(len(lon), -1, dtype=np.int64)
    for i, g in enumerate(polys):
        shapely.prepare(g)
        todo = out < 0
        if not todo.any():
            break
        hit = shapely.contains_xy(g, lon[todo], lat[todo])
        idx = np.flatnonzero(todo)[hit]
        out[idx] = i
    return out


def _blob(
    rng: np.random.Generator, frame: _Frame, lon: float, lat: float, radius_km: float
) -> Polygon:
    """An irregular roundish polygon (degrees) of about ``radius_km`` around a point."""
    theta = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
    r = np.ones_like(theta)
    for k in (2, 3, 5):
        r += rng.uniform(0.03, 0.12) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    x0, y0 = frame.xy(lon, lat)
    x = x0 + radius_km * r * np.cos(theta)
    y = y0 + radius_km * r * np.sin(theta)
    lo, la = frame.lonlat(x, y)
    return Polygon(np.column_stack([np.round(lo, 5), np.round(la, 5)]))


def _date_parts(d: NDArray[np.datetime64]) -> tuple[I64, I64, I64]:
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y, m, dd


def _fmt(fmt: str, a: Any) -> Str:
    return np.asarray(np.strings.mod(fmt, np.asarray(a)), dtype=str)


def _cat(*parts: Any) -> Str:
    out = np.asarray(parts[0], dtype=str)
    for p in parts[1:]:
        out = np.strings.add(out, np.asarray(p, dtype=str))
    return np.asarray(out, dtype=str)


def _uuid4(rng: np.random.Generator, n: int) -> Str:
    """Random version-4 UUID strings, vectorised."""
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    hexchars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    h = np.empty((n, 32), dtype=np.uint8)
    h[:, 0::2] = hexchars[b >> 4]
    h[:, 1::2] = hexchars[b & 0x0F]
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    full = np.hstack([h[:, :8], dash, h[:, 8:12], dash, h[:, 12:16], dash, h[:, 16:20], dash,
                      h[:, 20:]])  # fmt: skip
    return np.asarray(np.ascontiguousarray(full).view("S36").ravel().astype(str), dtype=str)


def _round_geom(geom: BaseGeometry, ndigits: int) -> BaseGeometry:
    """Snap to a decimal grid (valid topology), then round so the text is clean."""
    snapped = shapely.set_precision(geom, 10.0**-ndigits)
    return shapely.transform(snapped, lambda c: np.round(c, ndigits))


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


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


@dataclass
class _Raster:
    data: NDArray[np.float32]  # people per pixel, nodata outside
    mask: Bool
    transform: Any
    lon: F64  # pixel-centre coordinates of masked pixels
    lat: F64
    pop: F64  # people of masked pixels


POP_NODATA = -99999.0
POP_RES = 1.0 / 120.0  # 30 arc-seconds


def _population(rng: np.random.Generator, geo: _Geo, spec: ScenarioSpec) -> _Raster:
    lon_min, lat_min, lon_max, lat_max = spec.bbox
    w = int(math.ceil((lon_max - lon_min) / POP_RES - 1e-9))
    h = int(math.ceil((lat_max - lat_min) / POP_RES - 1e-9))
    transform = rasterio.Affine(POP_RES, 0.0, lon_min, 0.0, -POP_RES, lat_max)
    cols = lon_min + (np.arange(w) + 0.5) * POP_RES
    rows = lat_max - (np.arange(h) + 0.5) * POP_RES
    lon, lat = np.meshgrid(cols, rows)
    mask = shapely.contains_xy(geo.country, lon, lat)
    x, y = geo.frame.xy(lon, lat)
    xmin, xmax, ymin, ymax = x.min(), x.max(), y.min(), y.max()
    fieldv = np.zeros_like(x)
    for _ in range(30):  # smooth random field: a sum of broad bumps
        bx, by = rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)
        s = rng.uniform(25.0, 90.0)
        fieldv += rng.normal() * np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * s * s))
    fieldv /= max(float(fieldv[mask].std()), 1e-9)
    rural = np.exp(0.7 * fieldv) * rng.uniform(0.85, 1.15, size=x.shape) * mask
    total = float(spec.population_total)
    pop = rural * (0.58 * total / rural.sum())
    tx, ty = geo.frame.xy(geo.town_lon, geo.town_lat)
    smax = geo.town_share.max()
    for i in range(len(tx)):
        s = 1.5 + 5.0 * math.sqrt(geo.town_share[i] / smax)
        blob = np.exp(-((x - tx[i]) ** 2 + (y - ty[i]) ** 2) / (2 * s * s)) * mask
        pop += blob * (0.42 * total * geo.town_share[i] / blob.sum())
    pop *= total / pop[mask].sum()
    data = np.where(mask, pop, POP_NODATA).astype(np.float32)
    return _Raster(
        data=data,
        mask=mask,
        transform=transform,
        lon=lon[mask],
        lat=lat[mask],
        pop=pop[mask].astype(np.float64),
    )


def _place_villages(
    rng: np.random.Generator, geo: _Geo, ras: _Raster, n: int, names: _Names
) -> None:
    p = ras.pop / ras.pop.sum()
    idx = rng.choice(len(p), size=n, replace=False, p=p)
    lon = np.round(ras.lon[idx] + rng.uniform(-0.004, 0.004, n), 4)
    lat = np.round(ras.lat[idx] + rng.uniform(-0.004, 0.004, n), 4)
    ok = _locate(geo.adm2_geom, lon, lat) >= 0
    geo.place_lon = np.concatenate([geo.town_lon, lon[ok]])
    geo.place_lat = np.concatenate([geo.town_lat, lat[ok]])
    geo.place_name = np.asarray(geo.town_name + names.make(int(ok.sum())), dtype=str)


@dataclass
class _Cells:
    h3: NDArray[np.uint64]
    lon: F64
    lat: F64
    x: F64
    y: F64
    adm2: I64
    pop: F64
    ring: sp.csr_matrix  # excitation weights: own cell, ring 1, ring 2
    near: sp.csr_matrix  # binary ring <= 2 adjacency (with self)


def _build_cells(geo: _Geo, ras: _Raster, res: int) -> _Cells:
    h3c = np.sort(np.asarray(h3v.geometry_to_cells(geo.country, res)))
    rb = pa.record_batch(h3v.cells_to_coordinates(h3c))
    lat = np.asarray(rb.column("lat"), dtype=float)
    lon = np.asarray(rb.column("lng"), dtype=float)
    adm = _locate(geo.adm2_geom, lon, lat)
    ok = adm >= 0
    h3c, lon, lat, adm = h3c[ok], lon[ok], lat[ok], adm[ok]
    n = len(h3c)
    pix = np.asarray(h3v.coordinates_to_cells(ras.lat, ras.lon, res))
    pos = np.clip(np.searchsorted(h3c, pix), 0, n - 1)
    hit = h3c[pos] == pix
    pop = np.bincount(pos[hit], weights=ras.pop[hit], minlength=n).astype(np.float64)

    dd = pa.array(h3ronpy.grid_disk_distances(h3c, 2, flatten=False))
    cl = dd.field("cell")
    off = np.asarray(cl.offsets)
    nb = np.asarray(cl.values)
    kk = np.asarray(dd.field("k").values).astype(np.int64)
    rows = np.repeat(np.arange(n), np.diff(off))
    cpos = np.clip(np.searchsorted(h3c, nb), 0, n - 1)
    found = h3c[cpos] == nb
    rows, cols, kk = rows[found], cpos[found], kk[found]
    wts = np.asarray(_EXC_RING)[kk]
    ring = sp.csr_matrix((wts, (rows, cols)), shape=(n, n))
    near = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    x, y = geo.frame.xy(lon, lat)
    return _Cells(h3=h3c, lon=lon, lat=lat, x=x, y=y, adm2=adm, pop=pop, ring=ring, near=near)


@dataclass
class _Bases:
    name: list[str]
    lon: F64
    lat: F64
    open_date: list[date | None]
    close_date: list[date | None]
    staff: I64
    open_w: I64  # first week of history the base works (0 if before)
    close_w: I64  # first week it no longer works (== weeks when open)


def _place_bases(rng: np.random.Generator, geo: _Geo, spec: ScenarioSpec, start: date) -> _Bases:
    tx, ty = geo.frame.xy(geo.town_lon, geo.town_lat)
    order = np.argsort(-geo.town_share, kind="stable")
    chosen = [int(order[0])]
    sep = 70.0
    while len(chosen) < min(spec.n_bases, len(order)):
        for i in order:
            if len(chosen) >= spec.n_bases:
                break
            if int(i) in chosen:
                continue
            if np.hypot(tx[chosen] - tx[i], ty[chosen] - ty[i]).min() >= sep:
                chosen.append(int(i))
        sep *= 0.75
    idx = np.asarray(chosen)
    nb = len(idx)
    lon = geo.town_lon[idx].copy()
    lat = geo.town_lat[idx].copy()
    jl = np.round(lon + rng.uniform(-0.015, 0.015, nb), 4)
    ja = np.round(lat + rng.uniform(-0.015, 0.015, nb), 4)
    ok = shapely.contains_xy(geo.country, jl, ja)
    lon[ok], lat[ok] = jl[ok], ja[ok]
    names = [f"{geo.town_name[i]} Team Site" for i in idx]
    opened: list[date | None] = [
        start - timedelta(days=int(d)) for d in rng.integers(200, 2500, nb)
    ]
    closed: list[date | None] = [None] * nb
    open_w = np.zeros(nb, dtype=np.int64)
    close_w = np.full(nb, spec.weeks, dtype=np.int64)
    if nb >= 3:  # one team site opened during the period
        w = int(spec.weeks * 0.3)
        opened[-2] = start + timedelta(days=7 * w + 2)
        open_w[-2] = w + 1
    if nb >= 2:  # and one closed
        w = int(spec.weeks * 0.6)
        closed[-1] = start + timedelta(days=7 * w + 4)
        close_w[-1] = w + 1
    return _Bases(
        name=names,
        lon=lon,
        lat=lat,
        open_date=opened,
        close_date=closed,
        staff=rng.integers(1, 4, nb).astype(np.int64),
        open_w=open_w,
        close_w=close_w,
    )


# ============================================================================================
# The conflict process
# ============================================================================================

_PROFILES = ("background", "insurgency", "predation", "communal")


@dataclass
class _Hotspot:
    name: str
    kind: str  # "persistent" | "flare"
    profile: int  # index into _PROFILES
    sigma_km: float
    x0: float
    y0: float
    x1: float
    y1: float
    start_w: int
    end_w: int  # last active week (inclusive)
    per_week: float
    amp: F64 = field(default_factory=lambda: np.zeros(0))  # expected events per week, by week
    rebel: int = 0
    onset: bool = False
    cell: int = -1

    def centre(self, t: int, n_weeks: int) -> tuple[float, float]:
        f = t / max(n_weeks - 1, 1)
        return self.x0 + f * (self.x1 - self.x0), self.y0 + f * (self.y1 - self.y0)


def _kernel(cells: _Cells, x: float, y: float, sigma: float, mod: F64, core: float = 0.0) -> F64:
    """Spatial weights summing to 1: a Gaussian of ``sigma`` km, optionally mixed with a
    peaked core (``sigma / 4``) holding a ``core`` share, modulated by ``mod``."""
    d2 = (cells.x - x) ** 2 + (cells.y - y) ** 2
    out = np.zeros_like(d2)
    for share, s in ((1.0 - core, sigma), (core, sigma / 4.0)):
        if share <= 0:
            continue
        k = np.where(d2 < 9 * s * s, np.exp(-d2 / (2 * s * s)), 0.0) * mod
        tot = k.sum()
        if tot > 0:
            out += share * k / tot
    return out


def _persistent_hotspots(
    rng: np.random.Generator,
    geo: _Geo,
    cells: _Cells,
    bases: _Bases,
    T: int,
    scale: float,
    n_rebels: int,
    names: _Names,
) -> list[_Hotspot]:
    k_hot = int(rng.integers(3, 5))
    bx, by = geo.frame.xy(bases.lon, bases.lat)
    d_base = np.hypot(cells.x[:, None] - bx[None], cells.y[:, None] - by[None]).min(1)
    cap_x, cap_y = geo.frame.xy(geo.town_lon[0], geo.town_lat[0])
    d_cap = np.hypot(cells.x - cap_x, cells.y - cap_y)
    border = shapely.distance(
        geo.frame.to_km(geo.country.exterior), shapely.points(cells.x, cells.y)
    )
    w = (cells.pop + 1.0) ** 0.3
    profiles = [2, 1, 3, 1]  # remote one: mostly violence against civilians
    hot: list[_Hotspot] = []
    span = float(np.hypot(np.ptp(cells.x), np.ptp(cells.y)))
    spacing = max(0.25 * span, 40.0)
    t = np.arange(T)
    share = np.asarray(_HOTSPOT_WEIGHTS[:k_hot]) / sum(_HOTSPOT_WEIGHTS[:k_hot])
    per_week = _HOTSPOTS_PER_WEEK * scale * share
    for k in range(k_hot):
        ok = (d_cap > 40) & (border > 15)
        if k == 0:
            ok &= d_base >= min(90.0, 0.7 * float(d_base.max()))
        sep = spacing
        while True:
            cand = ok.copy()
            for h in hot:
                cand &= np.hypot(cells.x - h.x0, cells.y - h.y0) >= sep
            if cand.any():
                break
            sep *= 0.8
            if sep < 5:
                cand = np.ones_like(ok)
                break
        p = np.where(cand, w, 0.0)
        c = int(rng.choice(len(p), p=p / p.sum()))
        x0, y0 = float(cells.x[c]), float(cells.y[c])
        x1, y1 = x0, y0
        if k in (1, 3):  # drifting hotspots
            ang = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(20, 40)
            for sign in (1.0, -1.0):
                ex, ey = x0 + sign * dist * math.cos(ang), y0 + sign * dist * math.sin(ang)
                elon, elat = geo.frame.lonlat(ex, ey)
                if geo.country.contains(Point(float(elon), float(elat))):
                    x1, y1 = ex, ey
                    break
        period = rng.uniform(40, 90)
        noise = lfilter([1.0], [1.0, -0.95], rng.normal(0, 0.07, T))
        amp = np.exp(0.3 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)) + noise)
        amp = amp / amp.mean() * per_week[k]
        start_w, end_w = 0, T - 1
        if k == 2 and k_hot == 4:  # one hotspot fades out
            end_w = int(T * 0.7)
            amp *= np.clip((end_w - t) / 8.0, 0, 1)
        if k == k_hot - 1 and T > 40:  # one emerges during the period
            start_w = int(T * 0.35)
            amp *= np.clip((t - start_w) / 8.0, 0, 1)
        hot.append(
            _Hotspot(
                name=names.make(1)[0],
                kind="persistent",
                profile=profiles[k],
                sigma_km=float(np.round(rng.uniform(15, 30), 1)),
                x0=x0,
                y0=y0,
                x1=x1,
                y1=y1,
                start_w=start_w,
                end_w=end_w,
                per_week=float(per_week[k]),
                amp=amp,
                rebel=k % n_rebels,
                cell=c,
            )
        )
    return hot


@dataclass
class _Sim:
    lam: NDArray[np.float32]  # (T, n) true intensity
    counts: NDArray[np.int16]  # (T, n) simulated events
    ev_week: I64
    ev_cell: I64
    ev_profile: I64
    ev_rebel: I64
    flares: list[_Hotspot]


def _simulate(
    rng: np.random.Generator,
    cells: _Cells,
    hot: list[_Hotspot],
    T: int,
    start: date,
    scale: float,
    n_rebels: int,
    names: _Names,
) -> _Sim:
    n = len(cells.h3)
    pop = cells.pop
    area = float(np.asarray(h3ronpy.cells_area_km2(cells.h3)).sum())
    area_f = float(np.clip(area / _REFERENCE_AREA_KM2, 0.05, 5.0))
    mod = np.clip(((pop + 1.0) / (np.median(pop) + 1.0)) ** 0.3, 0.3, 3.0)
    bg = _BACKGROUND_PER_WEEK * area_f * scale * pop / pop.sum()
    week_start = np.datetime64(start) + 7 * np.arange(T)
    doy = (week_start - week_start.astype("datetime64[Y]")).astype(np.int64)
    season = 1.0 + 0.2 * np.cos(2 * np.pi * (doy - 45) / 365.25)

    # flare-up schedule (drawn up front; places chosen when they start)
    n_fl = int(rng.poisson(_FLARES_PER_WEEK * area_f * T))
    fl_start = np.sort(rng.integers(4, max(T - 1, 5), n_fl))
    fl_start = np.concatenate([fl_start, [T - 3, T - 1]]).astype(np.int64)
    fl_onset = np.concatenate([rng.random(n_fl) < 0.45, [False, True]])
    fl_dur = np.concatenate([rng.integers(2, 9, n_fl), rng.integers(4, 9, 2)])
    fl_peak = rng.uniform(*_FLARE_PEAK, n_fl + 2) * scale
    fl_sigma = np.round(rng.uniform(4, 10, n_fl + 2), 1)
    fl_prof = np.where(rng.random(n_fl + 2) < 0.5, 3, 2)
    flares: list[_Hotspot] = []
    fl_kern: list[F64] = []

    hot_kern = [
        _kernel(cells, h.x0, h.y0, h.sigma_km, mod, _HOTSPOT_CORE)
        if (h.x0, h.y0) == (h.x1, h.y1)
        else None
        for h in hot
    ]
    k_hot = len(hot)
    counts = np.zeros((T, n), dtype=np.int16)
    lam_all = np.zeros((T, n), dtype=np.float32)
    recent = np.zeros((len(_EXC_LAGS), n))
    s52 = np.zeros(n)
    nz_week: list[I64] = []
    nz_cell: list[I64] = []
    nz_cnt: list[I64] = []
    nz_comp: list[F64] = []
    # components: background, hotspots..., flare (communal), flare (predation), excitation
    for t in range(T):
        for j in np.flatnonzero(fl_start == t):
            if fl_onset[j]:
                quiet = (cells.near @ s52) == 0
                wts = np.where(quiet, np.sqrt(pop + 1.0), 0.0)
            else:
                active = (cells.near @ s52) > 0
                wts = np.where(active, (pop + 1.0) ** 0.3, 0.0)
            if wts.sum() <= 0:
                wts = np.sqrt(pop + 1.0)
            c = int(rng.choice(n, p=wts / wts.sum()))
            dur = int(fl_dur[j])
            tt = np.arange(T)
            shape = np.where((tt >= t) & (tt < t + dur), np.sin(np.pi * (tt - t + 0.5) / dur), 0.0)
            f = _Hotspot(
                name=names.make(1)[0],
                kind="flare",
                profile=int(fl_prof[j]),
                sigma_km=float(fl_sigma[j]),
                x0=float(cells.x[c]),
                y0=float(cells.y[c]),
                x1=float(cells.x[c]),
                y1=float(cells.y[c]),
                start_w=t,
                end_w=t + dur - 1,
                per_week=float(fl_peak[j]),
                amp=fl_peak[j] * shape,
                onset=bool(fl_onset[j]),
                cell=c,
            )
            flares.append(f)
            fl_kern.append(_kernel(cells, f.x0, f.y0, f.sigma_km, mod))
        comps = np.zeros((k_hot + 4, n))
        comps[0] = bg * season[t]
        for k, h in enumerate(hot):
            if h.amp[t] <= 0:
                continue
            kern = hot_kern[k]
            if kern is None:
                cx, cy = h.centre(t, T)
                kern = _kernel(cells, cx, cy, h.sigma_km, mod, _HOTSPOT_CORE)
            comps[1 + k] = h.amp[t] * season[t] * kern
        for f, kern in zip(flares, fl_kern, strict=True):
            if f.amp[t] > 0:
                comps[k_hot + (1 if f.profile == 3 else 2)] += f.amp[t] * kern
        comps[k_hot + 3] = cells.ring @ (_EXC_LAGS @ recent)
        lam = comps.sum(0)
        cnt = rng.poisson(lam)
        lam_all[t] = lam
        counts[t] = cnt
        nz = np.flatnonzero(cnt)
        nz_week.append(np.full(len(nz), t, dtype=np.int64))
        nz_cell.append(nz)
        nz_cnt.append(cnt[nz].astype(np.int64))
        nz_comp.append(comps[:, nz].T / lam[nz, None])
        recent = np.roll(recent, 1, axis=0)
        recent[0] = cnt
        s52 += cnt
        if t >= 52:
            s52 -= counts[t - 52]

    week = np.concatenate(nz_week)
    cellv = np.concatenate(nz_cell)
    cnt_v = np.concatenate(nz_cnt)
    comp = np.concatenate(nz_comp)
    keep = week < T - 1  # the forecast week is truth only
    week, cellv, cnt_v, comp = week[keep], cellv[keep], cnt_v[keep], comp[keep]
    rep = np.repeat(np.arange(len(week)), cnt_v)
    ev_week, ev_cell, pr = week[rep], cellv[rep], comp[rep]
    u = rng.random(len(rep))[:, None]
    which = np.minimum((u > np.cumsum(pr, axis=1)).sum(1), pr.shape[1] - 1)
    # profile of each component; excitation inherits the dominant other component
    comp_prof = np.array([0, *[h.profile for h in hot], 3, 2], dtype=np.int64)
    dominant = pr[:, :-1].argmax(1)
    src = np.where(which == pr.shape[1] - 1, dominant, which)
    ev_profile = comp_prof[src]
    # rebel group: the hotspot's own, else that of the nearest persistent hotspot
    hx = np.array([h.x0 for h in hot])
    hy = np.array([h.y0 for h in hot])
    near_hot = ((cells.x[:, None] - hx) ** 2 + (cells.y[:, None] - hy) ** 2).argmin(1)
    hot_rebel = np.array([h.rebel for h in hot], dtype=np.int64)
    is_hot = (src >= 1) & (src <= k_hot)
    ev_rebel = np.where(is_hot, hot_rebel[np.clip(src - 1, 0, k_hot - 1)],
                        hot_rebel[near_hot[ev_cell]])  # fmt: skip
    ev_rebel = ev_rebel % n_rebels
    return _Sim(
        lam=lam_all,
        counts=counts,
        ev_week=ev_week,
        ev_cell=ev_cell,
        ev_profile=ev_profile,
        ev_rebel=ev_rebel,
        flares=flares,
    )


# ============================================================================================
# ACLED export
# ============================================================================================

_PV = "Political violence"
_DEM = "Demonstrations"
_PVD = "Political violence; Demonstrations"
_SD = "Strategic developments"
_VAC = "Violence against civilians"

# event_type, sub_event_type, disorder_type, actor1 kind, actor2 kind, civilian targeting,
# P(any fatality), mean fatalities when any, verb for the notes
_TEMPLATES: tuple[tuple[str, str, str, str, str, bool, float, float, str], ...] = (
    ("Battles", "Armed clash", _PV, "state", "rebel", False, 0.45, 2.5, "clashed with"),
    ("Battles", "Armed clash", _PV, "rebel", "militia", False, 0.40, 2.0, "clashed with"),
    ("Battles", "Armed clash", _PV, "militia", "militia2", False, 0.50, 3.0, "clashed with"),
    ("Battles", "Government regains territory", _PV, "state", "rebel", False, 0.30, 2.0,
     "regained control of the area from"),
    ("Battles", "Non-state actor overtakes territory", _PV, "rebel", "state", False, 0.30, 2.0,
     "took control of the area from"),
    (_VAC, "Attack", _PV, "rebel", "civilians", True, 0.60, 1.8, "attacked"),
    (_VAC, "Attack", _PV, "militia", "civilians", True, 0.60, 2.2, "attacked"),
    (_VAC, "Attack", _PV, "state", "civilians", True, 0.40, 1.3, "attacked"),
    (_VAC, "Abduction/forced disappearance", _PV, "rebel", "civilians", True, 0.0, 1.0,
     "abducted"),
    (_VAC, "Sexual violence", _PV, "rebel", "civilians", True, 0.03, 1.0,
     "committed sexual violence against"),
    (_VAC, "Sexual violence", _PV, "militia", "civilians", True, 0.03, 1.0,
     "committed sexual violence against"),
    ("Explosions/Remote violence", "Remote explosive/landmine/IED", _PV, "rebel", "state", False,
     0.35, 1.5, "detonated an explosive device against"),
    ("Explosions/Remote violence", "Shelling/artillery/missile attack", _PV, "state", "rebel",
     False, 0.30, 2.0, "shelled positions of"),
    ("Protests", "Peaceful protest", _DEM, "protesters", "", False, 0.0, 1.0,
     "held a demonstration"),
    ("Riots", "Violent demonstration", _DEM, "rioters", "police", False, 0.05, 1.0,
     "rioted and clashed with"),
    ("Protests", "Excessive force against protesters", _PVD, "police", "protesters", True, 0.30,
     1.5, "used excessive force against"),
    (_SD, "Looting/property destruction", _SD, "rebel", "civilians", False, 0.0, 1.0,
     "looted and destroyed property of"),
    (_SD, "Arrests", _SD, "police", "civilians", False, 0.0, 1.0, "arrested"),
    (_SD, "Headquarters or base established", _SD, "rebel", "", False, 0.0, 1.0,
     "established a base"),
)  # fmt: skip

# event mix of each profile: {template index: weight}
_PROFILE_MIX: tuple[dict[int, float], ...] = (
    {13: 30, 14: 12, 15: 3, 17: 15, 7: 5, 5: 8, 6: 7, 0: 8, 2: 5, 16: 4, 18: 3},  # background
    {0: 30, 1: 6, 3: 6, 4: 5, 5: 14, 8: 6, 11: 8, 12: 7, 16: 6, 18: 4, 9: 3, 7: 5},  # insurgency
    {5: 30, 8: 15, 9: 8, 6: 10, 10: 4, 7: 4, 16: 12, 0: 10, 4: 3, 18: 4},  # predation
    {2: 35, 6: 30, 10: 4, 1: 6, 14: 5, 16: 10, 0: 4, 17: 3, 7: 3},  # communal
)

_INTER = {
    "state": ("State forces", 1),
    "police": ("State forces", 1),
    "rebel": ("Rebel group", 2),
    "militia": ("Identity militia", 4),
    "militia2": ("Identity militia", 4),
    "rioters": ("Rioters", 5),
    "protesters": ("Protesters", 6),
    "civilians": ("Civilians", 7),
    "": ("", 0),
}


def _interaction(k1: str, k2: str) -> str:
    a, ca = _INTER[k1]
    b, cb = _INTER[k2]
    if not b:
        return f"{a} only"
    return f"{a}-{b}" if ca <= cb else f"{b}-{a}"


@dataclass
class _Actors:
    state: str
    police: str
    rebels: list[str]
    ethnic: list[str]  # one per adm1

    def names(self, kind: str, rebel: I64, adm1: I64) -> Str:
        n = len(rebel)
        if kind == "state":
            return np.full(n, self.state)
        if kind == "police":
            return np.full(n, self.police)
        if kind == "rebel":
            return np.asarray(self.rebels, dtype=str)[rebel]
        if kind in ("militia", "militia2"):
            eth = np.asarray([f"{e} Ethnic Militia (Veridia)" for e in self.ethnic], dtype=str)
            shift = 0 if kind == "militia" else 1
            return eth[(adm1 + shift) % len(self.ethnic)]
        if kind == "civilians":
            return np.full(n, "Civilians (Veridia)")
        if kind == "protesters":
            return np.full(n, "Protesters (Veridia)")
        if kind == "rioters":
            return np.full(n, "Rioters (Veridia)")
        return np.full(n, "")


def _make_actors(rng: np.random.Generator, n_adm1: int, names: _Names) -> _Actors:
    patterns = ("{} Liberation Front", "Movement for the Renewal of {}", "{} Patriotic Resistance")
    n_reb = int(rng.integers(2, 4))
    rebels = []
    for i, nm in enumerate(names.make(n_reb)):
        full = patterns[i % len(patterns)].format(nm)
        abbr = "".join(w[0] for w in full.split() if w[0].isupper())
        rebels.append(f"{abbr}: {full}")
    return _Actors(
        state="Military Forces of Veridia (2021-)",
        police="Police Forces of Veridia (2021-)",
        rebels=rebels,
        ethnic=names.make(max(n_adm1, 2), (2, 2)),
    )


@dataclass
class _Incidents:
    frame: pd.DataFrame  # good rows, as written (descending date)
    csv: pd.DataFrame  # with bad rows inserted
    bad_rows: list[dict[str, Any]]


def _incidents(
    rng: np.random.Generator,
    geo: _Geo,
    cells: _Cells,
    sim: _Sim,
    actors: _Actors,
    start: date,
    forecast: date,
) -> _Incidents:
    n = len(sim.ev_week)
    n_t = len(_TEMPLATES)
    mix = np.zeros((len(_PROFILES), n_t))
    for p, weights in enumerate(_PROFILE_MIX):
        for k, v in weights.items():
            mix[p, k] = v
    mix /= mix.sum(1, keepdims=True)
    tmpl = np.zeros(n, dtype=np.int64)
    for p in range(len(_PROFILES)):
        m = sim.ev_profile == p
        tmpl[m] = rng.choice(n_t, size=int(m.sum()), p=mix[p])

    # --- when
    t0 = np.datetime64(start)
    fc = np.datetime64(forecast)
    tp = rng.choice([1, 2, 3], size=n, p=[0.85, 0.12, 0.03])
    day = t0 + 7 * sim.ev_week + rng.integers(0, 7, n)
    wk_mid = t0 + 7 * sim.ev_week + 3
    month15 = day.astype("datetime64[M]").astype("datetime64[D]") + 14
    day = np.where(tp == 2, wk_mid, day)
    ok3 = (tp == 3) & (month15 < fc) & (month15 >= t0)
    tp = np.where((tp == 3) & ~ok3, 2, tp)
    day = np.where(tp == 3, month15, np.where(tp == 2, wk_mid, day))

    # --- where
    gp = rng.choice([1, 2, 3], size=n, p=[0.80, 0.15, 0.05])
    r = 1.2 * np.sqrt(rng.random(n))
    ang = rng.uniform(0, 2 * np.pi, n)
    jx = cells.x[sim.ev_cell] + r * np.cos(ang)
    jy = cells.y[sim.ev_cell] + r * np.sin(ang)
    lon, lat = geo.frame.lonlat(jx, jy)
    lon, lat = np.round(lon, 4), np.round(lat, 4)
    tree = cKDTree(np.column_stack(geo.frame.xy(geo.place_lon, geo.place_lat)))
    _, near_place = tree.query(np.column_stack([jx, jy]))
    near_place = np.asarray(near_place, dtype=np.int64)
    snap = gp == 2  # near a named place: coordinates of that place
    lon = np.where(snap, geo.place_lon[near_place], lon)
    lat = np.where(snap, geo.place_lat[near_place], lat)
    adm = _locate(geo.adm2_geom, lon, lat)
    bad = adm < 0  # jitter left the country: fall back to the cell centre
    lon[bad] = np.round(cells.lon[sim.ev_cell[bad]], 4)
    lat[bad] = np.round(cells.lat[sim.ev_cell[bad]], 4)
    adm[bad] = _locate(geo.adm2_geom, lon[bad], lat[bad])
    still = adm < 0
    adm[still] = cells.adm2[sim.ev_cell[still]]
    admin_only = (gp == 3) | still
    gp = np.where(still, 3, gp)
    adm = np.where(admin_only, cells.adm2[sim.ev_cell], adm)
    lon = np.where(admin_only, geo.adm2_point[adm, 0], lon)
    lat = np.where(admin_only, geo.adm2_point[adm, 1], lat)
    adm2_name = np.asarray(geo.adm2_name, dtype=str)[adm]
    adm1_idx = geo.adm2_parent[adm]
    adm1_name = np.asarray(geo.adm1_name, dtype=str)[adm1_idx]
    location = np.where(admin_only, adm2_name, geo.place_name[near_place])

    # --- who and what
    et = np.array([t[0] for t in _TEMPLATES])[tmpl]
    set_ = np.array([t[1] for t in _TEMPLATES])[tmpl]
    dis = np.array([t[2] for t in _TEMPLATES])[tmpl]
    civ = np.array([t[5] for t in _TEMPLATES])[tmpl]
    inter1 = np.array([_INTER[t[3]][0] for t in _TEMPLATES])[tmpl]
    inter2 = np.array([_INTER[t[4]][0] for t in _TEMPLATES])[tmpl]
    interaction = np.array([_interaction(t[3], t[4]) for t in _TEMPLATES])[tmpl]
    verb = np.array([t[8] for t in _TEMPLATES])[tmpl]
    actor1 = np.full(n, "", dtype=object)
    actor2 = np.full(n, "", dtype=object)
    for k, t in enumerate(_TEMPLATES):
        m = tmpl == k
        if m.any():
            actor1[m] = actors.names(t[3], sim.ev_rebel[m], adm1_idx[m])
            actor2[m] = actors.names(t[4], sim.ev_rebel[m], adm1_idx[m])
    eth_group = np.asarray([f"{e} Ethnic Group (Veridia)" for e in actors.ethnic], dtype=str)
    assoc2 = np.where(
        (actor2 == "Civilians (Veridia)") & (rng.random(n) < 0.35),
        eth_group[adm1_idx % len(actors.ethnic)],
        "",
    )
    assoc1 = np.where((et == "Protests") & (rng.random(n) < 0.3), "Students (Veridia)", "")
    p_fatal = np.array([t[6] for t in _TEMPLATES])[tmpl]
    mean_f = np.array([t[7] for t in _TEMPLATES])[tmpl]
    fat = np.where(rng.random(n) < p_fatal, rng.geometric(1.0 / np.maximum(mean_f, 1.0)), 0)
    massacre = (set_ == "Attack") & (rng.random(n) < 0.01)
    fat = fat + np.where(massacre, rng.poisson(12, n), 0)

    # --- order, ids, text
    order = np.lexsort((rng.random(n), day))
    ids = np.empty(n, dtype=np.int64)
    ids[order] = np.arange(1, n + 1)
    y, m, d = _date_parts(day)
    date_s = _cat(np.strings.zfill(d.astype(str), 2), " ", _MONTHS[m - 1], " ", y.astype(str))
    lag = rng.integers(1, 11, n) * 86400 + rng.integers(0, 86400, n)
    ts = day.astype("datetime64[s]").astype(np.int64) + lag
    ts = np.minimum(ts, np.datetime64(forecast).astype("datetime64[s]").astype(np.int64) - 1)
    a2_txt = np.where(actor2.astype(str) == "", "", _cat(" ", actor2.astype(str)))
    notes = _cat(
        "On ", date_s, ", ", actor1.astype(str), " ", verb, a2_txt, " in ", location, " (",
        adm2_name, ", ", adm1_name, "). [SYNTHETIC event, Veridia is fictional] ",
        _fmt("%d", fat), " fatalities.",
    )  # fmt: skip
    scale_choices = np.array(["Subnational", "National", "Local partner-Subnational",
                              "Other-Subnational", "New media-Subnational"])  # fmt: skip
    src_scale = scale_choices[rng.choice(5, n, p=[0.45, 0.2, 0.2, 0.1, 0.05])]
    tags = np.where(et == "Protests", "crowd size=no report", "")
    df = pd.DataFrame(
        {
            "event_id_cnty": _cat(EVENT_ID_PREFIX, ids.astype(str)),
            "event_date": date_s,
            "year": y,
            "time_precision": tp,
            "disorder_type": dis,
            "event_type": et,
            "sub_event_type": set_,
            "actor1": actor1.astype(str),
            "assoc_actor_1": assoc1,
            "inter1": inter1,
            "actor2": actor2.astype(str),
            "assoc_actor_2": assoc2,
            "inter2": inter2,
            "interaction": interaction,
            "civilian_targeting": np.where(civ, "Civilian targeting", ""),
            "iso": ISO_NUMERIC,
            "region": ACLED_REGION,
            "country": COUNTRY_NAME,
            "admin1": adm1_name,
            "admin2": adm2_name,
            "admin3": "",
            "location": location,
            "latitude": _fmt("%.4f", lat),
            "longitude": _fmt("%.4f", lon),
            "geo_precision": gp,
            "source": SOURCE_NAME,
            "source_scale": src_scale,
            "notes": notes,
            "fatalities": fat,
            "tags": tags,
            "timestamp": ts,
        }
    )
    # ACLED exports list the newest events first
    desc = np.lexsort((-ids, -day.astype(np.int64)))
    df = df.iloc[desc].reset_index(drop=True)
    csv, bad_rows = _insert_bad_rows(rng, df, n)
    return _Incidents(frame=df, csv=csv, bad_rows=bad_rows)


def _insert_bad_rows(
    rng: np.random.Generator, df: pd.DataFrame, n_ids: int
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Insert the kinds of broken rows a real export can have, at known positions."""
    n = len(df)
    problems = [
        ("unparseable_date", "event_date cannot be parsed ('31 Febtober ...')"),
        ("missing_date", "event_date is empty"),
        ("latitude_out_of_range", "latitude outside [-90, 90]"),
        ("outside_country", "point far outside the country"),
        ("duplicate_id", "duplicate event_id_cnty (repeats an earlier row)"),
        ("lat_lon_swapped", "latitude and longitude swapped"),
    ]
    lo = min(5, max(n - 1, 0))
    pos = np.sort(rng.choice(np.arange(lo, max(n, lo + len(problems))), len(problems),
                             replace=False))  # fmt: skip
    rng_order = rng.permutation(len(problems))
    src = rng.choice(max(n, 1), len(problems), replace=False)
    bad_rows: list[dict[str, Any]] = []
    inserted: list[tuple[int, pd.DataFrame, str, str]] = []
    next_id = n_ids + 1
    for slot, j in zip(pos, rng_order, strict=True):
        code, text = problems[int(j)]
        if code == "duplicate_id":
            s = int(rng.integers(0, max(int(slot), 1)))  # an earlier row: the copy comes later
        else:
            s = int(src[int(j)])
        row = df.iloc[[s]].copy()
        if code != "duplicate_id":
            row["event_id_cnty"] = f"{EVENT_ID_PREFIX}{next_id}"
            next_id += 1
        if code == "unparseable_date":
            row["event_date"] = f"31 Febtober {int(row['year'].iloc[0])}"
        elif code == "missing_date":
            row["event_date"] = ""
        elif code == "latitude_out_of_range":
            row["latitude"] = f"{float(rng.uniform(91, 130)):.4f}"
        elif code == "outside_country":
            row["latitude"] = f"{float(rng.uniform(-30, -20)):.4f}"
            row["longitude"] = f"{float(rng.uniform(5, 12)):.4f}"
        elif code == "lat_lon_swapped":
            la, lo_ = row["latitude"].iloc[0], row["longitude"].iloc[0]
            row["latitude"], row["longitude"] = lo_, la
        inserted.append((int(slot), row, code, text))
    out_parts: list[pd.DataFrame] = []
    prev = 0
    for k, (slot, row, code, text) in enumerate(inserted):
        out_parts.append(df.iloc[prev:slot])
        out_parts.append(row)
        prev = slot
        # spreadsheet row: header is row 1; `slot` good rows and k bad rows come before it
        bad_rows.append(
            {"file": "incidents_acled.csv", "row": slot + k + 2, "problem": code,
             "description": text}
        )  # fmt: skip
    out_parts.append(df.iloc[prev:])
    return pd.concat(out_parts, ignore_index=True), bad_rows


# ============================================================================================
# Access restrictions
# ============================================================================================


@dataclass
class _Restriction:
    rid: str
    geom: BaseGeometry  # as published (Point, LineString or Polygon), degrees
    area: BaseGeometry  # polygon actually closed (points and lines buffered), degrees
    start: date
    end: date | None
    cause: str
    severity: str
    radius_km: float | None
    buffer_km: float | None
    description: str


def _roads(rng: np.random.Generator, geo: _Geo) -> list[LineString]:
    """A road network (km coordinates): spanning tree between towns plus a few links."""
    tx, ty = geo.frame.xy(geo.town_lon, geo.town_lat)
    d = np.hypot(tx[:, None] - tx[None], ty[:, None] - ty[None])
    mst = minimum_spanning_tree(sp.csr_matrix(d)).tocoo()
    pairs = zip(mst.row.tolist(), mst.col.tolist(), strict=True)
    edges = {(min(i, j), max(i, j)) for i, j in pairs}
    second = np.argsort(d, axis=1)[:, 2]
    for i, j in enumerate(second.tolist()):
        edges.add((min(i, j), max(i, j)))
    country_km = geo.frame.to_km(geo.country)
    roads = []
    for i, j in sorted(edges):
        f = np.linspace(0, 1, 7)
        px = tx[i] + f * (tx[j] - tx[i])
        py = ty[i] + f * (ty[j] - ty[i])
        length = float(d[i, j])
        nx, ny = -(ty[j] - ty[i]) / max(length, 1e-9), (tx[j] - tx[i]) / max(length, 1e-9)
        off = rng.normal(0, 0.05 * length, 7) * np.sin(np.pi * f)
        line = LineString(np.column_stack([px + off * nx, py + off * ny]))
        clipped = shapely.intersection(line, country_km)
        parts = [p for p in shapely.get_parts(clipped) if isinstance(p, LineString)]
        if parts:
            roads.append(max(parts, key=lambda p: p.length))
    return roads


def _restrictions(
    rng: np.random.Generator,
    geo: _Geo,
    hot: list[_Hotspot],
    flares: list[_Hotspot],
    start: date,
    weeks: int,
) -> list[_Restriction]:
    frame = geo.frame
    forecast = start + timedelta(days=7 * weeks)
    T = weeks + 1
    country = geo.country
    out: list[dict[str, Any]] = []

    def wdate(w: int, plus: int = 0) -> date:
        return start + timedelta(days=7 * w + plus)

    def add(
        geom_deg: BaseGeometry,
        area_deg: BaseGeometry,
        sw: int,
        ew: int | None,
        cause: str,
        sev: str,
        radius: float | None,
        buf: float | None,
        desc: str,
    ) -> None:
        if sw >= weeks or sw < 0:
            return
        s = wdate(sw, int(rng.integers(0, 5)))
        e = None if ew is None else wdate(ew, int(rng.integers(0, 7)))
        if e is not None and e >= forecast:
            e = None  # not lifted yet when the data were exported
        area = shapely.intersection(area_deg, country)
        if area.is_empty:
            return
        out.append(dict(geom=geom_deg, area=area, start=s, end=e, cause=cause, severity=sev,
                        radius_km=radius, buffer_km=buf, description=desc))  # fmt: skip

    def clip_poly(p: Polygon) -> BaseGeometry:
        g = shapely.intersection(p, country)
        polys = [q for q in shapely.get_parts(g) if isinstance(q, Polygon)]
        return max(polys, key=lambda q: q.area) if polys else g

    # armed-group areas around persistent hotspots
    for k, h in enumerate(hot):
        n_ep = int(rng.integers(1, 4))
        lo, hi = h.start_w, min(h.end_w, T - 2)
        if hi - lo < 10:
            continue
        starts = np.sort(rng.integers(lo, hi, n_ep))
        for e_i, sw in enumerate(starts.tolist()):
            open_ended = k < 2 and e_i == n_ep - 1
            if open_ended:
                sw = max(lo, T - 1 - int(rng.integers(12, 30)))
            dur = int(rng.integers(8, 31))
            cx, cy = h.centre(sw, T)
            lon_c, lat_c = frame.lonlat(cx, cy)
            poly = clip_poly(_blob(rng, frame, float(lon_c), float(lat_c),
                                   h.sigma_km * rng.uniform(1.1, 1.5)))  # fmt: skip
            sev = "high" if k == 0 else str(rng.choice(["medium", "high"]))
            add(
                poly,
                poly,
                sw,
                None if open_ended else sw + dur,
                "armed_group",
                sev,
                None,
                None,
                f"SYNTHETIC: armed group presence around {h.name}; movement only with escort",
            )
    # insecurity after flare-ups
    for f in flares:
        if rng.random() < 0.5 or f.start_w + 1 >= weeks:
            continue
        lon_c, lat_c = frame.lonlat(f.x0, f.y0)
        poly = clip_poly(_blob(rng, frame, float(lon_c), float(lat_c), f.sigma_km * 1.5))
        add(
            poly,
            poly,
            f.start_w + 1,
            f.end_w + 2,
            "insecurity",
            "high",
            None,
            None,
            f"SYNTHETIC: insecurity after violence near {f.name}",
        )
    # host-government denials
    n_den = int(rng.integers(2, 4))
    for i in range(n_den):
        lon_c, lat_c = _sample_in(rng, country, 1)
        poly = clip_poly(_blob(rng, frame, float(lon_c[0]), float(lat_c[0]),
                               rng.uniform(12, 25)))  # fmt: skip
        if i == 0:
            sw, ew = T - 1 - int(rng.integers(5, 15)), None
        else:
            sw = int(rng.integers(0, max(weeks - 5, 1)))
            ew = sw + int(rng.integers(4, 27))
        add(
            poly,
            poly,
            sw,
            ew,
            "government_denial",
            str(rng.choice(["medium", "high"])),
            None,
            None,
            "SYNTHETIC: host authorities denied movement clearance for this area",
        )
    # roads cut by rain, every wet season (June to mid-October)
    roads = _roads(rng, geo)
    if roads:
        for year in range(start.year, forecast.year + 1):
            s0 = -((start - date(year, 6, 1)).days // 7)  # first week starting in June
            s1 = (date(year, 10, 1) - start).days // 7
            if s1 < 0 or s0 >= weeks:
                continue
            for _ in range(int(rng.integers(2, 5)) + len(roads) // 6):
                road = roads[int(rng.integers(0, len(roads)))]
                a = rng.uniform(0, 0.6)
                b = min(1.0, a + rng.uniform(0.15, 0.4))
                seg = substring(road, a, b, normalized=True)
                if not isinstance(seg, LineString) or seg.length < 1:
                    continue
                buf = float(np.round(rng.uniform(2, 5), 1))
                sw = int(rng.integers(max(s0, 0), max(min(s1, weeks - 1), max(s0, 0)) + 1))
                line = shapely.set_precision(frame.to_deg(seg), 1e-5)
                area = frame.to_deg(seg.buffer(buf))
                add(
                    line,
                    area,
                    sw,
                    sw + int(rng.integers(3, 11)),
                    "terrain_weather",
                    str(rng.choice(["medium", "high"])),
                    None,
                    buf,
                    "SYNTHETIC: road cut by rain and flooding, impassable for vehicles",
                )
        # armed-group checkpoints on roads near hotspots
        n_cp = 2 * len(hot) + 4
        for i in range(n_cp):
            h = hot[int(rng.integers(0, len(hot)))]
            cand = [r.interpolate(rng.uniform(0, r.length)) for r in roads]
            dist = [math.hypot(p.x - h.x0, p.y - h.y0) for p in cand]
            p = cand[int(np.argmin(dist))]
            lon_c, lat_c = frame.lonlat(p.x, p.y)
            radius = float(np.round(rng.uniform(2, 8), 1))
            pt = Point(round(float(lon_c), 5), round(float(lat_c), 5))
            area = frame.to_deg(Point(p.x, p.y).buffer(radius))
            if i == 0:
                sw, ew = T - 1 - int(rng.integers(2, 8)), None
            else:
                sw = int(rng.integers(0, max(weeks - 2, 1)))
                ew = sw + int(rng.integers(2, 21))
            add(
                pt,
                area,
                sw,
                ew,
                "armed_group",
                str(rng.choice(["low", "medium"])),
                radius,
                None,
                "SYNTHETIC: armed-group checkpoint levying passage fees",
            )
    order = sorted(range(len(out)), key=lambda i: (out[i]["start"], i))
    return [_Restriction(rid=f"AR-{j + 1:04d}", **out[i]) for j, i in enumerate(order)]


def _in_force(r: _Restriction, day: date) -> bool:
    return r.start <= day and (r.end is None or r.end >= day)


# ============================================================================================
# Consultations (KoBo export)
# ============================================================================================


@dataclass
class _Engagement:
    frame: pd.DataFrame
    never: list[int]
    under_designated: list[int]
    no_women: list[int]
    no_youth: list[int]
    week: I64
    adm2: I64
    alert: Bool  # early-warning alerts (sent by communities, not visits by the mission)


def _consultations(
    rng: np.random.Generator,
    geo: _Geo,
    cells: _Cells,
    bases: _Bases,
    hot: list[_Hotspot],
    sim: _Sim,
    restr: list[_Restriction],
    start: date,
    weeks: int,
) -> _Engagement:
    n_adm2 = len(geo.adm2_pcode)
    n_cells = len(cells.h3)
    frame = geo.frame
    bx, by = frame.xy(bases.lon, bases.lat)
    d_cb = np.sqrt((cells.x[:, None] - bx[None]) ** 2 + (cells.y[:, None] - by[None]) ** 2)
    # units: never engaged (farthest from bases, no hotspot), under-engaged (remote hotspot)
    px, py = frame.xy(geo.adm2_point[:, 0], geo.adm2_point[:, 1])
    d_unit = np.sqrt((px[:, None] - bx[None]) ** 2 + (py[:, None] - by[None]) ** 2).min(1)
    hot_units = {int(cells.adm2[h.cell]) for h in hot}
    under = [int(cells.adm2[hot[0].cell])]
    cand = [int(i) for i in np.argsort(-d_unit, kind="stable") if int(i) not in hot_units]
    n_never = 3 if n_adm2 >= 30 else (2 if n_adm2 >= 8 else 1)
    never = sorted(cand[:n_never])
    factor = np.ones(n_adm2)
    factor[never] = 0.0
    factor[under] = 0.04
    base_w = np.sqrt(cells.pop + 1.0) * factor[cells.adm2]
    probs = base_w[:, None] * np.exp(-d_cb / _ENGAGE_DECAY_KM) * (d_cb < 250)
    probs /= np.maximum(probs.sum(0, keepdims=True), 1e-300)
    active_w = np.clip(np.minimum(bases.close_w, weeks) - bases.open_w, 0, None)
    exp_n = _CONSULTATIONS_PER_STAFF_WEEK * bases.staff * active_w
    exp_unit = np.bincount(cells.adm2, weights=probs @ exp_n, minlength=n_adm2)

    # designated units where no women / no youth take part (well consulted otherwise)
    pool = [int(i) for i in np.argsort(-exp_unit, kind="stable")
            if exp_unit[i] >= 8 and int(i) not in never and int(i) not in under]  # fmt: skip
    pool = [pool[int(i)] for i in rng.permutation(len(pool))]
    n_des = 3 if n_adm2 >= 20 else 1
    no_women = sorted(pool[:n_des])
    no_youth = sorted(pool[n_des : 2 * n_des])

    wk_l: list[I64] = []
    cell_l: list[I64] = []
    base_l: list[I64] = []
    mod_l: list[I64] = []
    mod_p = np.array([0.40, 0.20, 0.14, 0.04, 0.10, 0.12])
    for b in range(len(bases.name)):
        wks = np.arange(bases.open_w[b], min(bases.close_w[b], weeks))
        if len(wks) == 0:
            continue
        nb = int(rng.poisson(exp_n[b]))
        wk_l.append(rng.choice(wks, nb))
        cell_l.append(rng.choice(n_cells, nb, p=probs[:, b]))
        base_l.append(np.full(nb, b, dtype=np.int64))
        mod_l.append(rng.choice(len(KOBO_MODALITIES), nb, p=mod_p))
    # early-warning alerts rise where flare-ups start (a leading signal)
    ew_idx = KOBO_MODALITIES.index("early_warning_alert")
    alert_ok = factor[cells.adm2] > 0
    for f in sim.flares:
        d2 = (cells.x - f.x0) ** 2 + (cells.y - f.y0) ** 2
        w = np.where((d2 < (1.5 * f.sigma_km) ** 2) & alert_ok, np.sqrt(cells.pop + 1.0), 0.0)
        if w.sum() <= 0:
            continue
        wks_a = np.arange(f.start_w - 2, f.end_w + 1)
        lam_a = np.where(wks_a < f.start_w, 2.0, 1.5)
        keep = (wks_a >= 0) & (wks_a < weeks)
        na = rng.poisson(lam_a[keep])
        wk = np.repeat(wks_a[keep], na)
        nb = len(wk)
        c = rng.choice(n_cells, nb, p=w / w.sum())
        wk_l.append(wk)
        cell_l.append(c)
        base_l.append(d_cb[c].argmin(1) if nb else np.zeros(0, dtype=np.int64))
        mod_l.append(np.full(nb, ew_idx, dtype=np.int64))
    wk = np.concatenate(wk_l).astype(np.int64)
    cell = np.concatenate(cell_l).astype(np.int64)
    base = np.concatenate(base_l).astype(np.int64)
    mod = np.concatenate(mod_l).astype(np.int64)
    n = len(wk)

    # --- place and day
    r = 0.8 * np.sqrt(rng.random(n))
    ang = rng.uniform(0, 2 * np.pi, n)
    lon, lat = frame.lonlat(cells.x[cell] + r * np.cos(ang), cells.y[cell] + r * np.sin(ang))
    lon, lat = np.round(lon, 6), np.round(lat, 6)
    adm = _locate(geo.adm2_geom, lon, lat)
    off = adm < 0
    lon[off], lat[off] = np.round(cells.lon[cell[off]], 6), np.round(cells.lat[cell[off]], 6)
    adm[off] = cells.adm2[cell[off]]
    # units designated never-engaged stay so even when a point strays over the border
    stray = factor[adm] == 0
    lon[stray] = np.round(cells.lon[cell[stray]], 6)
    lat[stray] = np.round(cells.lat[cell[stray]], 6)
    adm[stray] = cells.adm2[cell[stray]]
    t0 = np.datetime64(start)
    meet = t0 + 7 * wk + rng.integers(0, 6, n)

    # access restrictions stop most in-person engagement
    in_person = np.isin(mod, [0, 1, 2])
    drop = np.zeros(n, dtype=bool)
    sev_p = {"low": 0.3, "medium": 0.6, "high": 0.9}
    for rr in restr:
        s = np.datetime64(rr.start)
        e = np.datetime64(rr.end) if rr.end is not None else t0 + 7 * weeks
        m = in_person & (meet >= s) & (meet <= e)
        if not m.any():
            continue
        idx = np.flatnonzero(m)
        inside = shapely.contains_xy(rr.area, lon[idx], lat[idx])
        drop[idx[inside]] |= rng.random(int(inside.sum())) < sev_p[rr.severity]
    keep = ~drop

    # --- times: filled on "today" (same day or a little later), submitted later (UTC)
    today = meet + rng.choice([0, 1, 2, 3], n, p=[0.7, 0.2, 0.07, 0.03])
    start_ms = today.astype("datetime64[ms]") + rng.integers(7 * 3600, 16 * 3600, n) * 1000
    start_ms = start_ms + rng.integers(0, 1000, n)
    end_ms = start_ms + rng.integers(15 * 60, 120 * 60, n) * 1000 + rng.integers(0, 1000, n)
    sub = (end_ms.astype("datetime64[s]") - UTC_OFFSET_HOURS * 3600
           + (rng.exponential(30.0, n) * 3600).astype(np.int64))  # fmt: skip
    fc = np.datetime64(start + timedelta(days=7 * weeks))
    keep &= (sub < fc.astype("datetime64[s]")) & (today < fc)
    ix = np.flatnonzero(keep)
    ix = ix[np.lexsort((rng.random(len(ix)), sub[ix]))]
    wk, cell, base, mod, adm = wk[ix], cell[ix], base[ix], mod[ix], adm[ix]
    lon, lat = lon[ix], lat[ix]
    meet, today, sub = meet[ix], today[ix], sub[ix]
    start_ms, end_ms = start_ms[ix], end_ms[ix]
    n = len(ix)

    # --- who took part
    mean_p = np.array([35.0, 18.0, 60.0, 2.0, 120.0, 8.0])
    total = np.maximum(1, np.round(rng.lognormal(np.log(mean_p[mod]), 0.5))).astype(np.int64)
    total = np.where(mod == ew_idx, 1 + rng.poisson(1.0, n), total)
    w_share = rng.beta(5, 7, n_adm2)
    y_share = rng.beta(3, 7, n_adm2)
    w_share[no_women] = 0.0
    y_share[no_youth] = 0.0
    women = rng.binomial(total, w_share[adm])
    youth = rng.binomial(total, y_share[adm])
    radio = mod == KOBO_MODALITIES.index("radio_outreach")
    women_s = np.where(radio, "", women.astype(str))
    youth_s = np.where(radio, "", youth.astype(str))

    # --- what was said
    lam = sim.lam[wk, cell].astype(float)
    risk = 1.0 - np.exp(-lam * 25.0)
    topics = np.column_stack(
        [
            rng.random(n) < 0.3 + 0.6 * risk,
            rng.random(n) < 0.15 + 0.4 * risk,
            rng.random(n) < 0.4,
            rng.random(n) < 0.2,
            rng.random(n) < 0.2,
        ]
    )
    topics[~topics.any(1), 2] = True
    topic_s = np.full(n, "", dtype=str)
    for j, tname in enumerate(KOBO_TOPICS):
        topic_s = _cat(topic_s, np.where(topics[:, j], tname + " ", ""))
    topic_s = np.strings.strip(topic_s)
    score = np.clip(np.round(4.4 - 2.6 * risk + rng.normal(0, 0.6, n)), 1, 5).astype(np.int64)
    no_score = (mod == ew_idx) | radio
    score_s = np.where(no_score, "", score.astype(str))
    meeting_like = np.isin(mod, [0, 1, 2])
    made = meeting_like & (rng.random(n) < 0.35)
    follow = np.array(["none", "pending", "done"])[rng.choice(3, n, p=[0.25, 0.4, 0.35])]
    follow_s = np.where(made, follow, "")

    # --- GPS (SMS alerts rarely carry one)
    no_gps = rng.random(n) < np.where(mod == ew_idx, 0.4, 0.06)
    xk, yk = frame.xy(lon, lat)
    alt = np.round(520 + 140 * np.sin(xk / 80.0) + 110 * np.cos(yk / 60.0)
                   + rng.normal(0, 4, n), 1)  # fmt: skip
    prec = np.round(rng.uniform(3, 25, n), 1)
    lat_s, lon_s = _fmt("%.6f", lat), _fmt("%.6f", lon)
    alt_s, prec_s = _fmt("%.1f", alt), _fmt("%.1f", prec)
    gps = _cat(lat_s, " ", lon_s, " ", alt_s, " ", prec_s)

    def blank(a: Str) -> Str:
        return np.where(no_gps, "", a)

    staff_no = rng.integers(0, 3, n)
    fac_no = base * 3 + staff_no + 1
    base_names = np.asarray(bases.name, dtype=str)
    ids = 31_000_000 + np.cumsum(rng.integers(1, 40, n))
    tz = f"+{UTC_OFFSET_HOURS:02d}:00"
    df = pd.DataFrame(
        {
            "start": _cat(np.datetime_as_string(start_ms, unit="ms"), tz),
            "end": _cat(np.datetime_as_string(end_ms, unit="ms"), tz),
            "today": np.datetime_as_string(today, unit="D"),
            "meeting/meeting_date": np.datetime_as_string(meet, unit="D"),
            "meeting/modality": np.asarray(KOBO_MODALITIES)[mod],
            "meeting/base": base_names[base],
            "location/admin2": np.asarray(geo.adm2_pcode)[adm],
            "location/gps": blank(gps),
            "_location/gps_latitude": blank(lat_s),
            "_location/gps_longitude": blank(lon_s),
            "_location/gps_altitude": blank(alt_s),
            "_location/gps_precision": blank(prec_s),
            "participants/total": total,
            "participants/women": women_s,
            "participants/youth": youth_s,
            "topics": topic_s,
            **{f"topics/{t}": topics[:, j].astype(np.int64) for j, t in enumerate(KOBO_TOPICS)},
            "safety_score": score_s,
            "commitments/made": np.where(made, "yes", "no"),
            "commitments/follow_up": follow_s,
            "facilitator_name": _cat("FAKE Facilitator ", _fmt("%02d", fac_no)),
            "facilitator_phone": _cat("+000 555 01", _fmt("%02d", fac_no)),
            "notes": np.full(n, "SYNTHETIC test note: no real person or conversation"),
            "_id": ids,
            "_uuid": _uuid4(rng, n),
            "_submission_time": np.datetime_as_string(sub, unit="s"),
            "_index": np.arange(1, n + 1),
        }
    )
    return _Engagement(
        frame=df,
        never=never,
        under_designated=under,
        no_women=no_women,
        no_youth=no_youth,
        week=wk,
        adm2=adm,
        alert=mod == ew_idx,
    )


# ============================================================================================
# Writers
# ============================================================================================


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


def _write_population(path: Path, ras: _Raster) -> None:
    h, w = ras.data.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=h,
        width=w,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=ras.transform,
        nodata=POP_NODATA,
        compress="deflate",
        predictor=3,
        tiled=True,
        blockxsize=256,
        blockysize=256,
    ) as dst:
        dst.write(ras.data, 1)
        dst.update_tags(
            DESCRIPTION="SYNTHETIC population of fictional Veridia (people per pixel)",
            UNITS="people per pixel",
        )
        dst.set_band_description(1, "SYNTHETIC population count")


def _write_restrictions(path: Path, restr: list[_Restriction]) -> None:
    feats = []
    for r in restr:
        geom = shapely.geometry.mapping(_round_geom(r.geom, 5))
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "restriction_id": r.rid,
                    "start_date": r.start.isoformat(),
                    "end_date": _iso(r.end),
                    "cause": r.cause,
                    "severity": r.severity,
                    "radius_km": r.radius_km,
                    "buffer_km": r.buffer_km,
                    "description": r.description,
                },
                "geometry": json.loads(json.dumps(geom)),
            }
        )
    fc = {"type": "FeatureCollection", "name": "access_restrictions (SYNTHETIC)", "features": feats}
    path.write_text(json.dumps(fc, separators=(",", ":")) + "\n", encoding="utf-8")


def _write_bases(path: Path, bases: _Bases) -> None:
    df = pd.DataFrame(
        {
            "base_name": bases.name,
            "lon": _fmt("%.4f", bases.lon),
            "lat": _fmt("%.4f", bases.lat),
            "open_date": [_iso(d) or "" for d in bases.open_date],
            "close_date": [_iso(d) or "" for d in bases.close_date],
            "liaison_staff": bases.staff,
        }
    )
    df.to_csv(path, index=False, lineterminator="\n")


def _config_text(forecast: date, res: int) -> str:
    return f"""# geo-risk configuration for the SYNTHETIC Veridia scenario (fictional country)
title = "Veridia weekly risk (SYNTHETIC scenario)"
synthetic = true
h3_resolution = {res}
forecast_week = "{forecast.isoformat()}"

[boundaries]
path = "boundaries.gpkg"
layer = "adm2"
pcode_column = "ADM2_PCODE"
name_column = "ADM2_EN"
parent_pcode_column = "ADM1_PCODE"

[[incidents]]
path = "incidents_acled.csv"
format = "acled"

[[consultations]]
path = "consultations_kobo.csv"
format = "kobo"

[[access_restrictions]]
path = "access_restrictions.geojson"
stale_after_days = 60   # the restriction log changes about monthly

[population]
path = "population.tif"

[bases]
path = "bases.csv"
"""


def _readme_text(seed: int, forecast: date, files: dict[str, str], kobo_sep: str) -> str:
    sep_name = {";": "semicolon", ",": "comma", "\t": "tab"}.get(kobo_sep, repr(kobo_sep))
    lines = [
        "SYNTHETIC DATA: everything in this folder is invented. Veridia is a fictional country;"
        " no event, place, person or number here is real.",
        "",
        f"Generated by geo-risk (geo_risk.synth) with seed {seed}. The forecast week starts on"
        f" {forecast.isoformat()}; the data files hold only data dated before it, the truth files"
        " hold what happened in it.",
        "",
        "Files:",
    ]
    lines += [f"  {k:<30} {v}" for k, v in files.items()]
    lines += [
        "",
        f"The KoBo export is {sep_name}-separated, like KoBoToolbox's own CSV exports.",
        "Deliberately bad rows in the ACLED file are listed in truth.json (bad_rows).",
        "",
        "truth.json keys:",
        "  hotspots                    persistent hotspots (position in the forecast week, radius"
        " = Gaussian sigma in km, active_to null = still active) and every flare-up (onset = it"
        " started where nothing happened in the past year)",
        "  hotspot_admin_pcodes        units holding the centre of a hotspot or flare-up active"
        " in the forecast week",
        "  under_engaged_admin_pcodes  high-risk units the mission rarely visited in the last year"
        " (early-warning alerts not counted), including the one deliberately neglected",
        "  never_engaged_admin_pcodes  units with no engagement record at all",
        "  no_women_admin_pcodes       units where no women took part (no_youth_...: no youth)",
        "  restricted_admin_pcodes     units at least 25% covered by restrictions in force in the"
        " forecast week",
        "",
    ]
    return "\n".join(lines)


_FILE_NOTES = {
    "boundaries.gpkg": "COD-AB style admin boundaries (layers adm0, adm1, adm2; P-codes XV..).",
    "incidents_acled.csv": "ACLED-style event export (current lowercase columns), with a few "
    "deliberately bad rows.",
    "consultations_kobo.csv": "KoBoToolbox CSV export of a community-engagement form "
    "(personal fields filled with fake values).",
    "access_restrictions.geojson": "Access restrictions: areas, road cuts (lines with buffer_km) "
    "and checkpoints (points with radius_km).",
    "population.tif": "WorldPop-style population raster, 30 arc-seconds, people per pixel.",
    "bases.csv": "Mission bases / team sites with community liaison staff.",
    "scenario.toml": "geo-risk configuration pointing at these files.",
    "truth.json": "Ground truth: hotspots, designated engagement gaps, bad rows, counts.",
    "truth_cells.parquet": "Per H3 cell: true intensity and simulated events in the forecast "
    "week (not in the CSV).",
    "README.txt": "This file.",
}


# ============================================================================================
# Entry point
# ============================================================================================


def _validate(spec: ScenarioSpec) -> date:
    try:
        start = date.fromisoformat(spec.start)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"scenario start {spec.start!r} is not a YYYY-MM-DD date") from exc
    if start.weekday() != 0:
        raise ConfigError(f"scenario start {spec.start} must be a Monday")
    if spec.weeks < 8:
        raise ConfigError(f"scenario weeks must be at least 8, got {spec.weeks}")
    if len(spec.bbox) != 4:
        raise ConfigError("scenario bbox must be (lon_min, lat_min, lon_max, lat_max)")
    lon_min, lat_min, lon_max, lat_max = spec.bbox
    if not (-180 <= lon_min < lon_max <= 180 and -75 <= lat_min < lat_max <= 75):
        raise ConfigError(f"scenario bbox {spec.bbox} is not a valid lon/lat box")
    if lon_max - lon_min < 0.5 or lat_max - lat_min < 0.5:
        raise ConfigError("scenario bbox must be at least 0.5 degrees on each side")
    if (lon_max - lon_min) * (lat_max - lat_min) > 150:
        raise ConfigError("scenario bbox is too large (more than 150 square degrees)")
    if spec.n_adm1 < 1 or spec.n_adm2 < max(spec.n_adm1, 2):
        raise ConfigError("need n_adm1 >= 1 and n_adm2 >= max(n_adm1, 2)")
    if spec.n_bases < 1:
        raise ConfigError("need at least one base")
    if not 4 <= spec.h3_resolution <= 9:
        raise ConfigError("h3_resolution must be between 4 and 9")
    if not spec.incident_scale > 0 or not spec.population_total > 0:
        raise ConfigError("incident_scale and population_total must be positive")
    if len(spec.kobo_delimiter) != 1 or spec.kobo_delimiter in '"\n\r':
        raise ConfigError("kobo_delimiter must be one character (not a quote or newline)")
    return start


def generate_scenario(
    *, out_dir: str | Path, seed: int = 42, spec: ScenarioSpec | None = None
) -> ScenarioFiles:
    """Write a complete synthetic scenario for the fictional country Veridia.

    Parameters
    ----------
    out_dir : str or Path
        Directory to write into (created if missing; files of the same names are replaced).
    seed : int
        Seed of every random draw. The same seed and spec give byte-identical CSV, GeoJSON and
        JSON files.
    spec : ScenarioSpec, optional
        What to generate; defaults to ``ScenarioSpec()`` (260 weeks, ~25k incidents).

    Returns
    -------
    ScenarioFiles
        Paths of the files written, the forecast week and headline counts.

    Raises
    ------
    ConfigError
        If the spec is invalid (start not a Monday, bbox too small, ...).
    """
    spec = spec or ScenarioSpec()
    start = _validate(spec)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weeks = spec.weeks
    T = weeks + 1
    forecast = start + timedelta(days=7 * weeks)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
    names = _Names(streams[0])

    geo = _build_geography(streams[1], spec, names)
    _place_towns(streams[2], geo, max(10, spec.n_adm2 // 2 + 4), names)
    ras = _population(streams[2], geo, spec)
    _place_villages(streams[2], geo, ras, 6 * spec.n_adm2, names)
    cells = _build_cells(geo, ras, spec.h3_resolution)
    bases = _place_bases(streams[3], geo, spec, start)
    actors = _make_actors(streams[4], spec.n_adm1, names)
    hot = _persistent_hotspots(
        streams[4], geo, cells, bases, T, spec.incident_scale, len(actors.rebels), names
    )
    sim = _simulate(
        streams[5], cells, hot, T, start, spec.incident_scale, len(actors.rebels), names
    )
    inc = _incidents(streams[6], geo, cells, sim, actors, start, forecast)
    restr = _restrictions(streams[7], geo, hot, sim.flares, start, weeks)
    eng = _consultations(streams[8], geo, cells, bases, hot, sim, restr, start, weeks)

    paths = {
        "boundaries": out / "boundaries.gpkg",
        "incidents": out / "incidents_acled.csv",
        "consultations": out / "consultations_kobo.csv",
        "access_restrictions": out / "access_restrictions.geojson",
        "population": out / "population.tif",
        "bases": out / "bases.csv",
        "truth": out / "truth.json",
        "truth_cells": out / "truth_cells.parquet",
        "config": out / "scenario.toml",
        "readme": out / "README.txt",
    }
    _write_boundaries(paths["boundaries"], geo)
    inc.csv.to_csv(paths["incidents"], index=False, lineterminator="\n")
    eng.frame.to_csv(
        paths["consultations"], index=False, lineterminator="\n", sep=spec.kobo_delimiter
    )
    _write_restrictions(paths["access_restrictions"], restr)
    _write_population(paths["population"], ras)
    _write_bases(paths["bases"], bases)

    # --- truth
    adm2_pcode = np.asarray(geo.adm2_pcode, dtype=str)
    pq.write_table(
        pa.table(
            {
                "cell": pa.array(np.asarray(h3ronpy.cells_to_string(cells.h3), dtype=str)),
                "expected_forecast_week": pa.array(sim.lam[T - 1].astype(np.float64)),
                "observed_forecast_week": pa.array(sim.counts[T - 1].astype(np.int32)),
                "admin_pcode": pa.array(adm2_pcode[cells.adm2]),
            }
        ),
        paths["truth_cells"],
    )
    hist_counts = sim.counts[: T - 1]
    base_rate = float((hist_counts > 0).mean())
    truth = _truth(seed, spec, geo, cells, sim, hot, bases, restr, eng, inc, forecast, base_rate)
    paths["truth"].write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    paths["config"].write_text(_config_text(forecast, spec.h3_resolution), encoding="utf-8")
    paths["readme"].write_text(
        _readme_text(seed, forecast, _FILE_NOTES, spec.kobo_delimiter), encoding="utf-8"
    )
    return ScenarioFiles(
        out_dir=out,
        boundaries=paths["boundaries"],
        incidents=paths["incidents"],
        consultations=paths["consultations"],
        access_restrictions=paths["access_restrictions"],
        population=paths["population"],
        bases=paths["bases"],
        truth=paths["truth"],
        truth_cells=paths["truth_cells"],
        config=paths["config"],
        readme=paths["readme"],
        forecast_week=forecast,
        seed=seed,
        n_incidents=len(inc.frame),
        n_bad_rows=len(inc.bad_rows),
        n_consultations=len(eng.frame),
        n_restrictions=len(restr),
        n_cells=len(cells.h3),
        weekly_base_rate=base_rate,
    )


def _truth(
    seed: int,
    spec: ScenarioSpec,
    geo: _Geo,
    cells: _Cells,
    sim: _Sim,
    hot: list[_Hotspot],
    bases: _Bases,
    restr: list[_Restriction],
    eng: _Engagement,
    inc: _Incidents,
    forecast: date,
    base_rate: float,
) -> dict[str, Any]:
    T = spec.weeks + 1
    start = date.fromisoformat(spec.start)
    pc = geo.adm2_pcode
    n_adm2 = len(pc)

    def wdate(w: int) -> str:
        return (start + timedelta(days=7 * w)).isoformat()

    def spot(h: _Hotspot) -> dict[str, Any]:
        cx, cy = h.centre(T - 1, T) if h.kind == "persistent" else (h.x0, h.y0)
        lon, lat = geo.frame.lonlat(cx, cy)
        adm = _locate(geo.adm2_geom, np.array([lon]), np.array([lat]))[0]
        adm = int(cells.adm2[h.cell]) if adm < 0 else int(adm)
        d: dict[str, Any] = {
            "name": f"{h.name} ({h.kind})",
            "lon": round(float(lon), 5),
            "lat": round(float(lat), 5),
            "radius_km": h.sigma_km,
            "kind": h.kind,
            "admin_pcode": pc[adm],
            "active_from": wdate(h.start_w),
            "active_to": None if h.end_w >= T - 1 else (
                start + timedelta(days=7 * h.end_w + 6)).isoformat(),
            "profile": _PROFILES[h.profile],
            "expected_per_week": round(h.per_week, 2),
        }  # fmt: skip
        if h.kind == "persistent" and (h.x0, h.y0) != (h.x1, h.y1):
            lo0, la0 = geo.frame.lonlat(h.x0, h.y0)
            d["drift_from"] = [round(float(lo0), 5), round(float(la0), 5)]
        if h.kind == "flare":
            d["onset"] = h.onset
            d["active_to"] = (start + timedelta(days=7 * h.end_w + 6)).isoformat()
        return d

    spots = [spot(h) for h in hot] + [spot(f) for f in sim.flares]
    active = [s for s, h in zip(spots, hot + sim.flares, strict=True) if h.end_w >= T - 1
              and h.start_w <= T - 1 and h.amp[T - 1] > 0]  # fmt: skip
    hotspot_units = sorted({s["admin_pcode"] for s in active})

    # engagement gaps, measured on what was written
    # never engaged: no record at all; under-engaged: few engagements by the mission itself
    # (early-warning alerts come from the communities) in the last year, in a high-risk unit
    cons = np.bincount(eng.adm2, minlength=n_adm2)
    recent = (eng.week >= T - 1 - 52) & ~eng.alert
    cons52 = np.bincount(eng.adm2[recent], minlength=n_adm2)
    risk = np.bincount(cells.adm2, weights=sim.lam[max(0, T - 27) : T - 1].sum(0), minlength=n_adm2)
    high = np.argsort(-risk, kind="stable")[: max(3, n_adm2 // 4)]
    engaged = cons52[cons52 > 0]
    thr = 0.25 * float(np.median(engaged)) if len(engaged) else 0.0
    under = sorted({int(i) for i in high if cons52[i] <= thr} | set(eng.under_designated))
    never = sorted(int(i) for i in np.flatnonzero(cons == 0))

    # restrictions in force in the forecast week covering much of a unit
    active_r = [r for r in restr if _in_force(r, forecast)]
    restricted: list[str] = []
    if active_r:
        union_km = geo.frame.to_km(shapely.union_all([r.area for r in active_r]))
        for i, g in enumerate(geo.adm2_geom):
            gk = geo.frame.to_km(g)
            if shapely.intersection(gk, union_km).area >= 0.25 * gk.area:
                restricted.append(pc[i])

    spec_d = asdict(spec)
    spec_d["bbox"] = list(spec.bbox)
    return {
        "synthetic": True,
        "note": "SYNTHETIC scenario: Veridia is a fictional country; nothing here is real.",
        "seed": seed,
        "spec": spec_d,
        "forecast_week": forecast.isoformat(),
        "hotspots": spots,
        "hotspot_admin_pcodes": hotspot_units,
        "under_engaged_admin_pcodes": [pc[i] for i in under],
        "never_engaged_admin_pcodes": [pc[i] for i in never],
        "no_women_admin_pcodes": [pc[i] for i in eng.no_women],
        "no_youth_admin_pcodes": [pc[i] for i in eng.no_youth],
        "restricted_admin_pcodes": restricted,
        "restrictions_in_force": [r.rid for r in active_r],
        "bad_rows": inc.bad_rows,
        "n_incidents": len(inc.frame),
        "n_consultations": len(eng.frame),
        "n_restrictions": len(restr),
        "n_cells": len(cells.h3),
        "weekly_base_rate": round(base_rate, 6),
        "bases": [
            {"base_name": b, "open_date": _iso(o), "close_date": _iso(c)}
            for b, o, c in zip(bases.name, bases.open_date, bases.close_date, strict=True)
        ],
    }
