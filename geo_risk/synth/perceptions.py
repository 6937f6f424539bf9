"""SYNTHETIC perception survey (one KoBo row per respondent) and a topic shift, with truth.

Quarterly waves survey every unit the mission engages; each respondent answers how safe they
feel and how far they trust the mission (1..5). Units differ in their level (less safe where
violence is more intense) and stay at it, except the REAL changes recorded in the truth: in
the last ``PERIOD_WEEKS`` before the forecast week perceived safety drops in two units and
trust in the mission rises in one. A few units get only a handful of respondents per wave
(always below ``min_count``: the product must suppress them). In the engagement form, the
share of consultations raising "land" jumps in one unit in the last period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ._common import UTC_OFFSET_HOURS, _cat, _uuid4
from .boundaries import _Geo
from .conflict import _Sim
from .consultations import _Engagement
from .population import _Cells

#: The product's default perception period (``[perceptions] period_weeks``).
PERIOD_WEEKS = 13
_RESPONDENTS = 30.0  # mean respondents per unit and wave
_SMALL = 2.0  # ... in the small-sample units
_NOISE = 0.9  # spread of one respondent's answer around the unit's level
SAFETY_DROP = -1.2
TRUST_RISE = 1.0


@dataclass
class _Perceptions:
    frame: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)


def _waves(weeks: int) -> np.ndarray:
    """Survey weeks: one per quarter, the middle week of each period before the forecast."""
    return np.arange(weeks - PERIOD_WEEKS // 2 - 1, -1, -PERIOD_WEEKS)[::-1]


def _perception_survey(rng: np.random.Generator, geo: _Geo, cells: _Cells, sim: _Sim,
                       eng: _Engagement, start: date, weeks: int) -> _Perceptions:
    n_adm2 = len(geo.adm2_pcode)
    surveyed = np.setdiff1d(np.arange(n_adm2), eng.never)
    # level: less safe where violence has been more intense (rank of the unit's intensity)
    inten = np.bincount(cells.adm2, weights=sim.lam[:weeks].sum(0), minlength=n_adm2)
    rank = pd.Series(inten).rank(pct=True).to_numpy()
    safety0 = 4.1 - 1.6 * rank + rng.normal(0, 0.2, n_adm2)
    trust0 = 3.1 + rng.normal(0, 0.35, n_adm2)
    order = surveyed[rng.permutation(len(surveyed))]
    n_small = 1 if len(order) < 20 else 2
    small, drop, rise = order[:n_small], order[n_small:n_small + 2], order[n_small + 2:n_small + 3]
    stable = np.setdiff1d(surveyed, np.concatenate([small, drop, rise]))
    mean_n = np.full(n_adm2, _RESPONDENTS)
    mean_n[small] = _SMALL
    # the changed units are sampled a little more (never the smallest shown sample, which
    # complementary suppression may hide when a small-sample unit is hidden)
    mean_n[np.concatenate([drop, rise])] = 1.5 * _RESPONDENTS
    waves = _waves(weeks)
    wu = np.array([(w, u) for w in waves for u in surveyed], dtype=np.int64).reshape(-1, 2)
    n_resp = rng.poisson(mean_n[wu[:, 1]])
    wk = np.repeat(wu[:, 0], n_resp)
    unit = np.repeat(wu[:, 1], n_resp)
    n = len(wk)
    late = wk >= weeks - PERIOD_WEEKS
    s_mean = safety0[unit] + np.where(late & np.isin(unit, drop), SAFETY_DROP, 0.0)
    t_mean = trust0[unit] + np.where(late & np.isin(unit, rise), TRUST_RISE, 0.0)

    def answer(mean: np.ndarray) -> np.ndarray:
        return np.clip(np.round(mean + rng.normal(0, _NOISE, n)), 1, 5).astype(np.int64)

    day = (np.datetime64(start) + 7 * wk + rng.integers(0, 5, n)).astype("datetime64[D]")
    start_ms = (day.astype("datetime64[ms]") + rng.integers(8 * 3600, 17 * 3600, n) * 1000
                ).astype("datetime64[ms]")
    sub = (start_ms.astype("datetime64[s]") - UTC_OFFSET_HOURS * 3600 + rng.integers(
        3600, 3 * 86400, n)).astype("datetime64[s]")
    order_rows = np.argsort(sub, kind="stable")
    tz = f"+{UTC_OFFSET_HOURS:02d}:00"
    frame = pd.DataFrame({
        "start": _cat(np.datetime_as_string(start_ms, unit="ms"), tz),
        "survey/survey_date": np.datetime_as_string(day, unit="D"),
        "location/admin2": np.asarray(geo.adm2_pcode)[unit],
        "respondent/total": np.ones(n, dtype=np.int64),
        "respondent/women": (rng.random(n) < 0.5).astype(np.int64),
        "respondent/youth": (rng.random(n) < 0.3).astype(np.int64),
        "perception/safety_score": answer(s_mean),
        "perception/trust_mission": answer(t_mean),
        "_uuid": _uuid4(rng, n),
        "_submission_time": np.datetime_as_string(sub, unit="s"),
    }).iloc[order_rows].reset_index(drop=True)
    frame.insert(len(frame.columns), "_index", np.arange(1, n + 1))
    pc = np.asarray(geo.adm2_pcode, dtype=str)
    change_from = (np.datetime64(start) + 7 * (weeks - PERIOD_WEEKS)).astype(str)
    truth = {
        "perception_changes": (
            [{"admin_pcode": str(pc[u]), "measure": "safety", "delta": SAFETY_DROP,
              "from": change_from} for u in sorted(drop)]
            + [{"admin_pcode": str(pc[u]), "measure": "trust", "delta": TRUST_RISE,
                "from": change_from} for u in sorted(rise)]),
        "perception_stable_admin_pcodes": sorted(str(pc[u]) for u in stable),
        "perception_small_sample_admin_pcodes": sorted(str(pc[u]) for u in small),
        "perception_waves": [str(np.datetime64(start) + 7 * int(w)) for w in waves],
    }
    return _Perceptions(frame=frame, truth=truth)


def _topic_shift(rng: np.random.Generator, eng: _Engagement, geo: _Geo, weeks: int,
                 topic: str = "land", share: float = 0.85) -> dict[str, Any]:
    """Make ``topic`` much more common in one unit's consultations of the last period.

    The unit is the one with the most mission records (alerts not counted) in both of the
    last two periods. Changes ``eng.frame`` in place (the generator's own frame).
    """
    f = eng.frame
    mission = ~eng.alert & (f["topics"].astype(str) != "")
    late = eng.week >= weeks - PERIOD_WEEKS
    prev = (eng.week >= weeks - 2 * PERIOD_WEEKS) & ~late
    n_late = np.bincount(eng.adm2[mission & late], minlength=len(geo.adm2_pcode))
    n_prev = np.bincount(eng.adm2[mission & prev], minlength=len(geo.adm2_pcode))
    unit = int(np.argmax(np.minimum(n_late, n_prev)))
    hit = mission & late & (eng.adm2 == unit) & (rng.random(len(f)) < share)
    col = f"topics/{topic}"
    f.loc[hit, col] = 1
    has = f["topics"].astype(str).str.contains(rf"(?:^|\s){topic}(?:\s|$)", regex=True)
    add = hit & ~has.to_numpy()
    f.loc[add, "topics"] = (f.loc[add, "topics"].astype(str) + " " + topic).str.strip()
    return {"topic_changes": [{"admin_pcode": str(geo.adm2_pcode[unit]), "topic": topic,
                               "share_from": round(float(f.loc[mission & prev & (
                                   eng.adm2 == unit), col].mean()), 3),
                               "share_to": round(float(f.loc[mission & late & (
                                   eng.adm2 == unit), col].mean()), 3)}]}


#: The perception survey's config entry and the benchmarks of the demo config.
CONFIG_TEXT = """
[[consultations]]
path = "perception_survey_kobo.csv"
format = "kobo"
modality = "perception_survey"
one_row_per_respondent = true   # answers for perceptions, not engagements
stale_after_days = 120          # quarterly waves

[perceptions]
modalities = []   # perceptions come from the survey's respondents only
period_weeks = 13

[benchmarks]
engagements_per_100k = 1.0   # mission engagements per 13 weeks in high-risk units
women_share = 0.30
youth_share = 0.20
follow_up_weeks = 4
alert_response_hours = 48
"""
