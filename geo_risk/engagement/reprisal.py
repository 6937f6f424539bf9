"""Reprisal exposure: civilians targeted *after* and *near* a mission engagement.

Armed groups punish communities suspected of talking to the mission. A community is exposed
when civilian targeting happened within ``reprisal_window_days`` after a mission engagement
and within ``reprisal_distance_km`` of where it took place (same admin unit when either has
only its unit recorded). Targeting before the engagement, or far from it, does not count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..arrays import unique
from .common import _in_window, _local_xy

#: Reprisal exposure values (``<NA>`` where engagement is withheld or suppressed).
EXPOSURE = ("none", "exposed", "exposed, rising")


def _rising(recent4: np.ndarray, total: np.ndarray, weeks: int) -> np.ndarray:
    """Last 4 weeks above the weekly rate of the rest of the window (and at least 2)."""
    if weeks <= 4:
        return np.zeros(len(total), bool)
    before = (total - recent4) / (weeks - 4)
    return (recent4 >= 2) & (recent4 / 4 > before)


def reprisal_pairs(eng: pd.DataFrame, civ: pd.DataFrame, *, days: int, km: float
                   ) -> pd.DataFrame:
    """(engagement, incident) pairs with the incident within ``days`` after and ``km`` of
    the engagement (same unit when either lacks a point). Rows index ``eng`` and ``civ``."""
    empty = pd.DataFrame({"e": np.zeros(0, np.int64), "i": np.zeros(0, np.int64)})
    if eng.empty or civ.empty:
        return empty
    e_pt = np.isfinite(eng["lon"].to_numpy(float)) & np.isfinite(eng["lat"].to_numpy(float))
    i_pt = np.isfinite(civ["lon"].to_numpy(float)) & np.isfinite(civ["lat"].to_numpy(float))
    parts = []
    if e_pt.any() and i_pt.any():
        ei, ii = np.flatnonzero(e_pt), np.flatnonzero(i_pt)
        lat0 = float(np.nanmean(eng["lat"].to_numpy(float)[ei]))
        a = _local_xy(eng["lon"].to_numpy(float)[ei], eng["lat"].to_numpy(float)[ei], lat0)
        b = _local_xy(civ["lon"].to_numpy(float)[ii], civ["lat"].to_numpy(float)[ii], lat0)
        coo = cKDTree(a).sparse_distance_matrix(cKDTree(b), km, output_type="coo_matrix")
        parts.append(pd.DataFrame({"e": ei[coo.row], "i": ii[coo.col]}))
    loose_e = pd.DataFrame({"e": np.arange(len(eng)), "u": eng["admin_pcode"].to_numpy()})
    loose_i = pd.DataFrame({"i": np.arange(len(civ)), "u": civ["admin_pcode"].astype(str)
                            .to_numpy()})
    by_unit = pd.concat([loose_e.loc[~e_pt].merge(loose_i, on="u"),
                         loose_e.loc[e_pt].merge(loose_i.loc[~i_pt], on="u")])
    parts.append(by_unit[["e", "i"]])
    pairs = pd.concat(parts, ignore_index=True).drop_duplicates()
    lag = (civ["date"].to_numpy("datetime64[ns]")[pairs["i"].to_numpy()]
           - eng["date"].to_numpy("datetime64[ns]")[pairs["e"].to_numpy()])
    keep = (lag >= np.timedelta64(0, "D")) & (lag <= np.timedelta64(days, "D"))
    return pairs.loc[keep].reset_index(drop=True)


def reprisal_exposure(rec: pd.DataFrame, pos: np.ndarray, incidents: pd.DataFrame, *,
                      units: np.ndarray, n_cells: int, week: pd.Timestamp, weeks: int,
                      days: int, km: float) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Exposure per cell (where the engagement was located) and per unit, as EXPOSURE words.

    Only mission engagements in the ``weeks`` before ``week`` and civilian targeting before
    ``week`` count. "Rising": the matched incidents of the last 4 weeks above the weekly rate
    of the rest of the window.
    """
    in_w = _in_window(rec["date"], week, weeks) & (rec["mission"].to_numpy() > 0)
    eng, epos = rec.loc[in_w].reset_index(drop=True), pos[in_w]
    inc = incidents.loc[_in_window(incidents["date"], week, weeks)
                        & incidents["civilian_targeting"].to_numpy(bool)]
    civ = pd.DataFrame({"date": inc["date"].to_numpy("datetime64[ns]"),
                        "lon": pd.to_numeric(inc["lon"], errors="coerce").to_numpy(float)
                        if "lon" in inc else np.nan,
                        "lat": pd.to_numeric(inc["lat"], errors="coerce").to_numpy(float)
                        if "lat" in inc else np.nan,
                        "admin_pcode": inc["admin_pcode"].astype(str).to_numpy()})
    if "geo_precision" in inc:  # admin-precision events carry a representative point only
        coarse = pd.to_numeric(inc["geo_precision"], errors="coerce").to_numpy(float) > 2
        civ.loc[coarse, ["lon", "lat"]] = np.nan
    pairs = reprisal_pairs(eng, civ, days=days, km=km)
    recent4 = _in_window(civ["date"], week, min(4, weeks))[pairs["i"].to_numpy()]
    p = pairs.assign(r=recent4, u=eng["admin_pcode"].to_numpy()[pairs["e"].to_numpy()],
                     c=epos[pairs["e"].to_numpy()])

    def classify(frame: pd.DataFrame, key: str, index: np.ndarray) -> np.ndarray:
        tot = frame.groupby(key)["i"].nunique().reindex(index).fillna(0).to_numpy()
        r4 = (frame.loc[frame["r"]].groupby(key)["i"].nunique().reindex(index).fillna(0)
              .to_numpy())
        exposed = tot > 0
        rising = exposed & _rising(r4, tot, weeks)
        return np.select([rising, exposed], list(EXPOSURE[2:0:-1]), EXPOSURE[0]).astype(object)

    unit = classify(p, "u", units)
    located = p["c"] >= 0
    cell = np.full(n_cells, EXPOSURE[0], dtype=object)
    if located.any():
        pl = p.loc[located]
        idx = unique(pl["c"].to_numpy())
        cell[idx] = classify(pl, "c", idx)
    meta = {"pairs": int(len(pairs)), "incidents_matched": int(pairs["i"].nunique()),
            "engagements_matched": int(pairs["e"].nunique())}
    return cell, unit, meta
