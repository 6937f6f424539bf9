"""Weekly features per H3 cell, streamed week by week with memory flat in the number of weeks.

History is summarised as exponentially decayed incident counts at several half-lives, for the
cell itself and for its first and second rings of neighbours. The state is updated recursively
(``state_t = decay * state_{t-1} + events_{t-1}``), so each week costs one multiply over the cell
vector plus work proportional to that week's events; cell-week rows are only materialised for
cells with some history ("active") plus a weighted sample of the rest.

Features for week ``t`` only use events dated before the Monday that starts week ``t``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .index import neighbour_pairs

EPOCH_MONDAY = np.datetime64("1970-01-05")  # weeks are Monday..Sunday
_EPS = 1e-3
_MAX_GAP_WEEKS = 520


def week_index(dates: pd.Series | np.ndarray) -> np.ndarray:
    """Week number (Monday-based) of each date."""
    d = np.asarray(dates, dtype="datetime64[D]")
    return ((d - EPOCH_MONDAY).astype(np.int64)) // 7


def week_start(index: int) -> pd.Timestamp:
    """Monday starting a week number."""
    return pd.Timestamp(EPOCH_MONDAY + np.timedelta64(int(index) * 7, "D"))


def monday_of(day: pd.Timestamp | str) -> pd.Timestamp:
    """The Monday of the week containing ``day``."""
    return week_start(int(week_index(np.array([pd.Timestamp(day)], dtype="datetime64[D]"))[0]))


@dataclass(frozen=True)
class CellGrid:
    """The cells risk is scored on, sorted, with static attributes aligned to them."""

    cells: np.ndarray  # uint64, sorted, unique
    admin_pcode: np.ndarray  # object
    population: np.ndarray  # float64 (NaN when unknown)
    area_km2: np.ndarray  # float64

    def positions(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``cells`` in the grid and a mask of those found."""
        cells = np.asarray(cells, dtype=np.uint64)
        pos = np.searchsorted(self.cells, cells)
        pos = np.minimum(pos, len(self.cells) - 1)
        return pos, self.cells[pos] == cells

    def __len__(self) -> int:
        return len(self.cells)


@dataclass(frozen=True)
class WeeklyEvents:
    """Sparse cell-week event table: one row per (week, cell position) with events."""

    week: np.ndarray  # int64, sorted
    pos: np.ndarray  # int64 grid position
    count: np.ndarray  # float64
    civilian: np.ndarray  # float64 civilian-targeting events
    fatalities: np.ndarray  # float64

    @classmethod
    def from_events(cls, grid: CellGrid, *, cells: np.ndarray, dates: pd.Series,
                    civilian: np.ndarray, fatalities: np.ndarray) -> WeeklyEvents:
        pos, found = grid.positions(cells)
        wk = week_index(dates)
        df = pd.DataFrame({"week": wk[found], "pos": pos[found], "count": 1.0,
                           "civilian": np.asarray(civilian, dtype=float)[found],
                           "fatalities": np.asarray(fatalities, dtype=float)[found]})
        g = df.groupby(["week", "pos"], sort=True).sum()
        return cls(week=g.index.get_level_values(0).to_numpy(np.int64),
                   pos=g.index.get_level_values(1).to_numpy(np.int64),
                   count=g["count"].to_numpy(), civilian=g["civilian"].to_numpy(),
                   fatalities=g["fatalities"].to_numpy())

    def slice(self, week: int) -> slice:
        lo, hi = np.searchsorted(self.week, [week, week + 1])
        return slice(int(lo), int(hi))

    def window_sum(self, n: int, *, end_week: int, column: str = "count") -> np.ndarray:
        """Per grid position, sum of ``column`` over weeks [end_week - n, end_week)."""
        lo, hi = np.searchsorted(self.week, [end_week - n, end_week])
        values = getattr(self, column)[lo:hi]
        return self.pos[lo:hi], values


class _Neighbours:
    """Ring-1/ring-2 neighbours of the cells that ever have events, as CSR arrays."""

    def __init__(self, grid: CellGrid, positions: np.ndarray, rings: int) -> None:
        uniq = np.unique(positions)
        origin, nbr, dist = neighbour_pairs(grid.cells[uniq], k=rings)
        npos, found = grid.positions(nbr)
        opos, _ = grid.positions(origin)
        opos, npos, dist = opos[found], npos[found], dist[found]
        order = np.argsort(opos, kind="stable")
        self.opos, self.npos, self.dist = opos[order], npos[order], dist[order]
        self.starts = np.searchsorted(self.opos, np.arange(len(grid) + 1))

    def spread(self, pos: np.ndarray, values: np.ndarray, ring: int, size: int) -> np.ndarray:
        """Dense vector: sum of ``values`` at ``pos`` received by each neighbour at ``ring``."""
        lo, hi = self.starts[pos], self.starts[pos + 1]
        counts = hi - lo
        idx = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        vals = np.repeat(values, counts)
        sel = self.dist[idx] == ring
        return np.bincount(self.npos[idx][sel], weights=vals[sel], minlength=size)


