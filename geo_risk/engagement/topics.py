"""Grievances and needs by topic: the share of consultations raising each KoBo
select-multiple topic (security, displacement, land, services, reconciliation, ...) per admin
unit and period, and its change against the previous period with an interval.

Free text is never published: only choice-like words (lower-case letters, digits and
underscores, at most 40 characters) count as topics, and without a configured list only
those that at least ``min_count`` records raise. A share is shown when the unit has at least
``min_count`` records with topics and ``min_count`` participants in the period (after
complementary suppression). The change's interval is Newcombe's hybrid score interval for a
difference of proportions, built on Wilson intervals (:func:`~.series.wilson`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri  # normal quantile; scipy.stats costs ~0.7 s of import

from ..voice_config import TopicConfig
from .perceptions import signal
from .series import rolling, wilson
from .voice_types import Indicator, Rows

_CHOICE = r"^[a-z][a-z0-9_]{0,39}$"


def topic_matrix(topics: pd.Series, *, names: tuple[str, ...], k: int
                 ) -> tuple[list[str], np.ndarray]:
    """The topics reported and a 0/1 matrix (records x topics) of which each record raises.

    Parameters
    ----------
    topics : pandas.Series
        Space-separated select-multiple answers (any case).
    names : tuple of str
        Topics to report; empty = every choice-like word raised by at least ``k`` records.
    k : int
        ``min_count``.

    Returns
    -------
    tuple
        Topic names (sorted unless configured) and the float matrix.

    Examples
    --------
    >>> names, m = topic_matrix(pd.Series(["land security", "land", "Call me!"]), names=(),
    ...                         k=2)
    >>> names, m[:, 0].tolist()
    (['land'], [1.0, 1.0, 0.0])
    """
    # Answers repeat (a form has a handful of choices): split each distinct answer once.
    codes, uniq = pd.factorize(topics.fillna("").astype(str).str.casefold())
    dummies = pd.Series(uniq, dtype=object).str.get_dummies(sep=" ")
    dummies = dummies.loc[:, dummies.columns.str.fullmatch(_CHOICE)]
    per_answer = dummies.to_numpy(float)[codes] if len(uniq) else np.zeros((0, 0))
    if names:
        chosen = list(names)
    else:
        counts = pd.Series(per_answer.sum(axis=0), index=dummies.columns)
        chosen = sorted(counts.index[counts >= k])
    at = dummies.columns.get_indexer(pd.Index(chosen))
    mat = np.where(at >= 0, per_answer[:, np.clip(at, 0, None)] if per_answer.size
                   else np.zeros((len(topics), len(chosen))), 0.0)
    return chosen, mat.reshape(len(topics), len(chosen))


def newcombe(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, *,
             confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x1/n1 - x2/n2`` and Newcombe's hybrid score interval (method 10), element-wise."""
    z = float(ndtri(0.5 + confidence / 2))  # = norm.ppf
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = np.asarray(x1, float) / n1, np.asarray(x2, float) / n2
    d = p1 - p2
    return (d, d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def topic_indicators(*, rec: pd.DataFrame, rows: Rows, cfg: TopicConfig, period_weeks: int,
                     confidence: float) -> tuple[list[str], list[Indicator]]:
    """Per topic, ``topic_<name>_share`` and ``topic_<name>_change`` (with interval).

    Parameters
    ----------
    rec : pandas.DataFrame
        Mission engagement records: ``unit_pos``, ``weeks_ago``, ``part``, ``topics``.
        Records without topics are not counted. Not modified.
    rows : Rows
        Units, groups and series length.
    cfg : TopicConfig
        Topics to report.
    period_weeks, confidence : int, float
        The period (as for perceptions) and the interval's confidence.

    Returns
    -------
    tuple
        Topic names and indicators (also ``topic_records``: records with topics).
    """
    r = rec.loc[rec["topics"].fillna("").astype(str).str.strip() != ""]
    names, mat = topic_matrix(r["topics"], names=cfg.names, k=rows.k)
    P, S, U = period_weeks, rows.points, rows.n_units
    sums = rolling(unit_pos=r["unit_pos"].to_numpy(), weeks_ago=r["weeks_ago"].to_numpy(),
                   values=np.column_stack([np.ones(len(r)), r["part"].to_numpy(float), mat]),
                   n_units=U, points=S + P, window=P)
    sums = rows.with_groups(sums)
    shown = rows.shown_mission_only(sums)
    n = sums[:, :, 0]
    out = [Indicator("topic_records", "topic", n[:, :S], shown[:, :S])]
    both = shown[:, :S] & shown[:, P:P + S]
    for j, t in enumerate(names):
        x = sums[:, :, 2 + j]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = x / n
        d, lo, hi = newcombe(x[:, :S], n[:, :S], x[:, P:P + S], n[:, P:P + S],
                             confidence=confidence)
        out.append(Indicator(f"topic_{t}_share", "topic", share[:, :S], shown[:, :S]))
        out.append(Indicator(f"topic_{t}_change", "topic", d, both,
                             low=np.where(both, lo, np.nan), high=np.where(both, hi, np.nan),
                             signal=np.where(both, signal(lo, hi), "")))
    return names, out


__all__ = ["newcombe", "topic_indicators", "topic_matrix"]
