"""Weekly features per H3 cell, streamed week by week with memory flat in the number of weeks.

History is summarised as exponentially decayed counts at several half-lives, per *channel*
(all incidents, civilian targeting, fatalities, battles, remote violence, early-warning alerts,
consultations reporting insecurity), for the cell itself and for its rings of neighbours. The
state is updated recursively (``state_t = decay * state_{t-1} + events_{t-1}``), so a week costs
one multiply over the cell vector plus work proportional to that week's events. Cell-week rows
are only materialised for cells with some history ("active") plus a weighted random sample of
the rest.

Features for week ``t`` only use data dated before the Monday that starts week ``t``
(``tests/test_features.py`` proves it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .arrays import unique
from .index import neighbour_pairs

EPOCH_MONDAY = np.datetime64("1970-01-05")  # weeks are Monday..Sunday
_EPS = 1e-3
_MAX_GAP_WEEKS = 520
ONSET_WEEKS = 52
#: Half-lives of the unit-level history (all incidents of the unit, cell-less ones included).
ADMIN_HALF_LIVES = (4.0, 26.0)


def week_index(dates: pd.Series | np.ndarray) -> np.ndarray:
    """Week number (Monday-based) of each date."""
    d = np.asarray(dates, dtype="datetime64[D]")
    return ((d - EPOCH_MONDAY).astype(np.int64)) // 7


def week_start(index: int) -> pd.Timestamp:
    """Monday starting a week number."""
    return pd.Timestamp(EPOCH_MONDAY + np.timedelta64(int(index) * 7, "D"))


def week_of(day: pd.Timestamp | str) -> int:
    return int(week_index(np.array([pd.Timestamp(day)], dtype="datetime64[D]"))[0])


def monday_of(day: pd.Timestamp | str) -> pd.Timestamp:
    """The Monday of the week containing ``day``."""
    return week_start(week_of(day))


@dataclass(frozen=True)
class Channel:
    """A stream of weighted events whose decayed history becomes features."""

    name: str
    half_lives: tuple[float, ...]
    rings: int = 1


#: Channels used by default. "events" is the target's own history and gets the most detail.
DEFAULT_CHANNELS = (
    Channel("events", (1.0, 4.0, 26.0, 104.0), rings=2),
    Channel("civilian", (4.0, 26.0), rings=1),
    Channel("fatalities", (4.0, 26.0), rings=1),
    Channel("battles", (4.0, 26.0), rings=1),
    Channel("remote", (4.0, 26.0), rings=1),
    Channel("alerts", (2.0, 8.0), rings=1),
    Channel("insecure", (4.0, 26.0), rings=1),
)


@dataclass(frozen=True)
class CellGrid:
    """The cells risk is scored on, sorted, with static attributes aligned to them."""

    cells: np.ndarray  # uint64, sorted, unique
    admin_pcode: np.ndarray  # object
    population: np.ndarray  # float64 (NaN when unknown)
    area_km2: np.ndarray  # float64
    base_distance_km: np.ndarray | None = None  # to the nearest open base
    #: (unit, neighbouring unit) code pairs, codes as ``pd.factorize(admin_pcode)`` gives
    #: them (:func:`geo_risk.dataset.admin_neighbours`); None: computed when needed
    admin_pairs: tuple[np.ndarray, np.ndarray] | None = None

    def positions(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``cells`` in the grid and a mask of those found."""
        cells = np.asarray(cells, dtype=np.uint64)
        if len(self.cells) == 0:
            return np.zeros(len(cells), np.int64), np.zeros(len(cells), bool)
        pos = np.searchsorted(self.cells, cells)
        pos = np.minimum(pos, len(self.cells) - 1)
        return pos, self.cells[pos] == cells

    def __len__(self) -> int:
        return len(self.cells)


