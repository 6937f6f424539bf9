"""The ranked priority list for next week's engagement, with the reasons in words and a
suggested modality that follows distance, access, risk, breadth gaps and the base's staff."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import RunConfig
from ..index import cell_strings
from .common import SUPPRESSED, _fmt, _join_text

PRIORITY_METHOD = (
    "units: score = (0.5 x risk_score/25 + 0.5 x percentile of expected incident cells) x "
    "(0.4 + gap) x (1.1 when rising: level up or trend new/intensifying); gap = 1 - percentile "
    "of the mission engagement rate (suppressed units count as the lowest rate) + 0.25 if "
    "never engaged or stale + 0.3 each for no women and no youth heard + 0.15 for follow-up "
    "overdue + 0.3 when the unit is flagged under-engaged (0.5 where engagement is "
    "withheld). Cells: under-engaged cells by risk, then population.")

PRIORITY_COLUMNS = [
    "rank", "kind", "admin_pcode", "admin_name", "cell", "level", "risk",
    "expected_incident_cells", "trend", "priority_score", "why", "engagement_status",
    "access_status", "reprisal_exposure", "nearest_base", "nearest_base_km",
    "suggested_modality",
]
_HIGH = ("high", "critical", "very high")


def suggested_modality(*, access: np.ndarray, km: np.ndarray, base: np.ndarray,
                       staff: np.ndarray, level: np.ndarray, quiet: np.ndarray,
                       no_women: np.ndarray, no_youth: np.ndarray, exposed: np.ndarray,
                       withheld: np.ndarray, reach_km: float) -> np.ndarray:
    """How to engage next week, in words.

    ``access``: restricted / cut off / out of reach / reachable (of the place that matters);
    ``km``: distance to the nearest open base (along the network within reach); ``staff``:
    that base's liaison staff; ``quiet``: never, not or no longer engaged. High-risk places
    beyond reach get a long-range patrol, quieter ones remote contact; within reach, a day
    trip (up to half the reach) is an in-person consultation, farther a patrol-supported
    visit; a base without liaison staff needs civil affairs along.
    """
    high = np.isin(np.asarray(level, dtype=object), _HIGH)
    where = np.char.mod(" from %s", np.asarray(base, dtype=str)).astype(object)
    dist = np.where(np.isfinite(km), _fmt(" (%.0f km)", np.nan_to_num(km)), "")
    inaccessible = np.isin(access, ["restricted", "cut off", "partly restricted"])
    beyond = np.isin(access, ["out of reach", "outside base reach"])
    near = np.isfinite(km) & (km <= reach_km / 2)
    main = np.select(
        [withheld, inaccessible & high, inaccessible, beyond & high, beyond, near],
        ["contact only through established safe channels",
         "remote: phone/SMS focal points and radio; request access for a patrol",
         "remote: phone/SMS focal points and radio",
         "long-range patrol" + where + dist,
         "remote: phone/SMS and radio until the next long-range patrol" + where,
         "in-person consultation" + where + dist],
        "patrol-supported visit" + where + dist).astype(object)
    in_person = ~withheld & ~inaccessible & ~(beyond & ~high)
    main = np.where(in_person & (np.asarray(staff, float) <= 0),
                    main + " with civil affairs (no liaison staff there)", main)
    main = np.where(high & quiet & ~withheld, main + "; recruit early-warning focal points",
                    main)
    groups = np.select([no_women & no_youth, no_women, no_youth],
                       ["women-only and youth sessions", "women-only session (female staff)",
                        "youth session"], "").astype(object)
    groups = np.where(inaccessible & (groups != ""), groups + " by phone/radio", groups)
    main = np.where(groups != "", main + "; " + groups, main)
    return np.where(exposed | withheld, "do-no-harm review first; then " + main, main)


def risk_text(level: np.ndarray, risk: np.ndarray, word: np.ndarray, expected: np.ndarray,
              trend: np.ndarray, change: np.ndarray, prev: np.ndarray) -> np.ndarray:
    txt = (np.asarray(level, dtype=object) + " risk (P(≥1 incident) " + _fmt("%.2f", risk)
           + ", " + np.asarray(word, dtype=object) + "; " + _fmt("%.1f", expected)
           + " expected cells with incidents)")
    txt = np.where(trend != "", txt + ", trend " + trend, txt)
    return np.where(change == "up", txt + ", up from " + prev, txt)


def access_text(status: np.ndarray, restricted_weeks: np.ndarray, out_share: np.ndarray,
                base: np.ndarray, km: np.ndarray) -> np.ndarray:
    nearest = np.where(np.asarray(base, dtype=object) != "",
                       "; nearest base " + np.asarray(base, dtype=object)
                       + _fmt(" %.0f km", np.nan_to_num(km)), "")
    share = _fmt("%.0f%%", np.round(np.nan_to_num(out_share) * 100))
    return np.select(
        [status == "restricted", status == "partly restricted", status == "cut off",
         status == "outside base reach", status == "partly outside base reach",
         status == "out of reach"],
        ["inside access restrictions (in force " + _fmt("%d", restricted_weeks) + " weeks)",
         "partly under access restrictions (up to " + _fmt("%d", restricted_weeks)
         + " weeks)",
         "cut off: every route from the bases crosses a restriction",
         share + " of its people beyond every base's reach" + nearest,
         share + " of its people beyond every base's reach" + nearest,
         "beyond every base's reach" + nearest], "").astype(object)


def _text(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame:
        return np.full(len(frame), "", dtype=object)
    return frame[col].fillna("").astype(str).to_numpy(dtype=object)


def unit_priorities(*, matrix: pd.DataFrame, adm: pd.DataFrame, cells: pd.DataFrame,
                    cell_out: pd.DataFrame, risk_pct: np.ndarray, rate_pct: np.ndarray,
                    withheld: np.ndarray, staff: pd.Series, config: RunConfig
                    ) -> pd.DataFrame:
    """Admin units ranked by ``PRIORITY_METHOD``, with why and the suggested modality."""
    m, a = matrix.reset_index(drop=True), adm.reset_index(drop=True)

    def flag(col: str) -> np.ndarray:
        return a[col].fillna(False).to_numpy(bool)

    risk_part = 0.5 * m["risk_score"].to_numpy(float) / 25 + 0.5 * risk_pct
    gap = ((1 - np.nan_to_num(rate_pct, nan=0.5)) + 0.25 * (flag("never_engaged") | flag("stale"))
           + 0.3 * (flag("no_women").astype(float) + flag("no_youth"))
           + 0.15 * flag("follow_up_overdue")
           # the unit's own under-engaged flag (high risk, low engagement for that risk)
           + 0.3 * flag("under_engaged"))
    gap = np.where(withheld, 0.5, gap)
    trend, change, level = _text(m, "trend"), _text(m, "level_change"), _text(m, "level")
    rising = (change == "up") | np.isin(trend, ["new", "intensifying"])
    score = risk_part * (0.4 + gap) * np.where(rising, 1.1, 1.0)
    exposure = a["reprisal_exposure"].astype("string").fillna("").to_numpy(dtype=str)
    exposed = np.char.startswith(exposure, "exposed")
    status = a["access_status"].to_numpy(dtype=object)
    # the unit's focus cell (most people exposed) gives its nearest base and distance
    c_admin = cells["admin_pcode"].astype(str).to_numpy()
    people = cells["risk"].to_numpy(float) * np.nan_to_num(cells["population"].to_numpy(float))
    focus = (pd.Series(people).groupby(c_admin).idxmax().reindex(m["admin_pcode"].astype(str)))
    has = focus.notna().to_numpy()
    fpos = focus.fillna(0).to_numpy(np.int64)
    nearest = np.where(has, cell_out["nearest_base"].to_numpy(dtype=object)[fpos], "")
    km = np.where(has, cell_out["nearest_base_km"].to_numpy(float)[fpos], np.nan)
    focus_access = np.where(has, cell_out["access_status"].to_numpy(dtype=object)[fpos], "")
    estatus = a["engagement_status"].to_numpy(dtype=object)
    quiet = np.isin(estatus, ["never engaged", "not engaged"]) | flag("stale")
    why = _join_text([
        risk_text(level, m["likelihood"].to_numpy(float), _text(m, "likelihood_label"),
                  m["expected_incident_cells"].to_numpy(float), trend, change,
                  _text(m, "level_prev")),
        a["engagement_gaps"].to_numpy(dtype=object),
        access_text(status, a["restricted_weeks_max"].to_numpy(),
                    a["out_of_reach_share"].to_numpy(float), nearest, km),
        np.where(exposed, "reprisal exposure: civilians targeted within "
                 f"{config.engagement.reprisal_window_days} days after and "
                 f"{config.engagement.reprisal_distance_km:g} km of a mission engagement"
                 + np.where(exposure == "exposed, rising", " (rising)", ""), ""),
    ])
    access_for_mode = np.where(np.isin(status, ["restricted", "cut off", "partly restricted"]),
                               status, focus_access)
    units = pd.DataFrame({
        "kind": "admin unit", "admin_pcode": m["admin_pcode"].to_numpy(),
        "admin_name": _text(m, "admin_name"), "cell": "", "level": level,
        "risk": m["likelihood"].to_numpy(float).round(4),
        "expected_incident_cells": m["expected_incident_cells"].to_numpy(float).round(3),
        "trend": trend, "priority_score": np.round(score, 4), "why": why,
        "engagement_status": estatus, "access_status": status,
        "reprisal_exposure": a["reprisal_exposure"].to_numpy(),
        "nearest_base": nearest, "nearest_base_km": km,
        "suggested_modality": suggested_modality(
            access=access_for_mode, km=km, base=nearest,
            staff=staff.reindex(nearest).fillna(0).to_numpy(float), level=level, quiet=quiet,
            no_women=flag("no_women"), no_youth=flag("no_youth"), exposed=exposed,
            withheld=withheld, reach_km=config.base_reach_km),
    }).sort_values(["priority_score", "expected_incident_cells"], ascending=False,
                   kind="stable").reset_index(drop=True)
    units.insert(0, "rank", np.arange(1, len(units) + 1))
    return units


def cell_priorities(*, cells: pd.DataFrame, cell_out: pd.DataFrame, staff: pd.Series,
                    config: RunConfig) -> pd.DataFrame:
    """The top under-engaged cells (high risk and low engagement), by risk then population."""
    ec = config.engagement
    cand = np.flatnonzero(cell_out["under_engaged"].fillna(False).to_numpy(bool))
    order = np.lexsort((-np.nan_to_num(cells["population"].to_numpy(float)[cand]),
                        -cells["risk"].to_numpy(float)[cand]))
    top = cand[order][: ec.priority_cells]
    cc, co = cells.iloc[top], cell_out.iloc[top]
    cacc = co["access_status"].to_numpy(dtype=object)
    cexp = co["reprisal_exposure"].astype("string").fillna("").to_numpy(dtype=str)
    ctrend = _text(cc, "trend")
    crisk = cc["risk"].to_numpy(float)
    base = co["nearest_base"].to_numpy(dtype=object)
    km = co["nearest_base_km"].to_numpy(float)
    level = cc["risk_band"].to_numpy(dtype=object) if "risk_band" in cc else np.full(
        len(top), "", dtype=object)
    why = _join_text([
        "risk p=" + _fmt("%.2f", crisk) + np.where(ctrend != "", ", trend " + ctrend, ""),
        co["under_engaged_reason"].to_numpy(dtype=object),
        access_text(cacc, cc["restricted_weeks"].to_numpy(), np.ones(len(top)), base, km),
        np.where(np.char.startswith(cexp, "exposed"),
                 "reprisal exposure: civilians targeted soon after and near an engagement", ""),
    ])
    out = pd.DataFrame({
        "rank": np.arange(1, len(top) + 1), "kind": "cell",
        "admin_pcode": cc["admin_pcode"].to_numpy(), "admin_name": _text(cc, "admin_name"),
        "cell": cell_strings(cc["cell"].to_numpy()), "level": level,
        "risk": crisk.round(4), "expected_incident_cells": crisk.round(3), "trend": ctrend,
        "priority_score": co["under_engaged_score"].to_numpy(), "why": why,
        "engagement_status": co["coverage_status"].to_numpy(), "access_status": cacc,
        "reprisal_exposure": co["reprisal_exposure"].to_numpy(),
        "nearest_base": base, "nearest_base_km": km,
        "suggested_modality": suggested_modality(
            access=cacc, km=km, base=base, staff=staff.reindex(base).fillna(0).to_numpy(float),
            level=np.full(len(top), "high", dtype=object),
            quiet=co["coverage_status"].to_numpy() == "not engaged",
            no_women=np.zeros(len(top), bool), no_youth=np.zeros(len(top), bool),
            exposed=np.char.startswith(cexp, "exposed"), withheld=np.zeros(len(top), bool),
            reach_km=config.base_reach_km),
    })
    return out


__all__ = ["PRIORITY_COLUMNS", "PRIORITY_METHOD", "SUPPRESSED", "cell_priorities",
           "suggested_modality", "unit_priorities"]
