"""Which training rows the single-process run would draw, replayed from partition counts.

:func:`geo_risk.forecast.forecast` draws, week by week, a random sample of the inactive
cells (``rng.choice`` over the whole grid's inactive cells) and then thins negatives
(``rng.random`` over all rows of the training window), from one generator, in one order.
Both draws depend only on *how many* rows of each kind a week has, not on their features.
The dask engine therefore counts rows per partition first, replays the same generator here
on the driver, and asks each partition for the features of exactly the rows that survive:
the training set is the single-process one, row for row, while only the kept rows (at most
``max_rows`` per model) ever leave the workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .partition import Weeks

#: Row kinds in a week's layout: active cells, inactive cells with an event, sampled rest.
ACTIVE, POSITIVE, REST = 0, 1, 2


@dataclass(frozen=True)
class Counts:
    """Per partition (rows) and training week (columns): rows of each kind."""

    active: np.ndarray  # (P, W)
    positive: np.ndarray  # (P, W) inactive cells with an event
    rest: np.ndarray  # (P, W) inactive cells without
    pos_active: list[list[np.ndarray]]  # [p][w]: ranks of active rows with an event


@dataclass(frozen=True)
class RowPlan:
    """Training rows in the single-process order, with labels and weights."""

    week: np.ndarray
    part: np.ndarray
    kind: np.ndarray
    rank: np.ndarray
    y: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.week)

    @classmethod
    def concat(cls, plans: list[RowPlan]) -> RowPlan:
        if not plans:
            z = np.zeros(0, np.int64)
            return cls(z, z, z, z, np.zeros(0, np.int8), np.zeros(0))
        return cls(*(np.concatenate([getattr(p, f) for p in plans])
                     for f in ("week", "part", "kind", "rank", "y", "weight")))


def _week_rows(counts: Counts, i: int, week: int,
               sampled: tuple[np.ndarray, np.ndarray, float] | None) -> RowPlan:
    """A week's rows: active cells (partition by partition, each in grid order), then the
    inactive cells with an event, then the sampled rest in the generator's order."""
    n_parts = counts.active.shape[0]
    parts, kinds, ranks, ys = [], [], [], []
    for kind, table in ((ACTIVE, counts.active), (POSITIVE, counts.positive)):
        n = table[:, i]
        parts.append(np.repeat(np.arange(n_parts), n))
        ranks.append(np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
        kinds.append(np.full(n.sum(), kind))
        if kind == ACTIVE:
            y = np.zeros(n.sum(), np.int8)
            offsets = np.cumsum(n) - n
            for p in range(n_parts):
                y[offsets[p] + counts.pos_active[p][i]] = 1
            ys.append(y)
        else:
            ys.append(np.ones(n.sum(), np.int8))
    weights = [np.ones(counts.active[:, i].sum() + counts.positive[:, i].sum())]
    if sampled is not None:
        part, rank, weight = sampled
        parts.append(part)
        ranks.append(rank)
        kinds.append(np.full(len(part), REST))
        ys.append(np.zeros(len(part), np.int8))
        weights.append(np.full(len(part), weight))
    part_ = np.concatenate(parts)
    return RowPlan(week=np.full(len(part_), week, np.int64), part=part_,
                   kind=np.concatenate(kinds), rank=np.concatenate(ranks).astype(np.int64),
                   y=np.concatenate(ys), weight=np.concatenate(weights))


def _thin(rng: np.random.Generator, rows: list[RowPlan], max_rows: int) -> RowPlan:
    """:func:`geo_risk.features.thin_negatives` on the concatenated rows, week by week
    (the generator's doubles come out the same in one draw or in consecutive draws)."""
    total = sum(len(r) for r in rows)
    if total <= max_rows:
        return RowPlan.concat(rows)
    n_pos = int(sum(int(r.y.sum()) for r in rows))
    rate = max(1e-6, (max_rows - n_pos) / max(1, total - n_pos))
    kept = []
    for r in rows:
        neg = r.y == 0
        keep = ~neg | (rng.random(len(r)) < rate)
        w = np.where(neg, r.weight / rate, r.weight)
        kept.append(RowPlan(week=r.week[keep], part=r.part[keep], kind=r.kind[keep],
                            rank=r.rank[keep], y=r.y[keep], weight=w[keep]))
    return RowPlan.concat(kept)


def plan_training(counts: Counts, *, weeks: Weeks, training_weeks: int, inactive_sample: int,
                  max_rows: int, seed: int, first_train: int) -> RowPlan:
    """The training rows, as :func:`geo_risk.forecast.forecast` draws them from scratch:
    each week's rows with a generator seeded by that week (:func:`geo_risk.forecast.week_part`:
    sample of the rest, then thinned to the week's share of ``max_rows``), the training
    window thinned with a generator seeded by its first and last week."""
    per_week = max(1, inactive_sample // training_weeks)
    cap = max(1, max_rows // training_weeks)
    parts: dict[int, RowPlan] = {}
    for wk in range(weeks.first_needed, weeks.row_last + 1):
        rng = np.random.default_rng([seed, wk % 2**32])
        rest = counts.rest[:, wk - weeks.first_needed]
        total = int(rest.sum())
        sampled = None
        if total:
            m = min(per_week, total)
            idx = rng.choice(total, size=m, replace=False)
            ends = np.cumsum(rest)
            part = np.searchsorted(ends, idx, side="right")
            sampled = (part, idx - (ends - rest)[part], total / m)
        rows = _week_rows(counts, wk - weeks.first_needed, wk, sampled)
        parts[wk] = _thin(rng, [rows], cap)

    def window(lo: int, hi: int) -> RowPlan:
        sel = [parts[wk] for wk in sorted(parts) if lo <= wk <= hi and len(parts[wk])]
        if not sel:
            return RowPlan.concat([])
        return _thin(np.random.default_rng([seed, lo % 2**32, hi % 2**32]), sel, max_rows)

    return window(first_train, (weeks.train or weeks.t) - weeks.n_hist)


def plan_backtest(counts: Counts, *, weeks: Weeks, training_weeks: int, inactive_sample: int,
                  max_rows: int, seed: int, refit_every: int) -> dict[int, RowPlan]:
    """The training rows of every refit of :func:`geo_risk.backtest.run_backtest`, by refit
    week, drawn as it draws them (``weeks.n_val`` is the first forecast week, ``weeks.t``
    the last, ``weeks.first_needed`` the first week with training rows)."""
    rng = np.random.default_rng(seed)
    per_week = max(1, inactive_sample // training_weeks)
    first = weeks.n_val
    sampled: dict[int, tuple[np.ndarray, np.ndarray, float] | None] = {}
    buffer: list[int] = []
    refits: dict[int, RowPlan] = {}
    for wk in range(weeks.start, weeks.t + 1):
        if wk >= first and ((wk - first) % refit_every == 0 or not refits):
            rows = [_week_rows(counts, b - weeks.first_needed, b, sampled[b]) for b in buffer]
            refits[wk] = _thin(rng, rows, max_rows)
        if wk >= weeks.first_needed:
            rest = counts.rest[:, wk - weeks.first_needed]
            total = int(rest.sum())
            sampled[wk] = None
            if total:
                m = min(per_week, total)
                idx = rng.choice(total, size=m, replace=False)
                ends = np.cumsum(rest)
                part = np.searchsorted(ends, idx, side="right")
                sampled[wk] = (part, idx - (ends - rest)[part], total / m)
            buffer = [*buffer, wk][-training_weeks:]
    return refits
