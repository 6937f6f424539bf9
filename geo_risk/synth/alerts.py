"""SYNTHETIC alert responses, focal points, mission components and female liaison staff.

Adds to the KoBo export (:mod:`.consultations`) what the mission records about who engaged and
how it answered early-warning alerts, and writes the focal-point registry, with the truth:

* every mission record gets a component code (``CA``, ``MIL``, ``UNPOL``, ``HR``; the config
  maps ``LEAD`` to a leadership visit): a town hall of the leadership in a few designated units
  in the last weeks (``leadership_visit_admin_pcodes``);
* every alert gets a type, a received time, and a response by its nearest base, or none: one
  designated base answers slowly (``slow_response_base``), the others within hours;
* alert-network gaps: in designated units clearly at high risk (``alert_gap_admin_pcodes``) no
  alert is written and no focal point registered; a few quiet units have only a registered
  focal point (``focal_point_only_admin_pcodes``), others only one that ended long ago
  (``ended_focal_point_admin_pcodes``: no channel);
* female liaison staff per base: none at the bases serving the units where no women take part
  (``bases_without_female_staff``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ._common import I64, KOBO_COLUMNS, _cat, _fmt
from .bases import _Bases
from .boundaries import _Geo
from .consultations import _Engagement
from .population import _Cells
from .truth import _CLEAR_MARGIN, _HIGH_QUANTILE

ALERT_TYPES = ("armed group movement", "attack on village", "cattle raid", "abduction",
               "displacement")
COMPONENT_CODES = ("CA", "MIL", "UNPOL", "HR")
LEADERSHIP_CODE = "LEAD"
#: Window (days) the truth's response figures are measured over (the scenario's
#: ``[alerts] window_days``: a quarter, so that busy units reach ``min_count`` alerts).
WINDOW_DAYS = 91
_FAST_MEDIAN_H, _SLOW_MEDIAN_H = 5.0, 60.0


@dataclass
class _Outreach:
    engagement: _Engagement  # with the new columns, gap units' alerts removed
    focal_points: pd.DataFrame
    female_staff: I64
    truth: dict[str, Any]


def _gap_units(risk: np.ndarray, eng: _Engagement, n: int = 2) -> list[int]:
    high = risk >= _CLEAR_MARGIN * float(np.quantile(risk, _HIGH_QUANTILE))
    cand = [int(i) for i in np.argsort(-risk, kind="stable") if high[i] and i not in eng.never]
    return sorted(cand[:n])


def _subset(eng: _Engagement, keep: np.ndarray) -> _Engagement:
    frame = eng.frame.loc[keep].reset_index(drop=True)
    frame["_index"] = np.arange(1, len(frame) + 1)
    return _Engagement(frame=frame, never=eng.never, under_designated=eng.under_designated,
                       no_women=eng.no_women, no_youth=eng.no_youth, week=eng.week[keep],
                       adm2=eng.adm2[keep], alert=eng.alert[keep])


def _responses(rng: np.random.Generator, eng: _Engagement, base_names: np.ndarray,
               forecast: date) -> tuple[dict[str, Any], str]:
    """Alert type, received/responded times, response and base for the alert rows."""
    df = eng.frame
    n = len(df)
    alert = eng.alert
    base = df["meeting/base"].to_numpy(str)
    day = pd.to_datetime(df["meeting/meeting_date"]).to_numpy("datetime64[m]")
    recent = alert & (day >= np.datetime64(forecast - timedelta(days=WINDOW_DAYS)))
    names, counts = np.unique(base[recent], return_counts=True)
    slow = str(names[np.argmax(counts)]) if len(names) else str(base_names[0])
    is_slow = base == slow
    received = day + rng.integers(6 * 60, 22 * 60, n).astype("timedelta64[m]")
    median = np.where(is_slow, _SLOW_MEDIAN_H, _FAST_MEDIAN_H)
    hours = np.round(median * rng.lognormal(0.0, 0.45, n), 1)
    answered = rng.random(n) < np.where(is_slow, 0.6, 0.9)
    responded = received + (hours * 60).astype("timedelta64[m]")
    fc = np.datetime64(forecast).astype("datetime64[m]")
    answered &= responded < fc  # nothing is answered after the export
    action = np.array(["patrol dispatched", "phone follow-up", "referred to local police"])[
        rng.integers(0, 3, n)]
    typ = np.asarray(ALERT_TYPES)[rng.choice(len(ALERT_TYPES), n,
                                             p=[0.35, 0.2, 0.25, 0.1, 0.1])]

    def when(a: np.ndarray) -> np.ndarray:
        return np.char.replace(np.datetime_as_string(a, unit="m"), "T", " ")

    cols = {
        "alert/alert_type": np.where(alert, typ, ""),
        "alert/received_at": np.where(alert, when(received), ""),
        "alert/responded_at": np.where(alert & answered, when(responded), ""),
        "alert/response": np.where(alert, np.where(answered, action, "none"), ""),
        "alert/response_base": np.where(alert & answered, base, ""),
        "alert/sender_phone": np.where(alert, _cat("+000 555 9", _fmt("%04d", rng.integers(
            0, 10_000, n))), ""),
    }
    return cols, slow


def _components(rng: np.random.Generator, eng: _Engagement, weeks: int, n_adm2: int
                ) -> tuple[np.ndarray, list[int]]:
    """Component codes; leadership town halls in two busy units in the last 8 weeks."""
    n = len(eng.frame)
    code = np.asarray(COMPONENT_CODES)[rng.choice(4, n, p=[0.6, 0.2, 0.1, 0.1])]
    code = np.where(eng.alert, "", code)
    meeting = eng.frame["meeting/modality"].to_numpy(str) == "community_meeting"
    late = meeting & (eng.week >= weeks - 8)
    busy = np.bincount(eng.adm2[late], minlength=n_adm2)
    units = [int(i) for i in np.argsort(-busy, kind="stable")[:2] if busy[i] > 0]
    for u in units:  # one town hall each (two units: a loop of two)
        code[np.flatnonzero(late & (eng.adm2 == u))[0]] = LEADERSHIP_CODE
    return code, sorted(units)


def _focal_points(rng: np.random.Generator, eng: _Engagement, geo: _Geo, gap: list[int],
                  start: date, weeks: int) -> tuple[pd.DataFrame, list[int], list[int]]:
    """Registry: one focal point per alert-sending cell, plus quiet and ended ones."""
    n_adm2 = len(geo.adm2_pcode)
    cell = eng.frame["_location/gps_latitude"].to_numpy(str)  # a sender's usual place
    pairs = pd.DataFrame({"u": eng.adm2[eng.alert], "c": cell[eng.alert]}).drop_duplicates()
    per_unit = pairs.groupby("u").size().clip(upper=3)
    senders = np.repeat(per_unit.index.to_numpy(), per_unit.to_numpy())
    recent = eng.alert & (eng.week >= weeks - 12)  # the channel window of the scenario
    has_alert = np.bincount(eng.adm2[recent], minlength=n_adm2) > 0
    quiet = [int(i) for i in rng.permutation(n_adm2)
             if not has_alert[i] and int(i) not in gap and int(i) not in eng.never]
    only_fp, ended = sorted(quiet[:2]), sorted(quiet[2:4])
    unit = np.concatenate([senders, only_fp, ended]).astype(np.int64)
    n = len(unit)
    reg = np.array([start + timedelta(days=int(d)) for d in rng.integers(0, 7 * weeks // 2, n)])
    k = len(senders)
    reg[k:k + len(only_fp)] = [start + timedelta(days=7 * (weeks - 6))] * len(only_fp)
    end = np.full(n, "", dtype=object)
    end[k + len(only_fp):] = (start + timedelta(days=7 * (weeks // 2))).isoformat()
    # in the designated units, the old senders stopped two weeks after their last alert
    last_w = pd.Series(eng.week[eng.alert]).groupby(eng.adm2[eng.alert]).max()
    stopped = np.isin(senders, ended)
    stop_day = [max(reg[i], start + timedelta(days=7 * int(last_w[senders[i]]) + 14))
                for i in np.flatnonzero(stopped)]  # tens of focal points
    end[np.flatnonzero(stopped)] = [d.isoformat() for d in stop_day]
    df = pd.DataFrame({
        "focal_point_id": _cat("FP-", _fmt("%04d", np.arange(1, n + 1))),
        "admin2": np.asarray(geo.adm2_pcode)[unit],
        "registered": [d.isoformat() for d in reg],
        "ended": end,
        "name": _cat("FAKE Focal Point ", _fmt("%03d", np.arange(1, n + 1))),
        "phone": _cat("+000 555 7", _fmt("%04d", np.arange(1, n + 1))),
    })
    return df, only_fp, ended


def _outreach(rng: np.random.Generator, geo: _Geo, cells: _Cells, bases: _Bases,
              eng: _Engagement, risk: np.ndarray, start: date, weeks: int) -> _Outreach:
    """Add components and alert responses to the export; registry, staff and truth."""
    del cells
    forecast = start + timedelta(days=7 * weeks)
    pc = np.asarray(geo.adm2_pcode)
    gap = _gap_units(risk, eng)
    eng = _subset(eng, ~(eng.alert & np.isin(eng.adm2, gap)))
    base_names = np.asarray(bases.name, dtype=str)
    cols, slow = _responses(rng, eng, base_names, forecast)
    code, lead_units = _components(rng, eng, weeks, len(pc))
    eng.frame["meeting/component"] = code
    for name, values in cols.items():
        eng.frame[name] = values
    eng.frame = eng.frame[list(KOBO_COLUMNS)]
    fp, only_fp, ended = _focal_points(rng, eng, geo, gap, start, weeks)

    # bases serving the no-women units (nearest to the unit's point) have no female staff
    bx, by = geo.frame.xy(bases.lon, bases.lat)
    ux, uy = geo.frame.xy(geo.adm2_point[:, 0], geo.adm2_point[:, 1])
    open_now = bases.close_w >= weeks
    d = np.hypot(ux[:, None] - bx[None], uy[:, None] - by[None])
    d[:, ~open_now] = np.inf
    serving = sorted({int(i) for i in d[eng.no_women].argmin(1)})
    female = np.maximum(1, rng.integers(0, bases.staff + 1)).astype(np.int64)
    female = np.minimum(female, bases.staff)
    female[serving] = 0

    df = eng.frame
    day = pd.to_datetime(df["meeting/meeting_date"])
    recent = (eng.alert & (day >= pd.Timestamp(forecast - timedelta(days=WINDOW_DAYS)))
              .to_numpy())
    hours = ((pd.to_datetime(df["alert/responded_at"].replace("", None))
              - pd.to_datetime(df["alert/received_at"].replace("", None)))
             .dt.total_seconds() / 3600)
    med = hours[recent].groupby(df.loc[recent, "meeting/base"]).median().round(1)
    truth = {
        "alert_gap_admin_pcodes": [str(pc[i]) for i in gap],
        "focal_point_only_admin_pcodes": [str(pc[i]) for i in only_fp],
        "ended_focal_point_admin_pcodes": [str(pc[i]) for i in ended],
        "slow_response_base": slow,
        "alert_response_median_hours": {str(k): float(v) for k, v in med.dropna().items()},
        "bases_without_female_staff": [str(base_names[i]) for i in serving],
        "leadership_visit_admin_pcodes": [str(pc[i]) for i in lead_units],
        "n_focal_points": len(fp),
    }
    return _Outreach(engagement=eng, focal_points=fp, female_staff=female, truth=truth)


__all__ = ["ALERT_TYPES", "COMPONENT_CODES", "LEADERSHIP_CODE"]
