"""The SYNTHETIC conflict process, simulated weekly on H3 cells."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import h3ronpy
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.signal import lfilter
from shapely.geometry import Point

from ._common import F64, I64, _Names
from .bases import _Bases
from .boundaries import _Geo
from .population import _Cells

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