class HistoryState:
    """Decayed own/ring-1/ring-2 history per cell, advanced one week at a time."""

    def __init__(self, grid: CellGrid, events: WeeklyEvents, *,
                 half_lives: tuple[float, ...], rings: int = 2) -> None:
        self.grid = grid
        self.events = events
        self.half_lives = tuple(half_lives)
        self.rings = rings
        self.decay = np.array([0.5 ** (1.0 / h) for h in half_lives])
        n = len(grid)
        # rows: for each half-life, [own, ring1, ring2]
        self.state = np.zeros((len(half_lives) * (1 + rings), n), dtype=np.float64)
        self.last_week = np.full(n, -10**6, dtype=np.int64)
        self.neighbours = _Neighbours(grid, events.pos, rings) if len(events.pos) else None
        self.week: int | None = None

    def names(self) -> list[str]:
        out = []
        for h in self.half_lives:
            hl = f"{h:g}w"
            out += [f"own_{hl}", *(f"ring{r}_{hl}" for r in range(1, self.rings + 1))]
        return out

    def start(self, week: int) -> None:
        self.week = week
        self.state[:] = 0.0
        self.last_week[:] = -10**6

    def advance(self) -> None:
        """Fold the events of the current week in and move to the next week."""
        assert self.week is not None
        sl = self.events.slice(self.week)
        k = 1 + self.rings
        self.state *= np.repeat(self.decay, k)[:, None]
        if sl.stop > sl.start:
            pos, cnt = self.events.pos[sl], self.events.count[sl]
            spread = [self.neighbours.spread(pos, cnt, r, len(self.grid))  # type: ignore[union-attr]
                      for r in range(1, self.rings + 1)]
            for i in range(len(self.half_lives)):
                self.state[i * k, pos] += cnt
                for r in range(self.rings):
                    self.state[i * k + 1 + r] += spread[r]
            self.last_week[pos] = self.week
        self.week += 1

    def active(self) -> np.ndarray:
        """Positions with any non-negligible history."""
        return np.flatnonzero(self.state.max(axis=0) > _EPS)

    def features(self, pos: np.ndarray) -> np.ndarray:
        """Feature matrix (rows = ``pos``) for the current week; see :meth:`feature_names`."""
        assert self.week is not None
        hist = np.log1p(self.state[:, pos]).T
        gap = np.minimum(self.week - self.last_week[pos], _MAX_GAP_WEEKS)
        pop = self.grid.population[pos]
        dens = np.log1p(np.nan_to_num(pop, nan=0.0) / self.grid.area_km2[pos])
        return np.column_stack([hist, np.log1p(gap), dens]).astype(np.float32)

    def feature_names(self) -> list[str]:
        return [*self.names(), "log_weeks_since_last", "log_pop_density"]


@dataclass
class TrainingSet:
    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    week: np.ndarray
    feature_names: list[str]


def iterate_weeks(state: HistoryState, *, first: int, last: int) -> Iterator[int]:
    """Advance ``state`` to each week in [first, last] and yield it (features = before it)."""
    assert state.week is not None
    while state.week < first:
        state.advance()
    while state.week <= last:
        yield state.week
        state.advance()


def label_vector(events: WeeklyEvents, week: int, size: int) -> np.ndarray:
    sl = events.slice(week)
    y = np.zeros(size, dtype=np.float64)
    y[events.pos[sl]] = events.count[sl]
    return y


def build_training_set(state: HistoryState, *, first: int, last: int, inactive_sample: int,
                       max_active_rows: int = 3_000_000, seed: int = 0,
                       progress: bool = False) -> TrainingSet:
    """Cell-week rows for weeks [first, last]: every active cell, plus a weighted random
    sample of inactive cells (their weight makes the sample stand for all of them).
    Labels: 1 when the cell has at least one event in that week.
    """
    rng = np.random.default_rng(seed)
    n = len(state.grid)
    n_weeks = max(1, last - first + 1)
    per_week_inactive = max(1, inactive_sample // n_weeks) if inactive_sample else 0
    Xs, ys, ws, wks = [], [], [], []
    weeks = iterate_weeks(state, first=first, last=last)
    if progress:
        from tqdm import tqdm

        weeks = tqdm(weeks, total=n_weeks, desc="training weeks", unit="wk", leave=False)
    n_active_total = 0
    for week in weeks:
        active = state.active()
        y_all = label_vector(state.events, week, n)
        mask = np.ones(n, dtype=bool)
        mask[active] = False
        inactive = np.flatnonzero(mask)
        rows = [active]
        weights = [np.ones(len(active))]
        if per_week_inactive and len(inactive):
            m = min(per_week_inactive, len(inactive))
            pick = rng.choice(inactive, size=m, replace=False)
            rows.append(pick)
            weights.append(np.full(m, len(inactive) / m))
        # Inactive positives are always kept so rare onsets are seen by the model.
        pos_inactive = inactive[y_all[inactive] > 0]
        if len(pos_inactive):
            rows.append(pos_inactive)
            weights.append(np.ones(len(pos_inactive)))
            if per_week_inactive and len(inactive):
                # the sample may contain them too: drop those duplicates
                dup = np.isin(rows[1], pos_inactive)
                rows[1], weights[1] = rows[1][~dup], weights[1][~dup]
        pos = np.concatenate(rows)
        Xs.append(state.features(pos))
        ys.append((y_all[pos] > 0).astype(np.int8))
        ws.append(np.concatenate(weights))
        wks.append(np.full(len(pos), week, dtype=np.int64))
        n_active_total += len(active)
    X = np.concatenate(Xs) if Xs else np.zeros((0, len(state.feature_names())), np.float32)
    y = np.concatenate(ys) if ys else np.zeros(0, np.int8)
    w = np.concatenate(ws) if ws else np.zeros(0)
    wk = np.concatenate(wks) if wks else np.zeros(0, np.int64)
    if n_active_total > max_active_rows:
        # Keep every positive; thin the negatives and re-weight them.
        keep_rate = max_active_rows / n_active_total
        neg = y == 0
        keep = ~neg | (rng.random(len(y)) < keep_rate)
        w = np.where(neg, w / keep_rate, w)
        X, y, w, wk = X[keep], y[keep], w[keep], wk[keep]
    return TrainingSet(X=X, y=y, weight=w, week=wk, feature_names=state.feature_names())
