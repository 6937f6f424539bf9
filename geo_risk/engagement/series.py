"""Weekly rolling sums per admin unit and the suppression of small groups, shared by the
perception, topic and benchmark series (:mod:`geo_risk.engagement.voice`).

A series point ``s`` (0 = the forecast week, 1 = the week before, ...) is the sum over the
records dated in the ``window`` weeks before that point's Monday. Everything is computed for
all units and points at once with ``numpy.bincount`` and a cumulative sum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def weeks_before(dates: pd.Series | np.ndarray, week: pd.Timestamp) -> np.ndarray:
    """Whole weeks between a record and the forecast week's Monday: 0 for a record of the
    seven days just before it, 1 for the week before that, ...; -1 for records dated on or
    after the Monday (never counted) and for missing dates.

    Examples
    --------
    >>> weeks_before(pd.Series(pd.to_datetime(["2024-01-07", "2024-01-01", "2024-01-08"])),
    ...              pd.Timestamp("2024-01-08")).tolist()
    [0, 0, -1]
    """
    d = np.asarray(pd.to_datetime(pd.Series(dates)).to_numpy("datetime64[D]"))
    age = (np.datetime64(week.date(), "D") - d).astype("timedelta64[D]").astype(float)
    out = np.floor((age - 1) / 7)
    out[~np.isfinite(out) | (age < 1)] = -1
    return out.astype(np.int64)


def rolling(*, unit_pos: np.ndarray, weeks_ago: np.ndarray, values: np.ndarray, n_units: int,
            points: int, window: int) -> np.ndarray:
    """Sums of ``values`` per unit over a ``window``-week window ending at each point.

    Parameters
    ----------
    unit_pos : numpy.ndarray
        Each record's unit position (0..n_units-1; -1 = not counted).
    weeks_ago : numpy.ndarray
        :func:`weeks_before` of each record.
    values : numpy.ndarray
        Shape (records, m): the quantities to sum.
    n_units : int
        Number of units.
    points, window : int
        Series points (0 = forecast week) and window length in weeks.

    Returns
    -------
    numpy.ndarray
        Shape (n_units, points, m): ``out[u, s]`` sums records of unit ``u`` with
        ``s <= weeks_ago < s + window``.
    """
    vals = np.asarray(values, dtype=float)
    vals = vals.reshape(len(unit_pos), vals.shape[-1] if vals.ndim > 1 else 1)
    nb = points + window - 1
    ok = (unit_pos >= 0) & (weeks_ago >= 0) & (weeks_ago < nb)
    flat = unit_pos[ok] * nb + weeks_ago[ok]
    out = np.zeros((n_units, points, vals.shape[1]))
    for j in range(vals.shape[1]):  # a loop over measures, not records
        weekly = np.bincount(flat, weights=vals[ok, j], minlength=n_units * nb).reshape(
            n_units, nb)
        c = np.concatenate([np.zeros((n_units, 1)), np.cumsum(weekly, axis=1)], axis=1)
        s = np.arange(points)
        out[:, :, j] = c[:, s + window] - c[:, s]
    return out


def suppress(*, n: np.ndarray, part: np.ndarray, k: int,
             groups: list[np.ndarray]) -> np.ndarray:
    """Which unit-points may be shown: at least ``k`` records and ``k`` people, and no group
    total that, minus its shown units, would reveal fewer than ``k`` records or people.

    Parameters
    ----------
    n, part : numpy.ndarray
        Shape (units, points): records and people per unit and point.
    k : int
        ``min_count``.
    groups : list of numpy.ndarray
        Boolean unit masks of the published group totals (mission-wide, high-risk units);
        their order does not matter (each step only hides more).

    Returns
    -------
    numpy.ndarray
        Boolean (units, points).

    Examples
    --------
    Unit 1 alone is below k = 5; the mission total would give it away, so the smallest
    shown unit (2) is hidden too:

    >>> n = np.array([[9.], [2.], [6.]])
    >>> suppress(n=n, part=n * 10, k=5, groups=[np.ones(3, bool)]).ravel().tolist()
    [True, False, False]
    """
    shown = (n >= k) & (part >= k)
    for _ in range(2):  # a second pass settles a group changed by another group's step
        for g in groups:
            g2 = np.asarray(g, bool)[:, None]
            rem_n = (n * (g2 & ~shown)).sum(0)
            rem_p = (part * (g2 & ~shown)).sum(0)
            bad = ((rem_n > 0) & (rem_n < k)) | ((rem_p > 0) & (rem_p < k))
            if not bad.any():
                continue
            cand = np.where(shown & g2, n, np.inf)
            j = cand.argmin(0)
            cols = np.flatnonzero(bad & np.isfinite(cand.min(0)))
            shown[j[cols], cols] = False
    return shown


def wilson(x: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``x / n`` (NaN where ``n`` is 0).

    Written out (a few lines of numpy, vectorised over units and weeks) rather than calling
    ``scipy.stats.binomtest`` once per value; the tests check it against scipy.
    """
    n = np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.asarray(x, float) / n
        den = 1 + z * z / n
        mid = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


__all__ = ["rolling", "suppress", "weeks_before", "wilson"]
