"""Shared constants and small helpers of the SYNTHETIC scenario generator."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

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

#: Who engaged and the alert log's response fields (geo_risk.synth.alerts), in export order.
OUTREACH_KOBO_COLUMNS = (
    "meeting/component", "alert/alert_type", "alert/received_at", "alert/responded_at",
    "alert/response", "alert/response_base", "alert/sender_phone",
)  # fmt: skip

#: Columns of the KoBo export of the community-engagement form, in export order.
KOBO_COLUMNS = (
    "start", "end", "today", "meeting/meeting_date", "meeting/modality", "meeting/base",
    "location/admin2", "location/gps", "_location/gps_latitude", "_location/gps_longitude",
    "_location/gps_altitude", "_location/gps_precision", "participants/total",
    "participants/women", "participants/youth", "topics",
    *(f"topics/{t}" for t in KOBO_TOPICS),
    "safety_score", "commitments/made", "commitments/follow_up", *OUTREACH_KOBO_COLUMNS,
    "facilitator_name", "facilitator_phone", "notes", "_id", "_uuid", "_submission_time",
    "_index",
)  # fmt: skip

RESTRICTION_CAUSES = ("armed_group", "government_denial", "terrain_weather", "insecurity")

_MONTHS = np.array(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"]
)  # fmt: skip
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


