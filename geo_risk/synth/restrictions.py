"""SYNTHETIC access restrictions and their GeoJSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from ._common import _blob, _iso, _round_geom, _sample_in
from .boundaries import _Geo
from .conflict import _Hotspot

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
                                   max(h.sigma_km, 20.0) * rng.uniform(1.1, 1.5)))  # fmt: skip
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


