"""SYNTHETIC community engagement: a KoBo export of the engagement form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import shapely

from ._common import (
    F64,
    I64,
    KOBO_MODALITIES,
    KOBO_TOPICS,
    UTC_OFFSET_HOURS,
    Bool,
    Str,
    _cat,
    _fmt,
    _locate,
    _uuid4,
)
from .bases import _Bases
from .boundaries import _Geo
from .conflict import _Hotspot, _Sim
from .population import _Cells
from .restrictions import _Restriction

_ENGAGE_DECAY_KM = 40.0
_CONSULTATIONS_PER_STAFF_WEEK = 1.4
_FOCAL_POINTS_PER_BASE = 4  # early-warning focal points per base, in its reach
_FOCAL_REACH_KM = 70.0
_FOCAL_RADIUS_KM = 12.0  # a focal point hears of events this close
_FALSE_ALARMS_PER_WEEK = 0.15  # alerts per focal point and week with no event behind them
_ALERT_PER_EVENT = 0.10  # chance an event near a focal point is reported (this or next week)

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


def _alerts(rng: np.random.Generator, cells: _Cells, sim: _Sim, allowed: Bool, d_cb: F64,
            weeks: int) -> tuple[I64, I64]:
    """Weeks and cells of SMS alerts from community focal points (as real networks carry them).

    Focal points sit in populated cells within ``_FOCAL_REACH_KM`` of a base (partial
    coverage). Each sends false alarms at ``_FALSE_ALARMS_PER_WEEK`` and reports events within
    ``_FOCAL_RADIUS_KM`` of it in the same or the previous week with probability
    ``_ALERT_PER_EVENT`` each: alerts follow violence, they do not announce it.
    """
    n_fp = _FOCAL_POINTS_PER_BASE * d_cb.shape[1]
    ok = allowed & (d_cb.min(1) < _FOCAL_REACH_KM)
    w = np.where(ok, np.sqrt(cells.pop + 1.0), 0.0)
    if w.sum() <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    fp = rng.choice(len(w), min(n_fp, int((w > 0).sum())), replace=False, p=w / w.sum())
    d = np.hypot(cells.x[fp, None] - cells.x[None], cells.y[fp, None] - cells.y[None])
    cover = (d < _FOCAL_RADIUS_KM).astype(np.float64)  # (n_fp, n)
    seen = sim.counts[:weeks].astype(np.float64) @ cover.T  # (weeks, n_fp) events heard of
    heard = seen + np.vstack([np.zeros((1, len(fp))), seen[:-1]])
    rate = _FALSE_ALARMS_PER_WEEK + _ALERT_PER_EVENT * np.minimum(heard, 6.0)
    n = rng.poisson(rate)
    wk_i, fp_i = np.nonzero(n)
    reps = n[wk_i, fp_i]
    return np.repeat(wk_i, reps).astype(np.int64), np.repeat(fp[fp_i], reps).astype(np.int64)


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
    # early-warning alerts: only where focal points exist, mostly false alarms, the rest
    # reporting violence already under way (this week or last): no clean leading signal
    ew_idx = KOBO_MODALITIES.index("early_warning_alert")
    wk, c = _alerts(rng, cells, sim, factor[cells.adm2] > 0, d_cb, weeks)
    wk_l.append(wk)
    cell_l.append(c)
    base_l.append(d_cb[c].argmin(1) if len(c) else np.zeros(0, dtype=np.int64))
    mod_l.append(np.full(len(c), ew_idx, dtype=np.int64))
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


