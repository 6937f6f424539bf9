"""The SYNTHETIC conflict process, simulated weekly on H3 cells."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

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

# --- process parameters (expected *episodes* per week at incident_scale = 1) ----------------
# An episode is one violent incident and what immediately follows it in the same place and week
# (reprisals, looting, arrests): it writes 1 + Poisson(events_per_episode - 1) ACLED rows.
# Calibrated so that, measured at H3 res 6, the default scenario has ~0.1% event cell-weeks and
# the sparse preset ~0.04% (see geo_risk.synth.stats and benchmarks/bench_synth_realism.py).
_REFERENCE_AREA_KM2 = 138_000.0  # country area of the default spec; background and flare
#                                  rates scale with area, towns and conflict zones do not
_TOWN_PER_WEEK = 1.2  # all towns together; the capital takes the largest share
_TOWN_SHARE_POWER = 1.6  # town weight = population share ** this (capital dominates)
_ZONES_PER_WEEK = 1.3  # all conflict zones together, when active
_ZONE_WEIGHTS = (11.0, 9.5, 8.0, 6.5)  # how that is shared between them
_DORMANT_LEVEL = 0.3  # a dormant zone keeps this share of its activity
_ACTIVE_WEEKS, _DORMANT_WEEKS = 60.0, 40.0  # mean length of active / dormant spells
_SITE_SHARE = 0.08  # share of cells that can be sites of violence (villages, markets, roads)
_BACKGROUND_PER_WEEK = 0.12
_FLARES_PER_WEEK = 0.04  # new short-lived sites per week
_FLARE_PEAK = (0.6, 1.6)  # expected episodes per week at the peak of a flare
_EXC_LAGS = np.array([0.45, 0.25, 0.18, 0.12])  # weights of the last 1..4 weeks
_REPORTING = (0.45, 1.15)  # range of the reporting factor of a region (changes over years)
_STORY_WEEKS, _STORY_LEVEL = 20, 2.5  # the remote zone is at least this active (x its mean)
#                                       in the last weeks: the demo's under-engaged unit
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


def _kernel(cells: _Cells, x: float, y: float, sigma: float, mod: F64) -> F64:
    """Spatial weights summing to 1: a Gaussian of ``sigma`` km times ``mod`` (site weights)."""
    d2 = (cells.x - x) ** 2 + (cells.y - y) ** 2
    k = np.where(d2 < 9 * sigma * sigma, np.exp(-d2 / (2 * sigma * sigma)), 0.0) * mod
    tot = k.sum()
    if tot <= 0:  # no site near: the nearest cell takes it all
        k = np.zeros_like(d2)
        k[int(np.argmin(d2))] = 1.0
        tot = 1.0
    return np.asarray(k / tot, dtype=np.float64)


def _spells(rng: np.random.Generator, T: int) -> F64:
    """Activity of a conflict zone by week: active and dormant spells (a two-state Markov chain
    with mean lengths ``_ACTIVE_WEEKS`` / ``_DORMANT_WEEKS``), smoothed over a few weeks, times
    slow log-normal noise; mean 1 over the active weeks."""
    state = np.empty(T)
    on = bool(rng.random() < _ACTIVE_WEEKS / (_ACTIVE_WEEKS + _DORMANT_WEEKS))
    t = 0
    while t < T:
        n = 1 + int(rng.geometric(1.0 / (_ACTIVE_WEEKS if on else _DORMANT_WEEKS)))
        state[t : t + n] = 1.0 if on else _DORMANT_LEVEL
        t += n
        on = not on
    state = lfilter([0.3], [1.0, -0.7], state, zi=[0.7 * state[0]])[0]
    noise = lfilter([1.0], [1.0, -0.9], rng.normal(0, 0.12, T))
    return np.asarray(state * np.exp(noise), dtype=np.float64)


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
    """Conflict zones: a few areas where armed groups operate, active in spells."""
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
    share = np.asarray(_ZONE_WEIGHTS[:k_hot]) / sum(_ZONE_WEIGHTS[:k_hot])
    per_week = _ZONES_PER_WEEK * scale * share
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
        if k in (1, 3):  # drifting zones
            ang = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(20, 40)
            for sign in (1.0, -1.0):
                ex, ey = x0 + sign * dist * math.cos(ang), y0 + sign * dist * math.sin(ang)
                elon, elat = geo.frame.lonlat(ex, ey)
                if geo.country.contains(Point(float(elon), float(elat))):
                    x1, y1 = ex, ey
                    break
        amp = _spells(rng, T)
        if k == 0:  # the remote zone is active in the last months (the demo's story)
            amp[-_STORY_WEEKS:] = np.maximum(amp[-_STORY_WEEKS:], _STORY_LEVEL)
        amp = amp * per_week[k]
        start_w, end_w = 0, T - 1
        if k == 2 and k_hot == 4:  # one zone fades out
            end_w = int(T * 0.7)
            amp *= np.clip((end_w - t) / 8.0, 0, 1)
        if k == k_hot - 1 and T > 40:  # a new one emerges during the period
            start_w = int(T * 0.35)
            amp *= np.clip((t - start_w) / 8.0, 0, 1)
        hot.append(
            _Hotspot(
                name=names.make(1)[0],
                kind="persistent",
                profile=profiles[k],
                sigma_km=float(np.round(rng.uniform(8, 15), 1)),
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
    lam: NDArray[np.float32]  # (T, n) true expected events (as reported)
    counts: NDArray[np.int16]  # (T, n) simulated events
    ev_week: I64
    ev_cell: I64
    ev_profile: I64
    ev_rebel: I64
    flares: list[_Hotspot]
    capital_cell: int = -1


@dataclass
class _Setting:
    """Fixed spatial fields of the process."""

    sites: F64  # site weight per cell (0 = never a site of violence by itself)
    town: F64  # expected town episodes per cell-week at amplitude 1
    bg: F64  # background episodes per cell-week
    report: F64  # (T, n) reporting factor
    season: F64  # (T,)
    area_f: float
    capital_cell: int


def _setting(
    rng: np.random.Generator, geo: _Geo, cells: _Cells, T: int, start: date, scale: float
) -> _Setting:
    n = len(cells.h3)
    pop = cells.pop
    area = float(np.asarray(h3ronpy.cells_area_km2(cells.h3)).sum())
    area_f = float(np.clip(area / _REFERENCE_AREA_KM2, 0.05, 5.0))
    # sites: a sparse, heavy-tailed field; violence returns to the same places
    sites = rng.lognormal(0.0, 1.6, n) * ((pop + 1.0) / (np.median(pop) + 1.0)) ** 0.3
    sites = np.where(rng.random(n) < _SITE_SHARE, sites, 0.0)
    # towns: the capital (town 0) and a few others, each over its core cells
    tx, ty = geo.frame.xy(geo.town_lon, geo.town_lat)
    tw = geo.town_share**_TOWN_SHARE_POWER
    tw = tw / tw.sum() * _TOWN_PER_WEEK * scale
    town = np.zeros(n)
    for i in range(len(tx)):
        d2 = (cells.x - tx[i]) ** 2 + (cells.y - ty[i]) ** 2
        s = 1.5 + 2.5 * math.sqrt(geo.town_share[i] / geo.town_share.max())
        k = np.where(d2 < 9 * s * s, np.exp(-d2 / (2 * s * s)), 0.0)
        town += tw[i] * k / k.sum()
    cap = int(np.argmin((cells.x - tx[0]) ** 2 + (cells.y - ty[0]) ** 2))
    bg = _BACKGROUND_PER_WEEK * area_f * scale * np.sqrt(pop + 1.0) / np.sqrt(pop + 1.0).sum()
    # reporting density per admin-1 region changes over the years (new sources, lost ones)
    n1 = int(geo.adm2_parent.max()) + 1
    knots = np.arange(0, T + 52, 52)
    lo, hi = _REPORTING
    levels = rng.uniform(lo, hi, (n1, len(knots)))
    per_region = np.stack([np.interp(np.arange(T), knots, lv) for lv in levels])  # (n1, T)
    report = per_region[geo.adm2_parent[cells.adm2]].T
    week_start = np.datetime64(start) + 7 * np.arange(T)
    doy = (week_start - week_start.astype("datetime64[Y]")).astype(np.int64)
    season = 1.0 + 0.2 * np.cos(2 * np.pi * (doy - 45) / 365.25)
    return _Setting(sites=sites, town=town, bg=bg, report=report, season=season, area_f=area_f,
                    capital_cell=cap)


def _flare_schedule(rng: np.random.Generator, T: int, area_f: float, scale: float
                    ) -> dict[str, NDArray[Any]]:
    n_fl = int(rng.poisson(_FLARES_PER_WEEK * area_f * T))
    fl_start = np.sort(rng.integers(4, max(T - 1, 5), n_fl))
    return {
        "start": np.concatenate([fl_start, [T - 3, T - 1]]).astype(np.int64),
        "onset": np.concatenate([rng.random(n_fl) < 0.35, [False, True]]),
        "dur": np.concatenate([rng.integers(2, 13, n_fl), rng.integers(4, 9, 2)]),
        "peak": rng.uniform(*_FLARE_PEAK, n_fl + 2) * scale,
        "sigma": np.round(rng.uniform(3, 8, n_fl + 2), 1),
        "prof": np.where(rng.random(n_fl + 2) < 0.5, 3, 2),
    }


def _new_flare(rng: np.random.Generator, cells: _Cells, st: _Setting, s52: F64, t: int, T: int,
               j: int, sch: dict[str, NDArray[Any]], name: str) -> _Hotspot:
    pop = cells.pop
    recent = cells.near @ s52
    if sch["onset"][j]:  # somewhere nothing happened in the past year
        wts = np.where(recent == 0, np.sqrt(pop + 1.0) * (st.sites > 0), 0.0)
    else:  # next to recent violence: diffusion
        wts = np.where(recent > 0, (pop + 1.0) ** 0.3, 0.0)
    if wts.sum() <= 0:
        wts = np.sqrt(pop + 1.0)
    c = int(rng.choice(len(pop), p=wts / wts.sum()))
    dur = int(sch["dur"][j])
    tt = np.arange(T)
    shape = np.where((tt >= t) & (tt < t + dur), np.sin(np.pi * (tt - t + 0.5) / dur), 0.0)
    return _Hotspot(name=name, kind="flare", profile=int(sch["prof"][j]),
                    sigma_km=float(sch["sigma"][j]), x0=float(cells.x[c]), y0=float(cells.y[c]),
                    x1=float(cells.x[c]), y1=float(cells.y[c]), start_w=t, end_w=t + dur - 1,
                    per_week=float(sch["peak"][j]), amp=sch["peak"][j] * shape,
                    onset=bool(sch["onset"][j]), cell=c)


def _simulate(
    rng: np.random.Generator,
    geo: _Geo,
    cells: _Cells,
    hot: list[_Hotspot],
    T: int,
    start: date,
    scale: float,
    events_per_episode: float,
    n_rebels: int,
    names: _Names,
) -> _Sim:
    """Weekly episodes per cell: towns + conflict zones (in spells) + flare-ups + background +
    self-excitation (episodes in the last four weeks in the cell and its rings), all thinned
    by the region's reporting factor; each episode writes one or more events."""
    n = len(cells.h3)
    st = _setting(rng, geo, cells, T, start, scale)
    mod = st.sites + 0.005 * float(st.sites.mean())  # sites, and rarely anywhere else
    sch = _flare_schedule(rng, T, st.area_f, scale)
    flares: list[_Hotspot] = []
    fl_kern: list[F64] = []
    hot_kern = [_kernel(cells, h.x0, h.y0, h.sigma_km, mod) if (h.x0, h.y0) == (h.x1, h.y1)
                else None for h in hot]  # fmt: skip
    k_hot = len(hot)
    extra = max(events_per_episode - 1.0, 0.0)
    counts = np.zeros((T, n), dtype=np.int16)
    lam_all = np.zeros((T, n), dtype=np.float32)
    recent = np.zeros((len(_EXC_LAGS), n))
    s52 = np.zeros(n)
    nz_week: list[I64] = []
    nz_cell: list[I64] = []
    nz_cnt: list[I64] = []
    nz_comp: list[F64] = []
    # components: background, towns, zones..., flare (communal), flare (predation), excitation
    for t in range(T):
        for j in np.flatnonzero(sch["start"] == t):
            f = _new_flare(rng, cells, st, s52, t, T, int(j), sch, names.make(1)[0])
            flares.append(f)
            fl_kern.append(_kernel(cells, f.x0, f.y0, f.sigma_km, mod))
        comps = np.zeros((k_hot + 5, n))
        comps[0] = st.bg * st.season[t]
        comps[1] = st.town
        for k, h in enumerate(hot):
            if h.amp[t] <= 0:
                continue
            kern = hot_kern[k]
            if kern is None:
                cx, cy = h.centre(t, T)
                kern = _kernel(cells, cx, cy, h.sigma_km, mod)
            comps[2 + k] = h.amp[t] * st.season[t] * kern
        for f, kern in zip(flares, fl_kern, strict=True):
            if f.amp[t] > 0:
                comps[k_hot + (2 if f.profile == 3 else 3)] += f.amp[t] * kern
        comps[k_hot + 4] = cells.ring @ (_EXC_LAGS @ recent)
        comps *= st.report[t]
        ep_rate = comps.sum(0)
        episodes = rng.poisson(ep_rate)
        cnt = episodes + rng.poisson(extra * episodes)
        lam_all[t] = ep_rate * (1.0 + extra)
        counts[t] = np.minimum(cnt, np.iinfo(np.int16).max)
        nz = np.flatnonzero(cnt)
        nz_week.append(np.full(len(nz), t, dtype=np.int64))
        nz_cell.append(nz)
        nz_cnt.append(cnt[nz].astype(np.int64))
        nz_comp.append(comps[:, nz].T / ep_rate[nz, None])
        recent = np.roll(recent, 1, axis=0)
        recent[0] = episodes
        s52 += cnt
        if t >= 52:
            s52 -= counts[t - 52]
    sim = _events(rng, cells, hot, T, n_rebels, np.concatenate(nz_week), np.concatenate(nz_cell),
                  np.concatenate(nz_cnt), np.concatenate(nz_comp))
    return _Sim(lam=lam_all, counts=counts, flares=flares, capital_cell=st.capital_cell, **sim)