@dataclass(frozen=True)
class WeeklyEvents:
    """Sparse cell-week table: one row per (week, cell position) with anything in it."""

    week: np.ndarray  # int64, sorted
    pos: np.ndarray  # int64 grid position
    values: Mapping[str, np.ndarray]  # channel name -> float64 per row

    @property
    def count(self) -> np.ndarray:
        return self.values["events"]

    @classmethod
    def from_frame(cls, grid: CellGrid, *, cells: np.ndarray, dates: pd.Series | np.ndarray,
                   values: Mapping[str, np.ndarray]) -> WeeklyEvents:
        """Aggregate event rows (cell, date, per-channel values) into cell-weeks."""
        pos, found = grid.positions(cells)
        df = pd.DataFrame({"week": week_index(dates)[found], "pos": pos[found],
                           **{k: np.asarray(v, dtype=float)[found] for k, v in values.items()}})
        g = df.groupby(["week", "pos"], sort=True).sum()
        return cls(week=g.index.get_level_values(0).to_numpy(np.int64),
                   pos=g.index.get_level_values(1).to_numpy(np.int64),
                   values={k: g[k].to_numpy() for k in values})

    @classmethod
    def from_events(cls, grid: CellGrid, *, cells: np.ndarray, dates: pd.Series,
                    civilian: np.ndarray, fatalities: np.ndarray) -> WeeklyEvents:
        n = len(cells)
        return cls.from_frame(grid, cells=cells, dates=dates,
                              values={"events": np.ones(n), "civilian": civilian,
                                      "fatalities": fatalities})

    def slice(self, week: int) -> slice:
        lo, hi = np.searchsorted(self.week, [week, week + 1])
        return slice(int(lo), int(hi))

    def window(self, n: int, *, end_week: int, column: str = "events"
               ) -> tuple[np.ndarray, np.ndarray]:
        """(positions, values) of rows in weeks [end_week - n, end_week)."""
        lo, hi = np.searchsorted(self.week, [end_week - n, end_week])
        return self.pos[lo:hi], self.values[column][lo:hi]

    def window_sum(self, n: int, *, end_week: int, size: int, column: str = "events"
                   ) -> np.ndarray:
        """Dense per-cell sum of ``column`` over the ``n`` weeks before ``end_week``."""
        pos, vals = self.window(n, end_week=end_week, column=column)
        return np.bincount(pos, weights=vals, minlength=size)


class _Neighbours:
    """Neighbours (up to ``rings``) of the cells that ever have events, as CSR arrays."""

    def __init__(self, grid: CellGrid, positions: np.ndarray, rings: int) -> None:
        uniq = unique(positions)
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


