"""Engagement against the mission's own benchmarks, week by week (``[benchmarks]``).

Every weekly value is measured over the ``window_weeks`` before that week, per admin unit,
mission-wide and over the high-risk units (matrix level in ``high_risk_levels`` this week):

- ``engagements``, ``participants`` and ``engagements_per_100k`` (mission engagements, not
  community alerts, per 100,000 inhabitants; its target applies to high-risk units);
- ``women_share``, ``youth_share`` of participants (where the form records them);
- ``follow_up_share``: of the commitments due in the window (their own due date, else
  ``follow_up_weeks`` after the meeting), the share marked done. The form records today's
  status, not the day it was done: a past week's value is the share done by now;
- ``alert_response_share``: of the early-warning alerts of the window, the share answered
  within ``alert_response_hours``; it needs the alert records' ``response_hours`` (from the
  log's ``received_at`` and ``responded_at``, or its own column) and is "no data" otherwise.

Counts below ``min_count`` (records, people, commitments or alerts) are suppressed with
everything derived from them, and group totals never give a hidden unit away
(:func:`~.series.suppress`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..voice_config import BenchmarkConfig
from .series import rolling, suppress, weeks_before
from .voice_types import Indicator, Rows

#: Benchmark indicators in the order the brief lists them, with their words.
BENCHMARK_TEXT = {
    "engagements_per_100k": "Mission engagements per 100,000 people",
    "women_share": "Women's share of participants",
    "youth_share": "Youth share of participants",
    "follow_up_share": "Commitments followed up when due",
    "alert_response_share": "Alerts answered in time",
}


def _target(cfg: BenchmarkConfig, name: str) -> float | None:
    if name == "follow_up_share":
        return cfg.follow_up_share if cfg.follow_up_weeks is not None else None
    if name == "alert_response_share":
        return cfg.alert_response_share if cfg.alert_response_hours is not None else None
    value = getattr(cfg, name)
    return None if value is None else float(value)


def _met(ind: Indicator, target: float | None, applies: np.ndarray) -> Indicator:
    if target is None:
        return ind
    met = np.where(ind.shown & applies[:, None], ind.value >= target - 1e-12, np.nan)
    return Indicator(ind.name, ind.family, ind.value, ind.shown, target=target, met=met,
                     applies=applies, no_data=ind.no_data)


def benchmark_indicators(*, rec: pd.DataFrame, alerts: pd.DataFrame, rows: Rows,
                         unit_pop: np.ndarray, high_risk: np.ndarray, week: pd.Timestamp,
                         cfg: BenchmarkConfig, follow_up_weeks: int) -> list[Indicator]:
    """The weekly engagement indicators and, where a target is set, met / not met.

    Parameters
    ----------
    rec : pandas.DataFrame
        Mission engagement records: ``unit_pos``, ``weeks_ago``, ``date``, ``part``,
        ``women``, ``women_rec``, ``youth``, ``youth_rec``, ``made``, ``done``, ``due``.
    alerts : pandas.DataFrame
        Early-warning alerts: ``unit_pos``, ``weeks_ago``; ``response_hours`` when known.
    rows : Rows
        Units, groups (mission-wide, high-risk units) and series length.
    unit_pop : numpy.ndarray
        Inhabitants per unit.
    high_risk : numpy.ndarray
        Boolean per unit: the engagement-rate target applies.
    week : pandas.Timestamp
        The forecast week's Monday.
    cfg : BenchmarkConfig
        Targets and window.
    follow_up_weeks : int
        Default due delay of a commitment without its own due date.

    Returns
    -------
    list of Indicator
    """
    S, U, R, k = rows.points, rows.n_units, cfg.window_weeks, rows.k
    pos, ago = rec["unit_pos"].to_numpy(), rec["weeks_ago"].to_numpy()
    base = rows.with_groups(rolling(
        unit_pos=pos, weeks_ago=ago, n_units=U, points=S, window=R,
        values=np.column_stack([np.ones(len(rec)), rec[["part", "women", "women_rec", "youth",
                                                        "youth_rec"]].to_numpy(float)])))
    shown = rows.shown(suppress(n=base[:U, :, 0], part=base[:U, :, 1], k=k,
                                groups=rows.groups), base)
    pop = np.concatenate([unit_pop, [unit_pop[np.asarray(g, bool)].sum() for g in rows.groups]])
    n, part = base[:, :, 0], base[:, :, 1]
    every = np.ones(len(pop), dtype=bool)
    hr_rows = np.concatenate([high_risk, [bool(np.asarray(g, bool)[high_risk].all())
                                          and np.asarray(g, bool).any()
                                          for g in rows.groups]])
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = n / pop[:, None] * 1e5
        out = [
            Indicator("engagements", "benchmark", n, shown),
            Indicator("participants", "benchmark", part, shown),
            _met(Indicator("engagements_per_100k", "benchmark", rate,
                           shown & (pop[:, None] > 0)),
                 _target(cfg, "engagements_per_100k"), hr_rows),
            _met(Indicator("women_share", "benchmark", base[:, :, 2] / base[:, :, 3],
                           shown & (base[:, :, 3] > 0)), _target(cfg, "women_share"), every),
            _met(Indicator("youth_share", "benchmark", base[:, :, 4] / base[:, :, 5],
                           shown & (base[:, :, 5] > 0)), _target(cfg, "youth_share"), every),
        ]
    # follow-up: commitments binned by the week they fall due
    fu_weeks = cfg.follow_up_weeks or follow_up_weeks
    made = rec["made"].to_numpy(bool)
    due = pd.Series(rec["due"].to_numpy("datetime64[ns]")).fillna(
        pd.Series(rec["date"].to_numpy("datetime64[ns]")) + pd.Timedelta(weeks=fu_weeks))
    fu = rows.with_groups(rolling(
        unit_pos=pos[made], weeks_ago=weeks_before(due[made], week), n_units=U, points=S,
        window=R, values=np.column_stack([np.ones(int(made.sum())),
                                          np.ones(int(made.sum())),
                                          rec["done"].to_numpy(float)[made]])))
    fu_shown = rows.shown(suppress(n=fu[:U, :, 0], part=fu[:U, :, 1], k=k,
                                   groups=rows.groups), fu)
    with np.errstate(invalid="ignore", divide="ignore"):
        out.append(_met(Indicator("follow_up_share", "benchmark", fu[:, :, 2] / fu[:, :, 0],
                                  fu_shown), _target(cfg, "follow_up_share"), every))
    out.append(_alert_indicator(alerts, rows=rows, cfg=cfg))
    return out


def _alert_indicator(alerts: pd.DataFrame, *, rows: Rows, cfg: BenchmarkConfig) -> Indicator:
    """Share of alerts answered within ``alert_response_hours`` ("no data" without times)."""
    S, U = rows.points, rows.n_units
    size = (U + len(rows.groups), S)
    target = _target(cfg, "alert_response_share")
    applies = np.ones(size[0], dtype=bool)
    if "response_hours" not in alerts.columns or cfg.alert_response_hours is None:
        ind = Indicator("alert_response_share", "benchmark", np.full(size, np.nan),
                        np.zeros(size, dtype=bool), no_data=True)
        return _met(ind, target, applies)
    hours = pd.to_numeric(alerts["response_hours"], errors="coerce").to_numpy(float)
    in_time = np.isfinite(hours) & (hours <= cfg.alert_response_hours)
    a = rows.with_groups(rolling(
        unit_pos=alerts["unit_pos"].to_numpy(), weeks_ago=alerts["weeks_ago"].to_numpy(),
        n_units=U, points=S, window=cfg.window_weeks,
        values=np.column_stack([np.ones(len(alerts)), np.ones(len(alerts)), in_time])))
    shown = rows.shown(suppress(n=a[:U, :, 0], part=a[:U, :, 1], k=rows.k,
                                groups=rows.groups), a)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _met(Indicator("alert_response_share", "benchmark", a[:, :, 2] / a[:, :, 0],
                              shown), target, applies)


__all__ = ["BENCHMARK_TEXT", "benchmark_indicators"]
