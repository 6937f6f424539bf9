"""Perceptions by area and over time: mean perceived safety, trust in the mission (any
Likert-style measure of the config), respondents and their women/youth shares per admin unit,
and the change against the previous period with a Welch interval.

Small samples must not look like trends: a change is shown only when both periods are shown
(at least ``min_count`` responses and respondents, after complementary suppression), always
with its interval, and marked "within noise" when the interval holds 0. The interval is
Welch's t interval for a difference of means (unequal variances), the one
``scipy.stats.ttest_ind(equal_var=False).confidence_interval`` gives; here written for all
units and weeks at once (the tests check it against scipy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtrit  # t quantile; scipy.stats costs ~0.7 s of import

from ..voice_config import PerceptionConfig
from .series import rolling
from .voice_types import Indicator, Rows

#: Signal words of a change: its interval is above 0, below 0, or holds 0.
UP, DOWN, NOISE = "up", "down", "within noise"


def welch_interval(*, mean1: np.ndarray, var1: np.ndarray, n1: np.ndarray, mean2: np.ndarray,
                   var2: np.ndarray, n2: np.ndarray, confidence: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference ``mean1 - mean2`` and its Welch t interval, element-wise.

    Parameters
    ----------
    mean1, var1, n1, mean2, var2, n2 : numpy.ndarray
        Means, sample variances (ddof 1) and sizes of the two samples (sizes >= 2).
    confidence : float
        E.g. 0.95.

    Returns
    -------
    tuple of numpy.ndarray
        Difference, lower and upper bound (NaN where a size is below 2; a difference of two
        constant samples has a zero-width interval).
    """
    n1, n2 = np.asarray(n1, float), np.asarray(n2, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        a, b = var1 / n1, var2 / n2
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
        t = stdtrit(np.where(np.isfinite(df), df, 1.0), 0.5 + confidence / 2)  # = t.ppf
        half = np.where(se > 0, t * se, 0.0)
    diff = np.asarray(mean1, float) - mean2
    bad = (n1 < 2) | (n2 < 2)
    diff = np.where(bad, np.nan, diff)
    return diff, diff - np.where(bad, np.nan, half), diff + np.where(bad, np.nan, half)


def signal(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """"up" / "down" when the interval excludes 0, "within noise" when it holds it, "" when
    there is no interval."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    return np.where(np.isnan(low) | np.isnan(high), "",
                    np.where(low > 0, UP, np.where(high < 0, DOWN, NOISE))).astype(object)


def perception_indicators(*, obs: pd.DataFrame, rows: Rows, cfg: PerceptionConfig, k: int
                          ) -> list[Indicator]:
    """Weekly perception indicators per unit and group (see module docstring).

    Parameters
    ----------
    obs : pandas.DataFrame
        Responses: ``unit_pos``, ``weeks_ago``, ``part``, ``women``, ``women_rec``,
        ``youth``, ``youth_rec`` and one float column per Likert column of ``cfg.measures``
        (NaN where not answered). Not modified.
    rows : Rows
        Units, groups and series length.
    cfg : PerceptionConfig
        Measures, period and confidence.
    k : int
        ``min_count``.

    Returns
    -------
    list of Indicator
        ``respondents``, ``respondents_women_share``, ``respondents_youth_share`` and per
        measure ``<name>_mean`` and ``<name>_change`` (with interval and signal).
    """
    P, S, U = cfg.period_weeks, rows.points, rows.n_units
    ext = S + P
    cols = [c for _, c in cfg.measures if c in obs.columns]
    answered = (obs[cols].notna().any(axis=1).to_numpy() if cols
                else np.zeros(len(obs), dtype=bool))
    o = obs.loc[answered]
    base = rolling(unit_pos=o["unit_pos"].to_numpy(), weeks_ago=o["weeks_ago"].to_numpy(),
                   values=np.column_stack([np.ones(len(o)), o[[
                       "part", "women", "women_rec", "youth", "youth_rec"]].to_numpy(float)]),
                   n_units=U, points=ext, window=P)
    base = rows.with_groups(base)
    shown = rows.shown_mission_only(base)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = [
            Indicator("respondents", "perception", base[:, :S, 1], shown[:, :S]),
            Indicator("respondents_women_share", "perception",
                      base[:, :S, 2] / base[:, :S, 3], shown[:, :S] & (base[:, :S, 3] > 0)),
            Indicator("respondents_youth_share", "perception",
                      base[:, :S, 4] / base[:, :S, 5], shown[:, :S] & (base[:, :S, 5] > 0)),
        ]
    for name, col in cfg.measures:
        if col not in o.columns:
            continue
        x = pd.to_numeric(o[col], errors="coerce").to_numpy(float)
        has = np.isfinite(x)
        m = rolling(unit_pos=o["unit_pos"].to_numpy()[has],
                    weeks_ago=o["weeks_ago"].to_numpy()[has],
                    values=np.column_stack([np.ones(has.sum()), o["part"].to_numpy(float)[has],
                                            x[has], x[has] ** 2]),
                    n_units=U, points=ext, window=P)
        m = rows.with_groups(m)
        ok = shown & rows.shown_mission_only(m)
        n = m[:, :, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = m[:, :, 2] / n
            var = np.clip((m[:, :, 3] - n * mean**2) / (n - 1), 0, None)
        diff, low, high = welch_interval(mean1=mean[:, :S], var1=var[:, :S], n1=n[:, :S],
                                         mean2=mean[:, P:P + S], var2=var[:, P:P + S],
                                         n2=n[:, P:P + S], confidence=cfg.confidence)
        both = ok[:, :S] & ok[:, P:P + S]
        out.append(Indicator(f"{name}_mean", "perception", mean[:, :S], ok[:, :S]))
        out.append(Indicator(f"{name}_change", "perception", diff, both,
                             low=np.where(both, low, np.nan), high=np.where(both, high, np.nan),
                             signal=np.where(both, signal(low, high), "")))
    return out


__all__ = ["DOWN", "NOISE", "UP", "perception_indicators", "signal", "welch_interval"]