def _events(rng: np.random.Generator, cells: _Cells, hot: list[_Hotspot], T: int, n_rebels: int,
            week: I64, cellv: I64, cnt_v: I64, comp: F64) -> dict[str, I64]:
    """One row per event (the forecast week is truth only): week, cell, profile, rebel group."""
    keep = week < T - 1
    week, cellv, cnt_v, comp = week[keep], cellv[keep], cnt_v[keep], comp[keep]
    rep = np.repeat(np.arange(len(week)), cnt_v)
    ev_week, ev_cell, pr = week[rep], cellv[rep], comp[rep]
    u = rng.random(len(rep))[:, None]
    which = np.minimum((u > np.cumsum(pr, axis=1)).sum(1), pr.shape[1] - 1)
    k_hot = len(hot)
    # profile of each component; excitation inherits the dominant other component
    comp_prof = np.array([0, 0, *[h.profile for h in hot], 3, 2], dtype=np.int64)
    dominant = pr[:, :-1].argmax(1)
    src = np.where(which == pr.shape[1] - 1, dominant, which)
    ev_profile = comp_prof[src]
    # rebel group: the zone's own, else that of the nearest zone
    hx = np.array([h.x0 for h in hot])
    hy = np.array([h.y0 for h in hot])
    near_hot = ((cells.x[:, None] - hx) ** 2 + (cells.y[:, None] - hy) ** 2).argmin(1)
    hot_rebel = np.array([h.rebel for h in hot], dtype=np.int64)
    is_hot = (src >= 2) & (src <= k_hot + 1)
    ev_rebel = np.where(is_hot, hot_rebel[np.clip(src - 2, 0, k_hot - 1)],
                        hot_rebel[near_hot[ev_cell]])  # fmt: skip
    return {"ev_week": ev_week, "ev_cell": ev_cell, "ev_profile": ev_profile,
            "ev_rebel": ev_rebel % n_rebels}
