"""SYNTHETIC mission bases (team sites) and their CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ._common import F64, I64, _fmt, _iso
from .boundaries import _Geo
from .spec import ScenarioSpec


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


def _write_bases(path: Path, bases: _Bases, female: I64 | None = None) -> None:
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
    if female is not None:
        df["female_liaison_staff"] = female
    df.to_csv(path, index=False, lineterminator="\n")


