"""The SYNTHETIC ACLED-style export drawn from the simulated events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ._common import (
    _MONTHS,
    ACLED_REGION,
    COUNTRY_NAME,
    EVENT_ID_PREFIX,
    I64,
    ISO_NUMERIC,
    SOURCE_NAME,
    Str,
    _cat,
    _date_parts,
    _fmt,
    _locate,
    _Names,
)
from .boundaries import _Geo
from .conflict import _PROFILES, _Sim
from .population import _Cells

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


