"""Ground truth of a SYNTHETIC scenario (truth.json)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

import numpy as np
import shapely

from ._common import _iso, _locate
from .bases import _Bases
from .boundaries import _Geo
from .conflict import _PROFILES, _Hotspot, _Sim
from .consultations import _Engagement
from .incidents import _Incidents
from .population import _Cells
from .restrictions import _in_force, _Restriction
from .spec import ScenarioSpec

#: Weeks of history (the last before the forecast week) a unit's true risk is measured over.
_RISK_WEEKS = 8
#: High risk: the top quarter of units, as the product's ``under_engaged_risk_quantile`` ...
_HIGH_QUANTILE = 0.75
#: ... and clearly so: at least this multiple of that quantile. In a sparse world most units
#: have near-equal small risks; a unit just above the cut is high risk by chance of the draw,
#: not by design, and no forecast can be held to it.
_CLEAR_MARGIN = 2.0


def _unit_risk(sim: _Sim, cells: _Cells, T: int, events_per_episode: float,
               n_adm2: int) -> np.ndarray:
    """True expected incident cells per unit and week (what the product's matrix estimates:
    the sum over the unit's cells of P(>= 1 event)), mean of the last ``_RISK_WEEKS`` weeks
    of history: the intensity the forecast can see, not flare-ups starting in its week."""
    lam = sim.lam[max(0, T - 1 - _RISK_WEEKS) : T - 1].astype(np.float64)
    p_any = 1.0 - np.exp(-lam / events_per_episode)  # lam counts events; episodes are Poisson
    return np.bincount(cells.adm2, weights=p_any.mean(0), minlength=n_adm2)


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
    # (early-warning alerts come from the communities) in the last year, in a unit clearly
    # at high risk (see _unit_risk)
    cons = np.bincount(eng.adm2, minlength=n_adm2)
    recent = (eng.week >= T - 1 - 52) & ~eng.alert
    cons52 = np.bincount(eng.adm2[recent], minlength=n_adm2)
    risk = _unit_risk(sim, cells, T, spec.events_per_episode, n_adm2)
    high = risk >= _CLEAR_MARGIN * float(np.quantile(risk, _HIGH_QUANTILE))
    engaged = cons52[cons52 > 0]
    thr = 0.25 * float(np.median(engaged)) if len(engaged) else 0.0
    under = [int(i) for i in np.flatnonzero(high & (cons52 <= thr))]
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