@dataclass(frozen=True)
class RestrictionIndex:
    """Which cells each access restriction covers, and when it is in force (in weeks)."""

    rid: np.ndarray  # restriction number per (restriction, cell) pair
    pos: np.ndarray  # grid position per pair
    start_week: np.ndarray  # per restriction
    end_week: np.ndarray  # per restriction (large when open-ended)
    severity: np.ndarray  # per restriction

    def at(self, week: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per cell for ``week``: restricted (bool), weeks in force, max severity."""
        active = (self.start_week <= week) & (self.end_week >= week)
        restricted = np.zeros(size, dtype=bool)
        weeks_in = np.zeros(size, dtype=np.float64)
        sev = np.zeros(size, dtype=np.float64)
        sel = active[self.rid]
        if sel.any():
            p, r = self.pos[sel], self.rid[sel]
            restricted[p] = True
            np.maximum.at(weeks_in, p, week - self.start_week[r] + 1)
            np.maximum.at(sev, p, self.severity[r])
        return restricted, weeks_in, sev


@dataclass
class Context:
    """Inputs besides the event streams that features draw on."""

    admin_codes: np.ndarray  # int per grid position (codes of admin_pcode)
    restrictions: RestrictionIndex | None = None
    data_start_week: int | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    #: (week, unit code, incidents) sorted by week: every incident with a unit, those
    #: located only to the unit included (they never reach a cell).
    admin_events: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    #: (unit code, neighbouring unit code) pairs.
    admin_pairs: tuple[np.ndarray, np.ndarray] | None = None


class HistoryState:
    """Decayed per-channel history per cell (own + rings), advanced one week at a time."""

    def __init__(self, grid: CellGrid, events: WeeklyEvents, *,
                 channels: tuple[Channel, ...] = DEFAULT_CHANNELS,
                 context: Context | None = None,
                 half_lives: tuple[float, ...] | None = None, rings: int = 2) -> None:
        if half_lives is not None:  # single "events" channel (simple use and tests)
            channels = (Channel("events", tuple(half_lives), rings=rings),)
        channels = tuple(c for c in channels if c.name in events.values)
        self.grid = grid
        self.events = events
        self.channels = channels
        self.context = context
        rows, decay = [], []
        for c in channels:
            for h in c.half_lives:
                for r in range(c.rings + 1):
                    rows.append((c.name, h, r))
                    decay.append(0.5 ** (1.0 / h))
        self.rows = rows
        self.decay = np.asarray(decay)[:, None]
        n = len(grid)
        self.state = np.zeros((len(rows), n), dtype=np.float64)
        self.last_week = np.full(n, -10**6, dtype=np.int64)
        self.event_weeks = np.zeros(n, dtype=np.float64)  # weeks with >= 1 event, all history
        max_rings = max((c.rings for c in channels), default=0)
        self.neighbours = (_Neighbours(grid, events.pos, max_rings)
                           if len(events.pos) and max_rings else None)
        self.week: int | None = None
        self.first_week: int | None = None
        if context is not None and len(context.admin_codes):
            self._n_admin = int(context.admin_codes.max()) + 1
            self._admin_cells = np.bincount(context.admin_codes, minlength=self._n_admin)
        else:
            self._n_admin = 0
        self._unit_history = bool(self._n_admin and context is not None
                                  and context.admin_events is not None)
        self.admin_state = np.zeros((len(ADMIN_HALF_LIVES), self._n_admin))
        self._admin_decay = (0.5 ** (1.0 / np.asarray(ADMIN_HALF_LIVES)))[:, None]

    # -- names ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        out = []
        for name, h, r in self.rows:
            where = "own" if r == 0 else f"ring{r}"
            out.append(f"{name}_{where}_{h:g}w")
        return out

    def feature_names(self) -> list[str]:
        extra = ["log_weeks_since_last", "hist_event_week_rate", "log_pop_density"]
        if self._n_admin:
            extra += ["admin_events_26w", "admin_events_104w"]
        if self._unit_history:
            extra += [f"admin_all_{h:g}w" for h in ADMIN_HALF_LIVES]
            extra += [f"admin_nbr_{h:g}w" for h in ADMIN_HALF_LIVES]
        if self.context is not None and self.context.restrictions is not None:
            extra += ["restricted", "log_restricted_weeks", "restriction_severity"]
        if self.grid.base_distance_km is not None:
            extra += ["log_base_distance_km"]
        return [*self.names(), *extra]

    # -- stepping ------------------------------------------------------------------------
    def start(self, week: int) -> None:
        """Start streaming at ``week``: decayed state from zero, but the event-week counts
        and the last event week of each cell from all history before ``week`` (cheap: one
        pass over the sparse cell-week rows), so the long-run rate and onsets are true."""
        self.week = week
        self.first_week = week
        self.state[:] = 0.0
        self.last_week[:] = -10**6
        self.event_weeks[:] = 0.0
        self.admin_state[:] = 0.0
        ev = self.events
        if "events" in ev.values and len(ev.week):
            hi = int(np.searchsorted(ev.week, week))
            has = ev.values["events"][:hi] > 0
            pos, wk = ev.pos[:hi][has], ev.week[:hi][has]
            self.event_weeks += np.bincount(pos, minlength=len(self.grid))
            np.maximum.at(self.last_week, pos, wk)

    def advance(self) -> None:
        """Fold the events of the current week in and move to the next week."""
        assert self.week is not None
        sl = self.events.slice(self.week)
        self.state *= self.decay
        if sl.stop > sl.start:
            pos = self.events.pos[sl]
            n = len(self.grid)
            i = 0
            for c in self.channels:
                vals = self.events.values[c.name][sl]
                nz = vals != 0
                spread = [self.neighbours.spread(pos[nz], vals[nz], r, n)  # type: ignore[union-attr]
                          for r in range(1, c.rings + 1)] if nz.any() else []
                for _h in c.half_lives:
                    self.state[i, pos] += vals
                    for r in range(c.rings):
                        if spread:
                            self.state[i + 1 + r] += spread[r]
                    i += 1 + c.rings
            has = self.events.values["events"][sl] > 0 if "events" in self.events.values \
                else np.zeros(len(pos), bool)
            self.last_week[pos[has]] = self.week
            self.event_weeks[pos[has]] += 1.0
        if self._unit_history:
            self._advance_units()
        self.week += 1

    def _advance_units(self) -> None:
        assert self.context is not None and self.context.admin_events is not None
        assert self.week is not None
        wk, code, count = self.context.admin_events
        lo, hi = np.searchsorted(wk, [self.week, self.week + 1])
        self.admin_state *= self._admin_decay
        if hi > lo:
            self.admin_state += np.bincount(code[lo:hi], weights=count[lo:hi],
                                            minlength=self._n_admin)[None, :]

    def _unit_features(self, pos: np.ndarray) -> list[np.ndarray]:
        """Unit totals (decayed) of the cell's unit and of its neighbouring units."""
        assert self.context is not None
        codes = self.context.admin_codes[pos]
        out = [np.log1p(self.admin_state[i][codes])[:, None]
               for i in range(len(ADMIN_HALF_LIVES))]
        pairs = self.context.admin_pairs
        for i in range(len(ADMIN_HALF_LIVES)):
            nbr: np.ndarray = np.zeros(self._n_admin)
            if pairs is not None and len(pairs[0]):
                nbr = np.bincount(pairs[0], weights=self.admin_state[i][pairs[1]],
                                  minlength=self._n_admin)
            out.append(np.log1p(nbr[codes])[:, None])
        return out

    # -- reading -------------------------------------------------------------------------
    def active(self) -> np.ndarray:
        """Positions with any non-negligible history."""
        return np.flatnonzero(self.state.max(axis=0) > _EPS)

    def weeks_since_last(self, pos: np.ndarray) -> np.ndarray:
        assert self.week is not None
        return np.minimum(self.week - self.last_week[pos], _MAX_GAP_WEEKS)

    def onset(self, pos: np.ndarray) -> np.ndarray:
        """True where the cell had no event in the last ONSET_WEEKS weeks."""
        return self.weeks_since_last(pos) > ONSET_WEEKS

    def event_week_rate(self, pos: np.ndarray) -> np.ndarray:
        """Share of weeks with >= 1 event since the data began (all history, see start)."""
        assert self.week is not None and self.first_week is not None
        start = self.first_week
        if self.context is not None and self.context.data_start_week is not None:
            start = min(start, self.context.data_start_week)
        elif len(self.events.week):
            start = min(start, int(self.events.week[0]))
        return self.event_weeks[pos] / max(1, self.week - start)

    def row(self, name: str, half_life: float, ring: int = 0) -> np.ndarray:
        return self.state[self.rows.index((name, half_life, ring))]

    def features(self, pos: np.ndarray) -> np.ndarray:
        """Feature matrix (rows = ``pos``) for the current week; see :meth:`feature_names`."""
        assert self.week is not None and self.first_week is not None
        g = self.grid
        hist = np.log1p(self.state[:, pos]).T
        cols = [hist, np.log1p(self.weeks_since_last(pos))[:, None],
                self.event_week_rate(pos)[:, None],
                np.log1p(np.nan_to_num(g.population[pos], nan=0.0) / g.area_km2[pos])[:, None]]
        ctx = self.context
        if self._n_admin and ctx is not None:
            codes = ctx.admin_codes
            for h in (26.0, 104.0):
                key = ("events", h, 0)
                own = self.state[self.rows.index(key)] if key in self.rows else np.zeros(len(g))
                per_admin = np.bincount(codes, weights=own, minlength=self._n_admin)
                cols.append(np.log1p(per_admin / np.maximum(self._admin_cells, 1))[codes[pos]]
                            [:, None])
        if self._unit_history:
            cols += self._unit_features(pos)
        if ctx is not None and ctx.restrictions is not None:
            restricted, weeks_in, sev = ctx.restrictions.at(self.week, len(g))
            cols += [restricted[pos][:, None].astype(float), np.log1p(weeks_in[pos])[:, None],
                     sev[pos][:, None]]
        if g.base_distance_km is not None:
            cols.append(np.log1p(g.base_distance_km[pos])[:, None])
        return np.column_stack(cols).astype(np.float32)


@dataclass
class TrainingSet:
    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    week: np.ndarray
    onset: np.ndarray
    feature_names: list[str]

    @classmethod
    def empty(cls, feature_names: list[str]) -> TrainingSet:
        """No rows, with the columns of ``feature_names``."""
        return cls(X=np.zeros((0, len(feature_names)), np.float32), y=np.zeros(0, np.int8),
                   weight=np.zeros(0), week=np.zeros(0, np.int64), onset=np.zeros(0, bool),
                   feature_names=list(feature_names))

    @classmethod
    def concat(cls, parts: list[TrainingSet]) -> TrainingSet:
        return cls(X=np.concatenate([p.X for p in parts]), y=np.concatenate([p.y for p in parts]),
                   weight=np.concatenate([p.weight for p in parts]),
                   week=np.concatenate([p.week for p in parts]),
                   onset=np.concatenate([p.onset for p in parts]),
                   feature_names=parts[0].feature_names)

    def take(self, rows: np.ndarray) -> TrainingSet:
        """The rows at ``rows`` (positions or a boolean mask), in order."""
        return TrainingSet(X=self.X[rows], y=self.y[rows], weight=self.weight[rows],
                           week=self.week[rows], onset=self.onset[rows],
                           feature_names=self.feature_names)


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


def week_rows(state: HistoryState, rng: np.random.Generator, *, inactive_per_week: int
              ) -> TrainingSet:
    """Training rows of the current week: active cells, every positive, and a weighted
    sample of the inactive cells standing for all of them."""
    assert state.week is not None
    n = len(state.grid)
    active = state.active()
    y_all = label_vector(state.events, state.week, n)
    mask = np.ones(n, dtype=bool)
    mask[active] = False
    inactive = np.flatnonzero(mask)
    pos_inactive = inactive[y_all[inactive] > 0]
    rest = inactive[y_all[inactive] <= 0]
    rows, weights = [active, pos_inactive], [np.ones(len(active)), np.ones(len(pos_inactive))]
    if inactive_per_week and len(rest):
        m = min(inactive_per_week, len(rest))
        rows.append(rng.choice(rest, size=m, replace=False))
        weights.append(np.full(m, len(rest) / m))
    pos = np.concatenate(rows)
    return TrainingSet(X=state.features(pos), y=(y_all[pos] > 0).astype(np.int8),
                       weight=np.concatenate(weights),
                       week=np.full(len(pos), state.week, dtype=np.int64),
                       onset=state.onset(pos), feature_names=state.feature_names())


def thin_negatives(ts: TrainingSet, *, max_rows: int, rng: np.random.Generator) -> TrainingSet:
    """Keep every positive; sample negatives down to about ``max_rows`` and re-weight them."""
    if len(ts.y) <= max_rows:
        return ts
    neg = ts.y == 0
    rate = max(1e-6, (max_rows - (~neg).sum()) / max(1, neg.sum()))
    keep = ~neg | (rng.random(len(ts.y)) < rate)
    w = np.where(neg, ts.weight / rate, ts.weight)
    return TrainingSet(X=ts.X[keep], y=ts.y[keep], weight=w[keep], week=ts.week[keep],
                       onset=ts.onset[keep], feature_names=ts.feature_names)


def build_training_set(state: HistoryState, *, first: int, last: int, inactive_sample: int,
                       max_rows: int = 3_000_000, seed: int = 0,
                       progress: bool = False) -> TrainingSet:
    """Cell-week rows for weeks [first, last] (see :func:`week_rows`).
    Labels: 1 when the cell has at least one event in that week.
    """
    rng = np.random.default_rng(seed)
    n_weeks = max(1, last - first + 1)
    per_week = max(1, inactive_sample // n_weeks) if inactive_sample else 0
    weeks = iterate_weeks(state, first=first, last=last)
    if progress:
        from tqdm import tqdm

        weeks = tqdm(weeks, total=n_weeks, desc="training weeks", unit="wk", leave=False)
    # Thinned week by week: memory stays flat in the number of weeks (all weeks' rows
    # together would be several times max_rows before a final thinning).
    cap = max(1, max_rows // n_weeks)
    parts = [thin_negatives(week_rows(state, rng, inactive_per_week=per_week), max_rows=cap,
                            rng=rng) for _ in weeks]
    if not parts:
        return TrainingSet.empty(state.feature_names())
    return thin_negatives(TrainingSet.concat(parts), max_rows=max_rows, rng=rng)
