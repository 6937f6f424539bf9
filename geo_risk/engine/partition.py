"""One partition of the grid, as a dask worker holds it: its own cells (the *core*), the
neighbour rings around them that the features read (the *halo*), and the streamed feature
state of both.

Partitions are contiguous ranges of the sorted grid cut at coarse H3 parent cells: the
children of an H3 cell are contiguous in the sorted order of cell ids, so a partition's
core cells keep their relative order and "global position = first position + local rank".
That is what lets the dask engine reproduce the single-process run cell for cell (see
:mod:`geo_risk.engine.plan`). The halo holds every grid cell within ``halo_rings`` rings of
a core cell, so the ring features of core cells see every event they would see on the
whole grid, summed in the same order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..dataset import restriction_index
from ..features import (
    ADMIN_HALF_LIVES,
    CellGrid,
    Channel,
    Context,
    HistoryState,
    WeeklyEvents,
    label_vector,
)
from ..forecast import facts_for, score_weeks
from ..index import neighbour_pairs

#: Half-lives of the "admin_events_{h}w" features: the mean decayed own-cell history over a
#: whole admin unit, which spans partitions (summed on the driver, see ``unit_partials``).
UNIT_MEAN_HALF_LIVES = (26.0, 104.0)


@dataclass(frozen=True)
class Weeks:
    """The week numbers of one forecast (as :func:`geo_risk.forecast.forecast` sets them)."""

    start: int  # the state starts streaming here (warm-up included)
    first_needed: int  # first week with training rows
    t: int  # the forecast week
    n_val: int  # the backtest's first forecast week; 0 in a weekly run (no weeks of its own)
    n_hist: int  # history weeks scored for the map (forecast week included)
    train: int = 0  # the retraining week (:class:`geo_risk.forecast.Plan`; 0 = ``t``)

    @property
    def row_last(self) -> int:
        """Last week with training rows (later weeks are scored for the map)."""
        return self.t - self.n_hist


@dataclass(frozen=True)
class Shared:
    """What every partition reads (scattered once to every worker, read-only)."""

    grid: CellGrid  # whole grid, base distances included
    events: WeeklyEvents  # whole grid's cell-week streams
    admin_codes: np.ndarray  # unit code per grid position
    admin_cells: np.ndarray  # grid cells per unit code
    admin_events: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    admin_pairs: tuple[np.ndarray, np.ndarray] | None
    data_start_week: int | None
    restrictions: gpd.GeoDataFrame | None
    channels: tuple[Channel, ...]
    admin_names: pd.Series
    weeks: Weeks
    halo_rings: int = 2


class PartitionState(HistoryState):
    """:class:`HistoryState` over core + halo whose unit-level inputs are the whole grid's.

    Unit codes, unit cell counts and unit totals are global, so the unit features of a core
    cell equal those of the single-process run.
    """

    def __init__(self, grid: CellGrid, events: WeeklyEvents, *, channels: tuple[Channel, ...],
                 context: Context, admin_cells: np.ndarray) -> None:
        super().__init__(grid, events, channels=channels, context=context)
        if self._n_admin:
            self._n_admin = len(admin_cells)
            self._admin_cells = admin_cells
            self.admin_state = np.zeros((len(ADMIN_HALF_LIVES), self._n_admin))
        #: (weeks, len(UNIT_MEAN_HALF_LIVES), units) whole-grid sums of own-cell history,
        #: from week ``unit_week0``; set by the driver before features are read.
        self.unit_sums: np.ndarray | None = None
        self.unit_week0 = 0
        names = self.feature_names()
        self._unit_cols = [(names.index(f"admin_events_{h:g}w"), h)
                           for h in UNIT_MEAN_HALF_LIVES
                           if ("events", h, 0) in self.rows and f"admin_events_{h:g}w" in names]

    def features(self, pos: np.ndarray) -> np.ndarray:
        X = super().features(pos)
        if self.unit_sums is not None and self._unit_cols and self.context is not None:
            assert self.week is not None
            sums = self.unit_sums[self.week - self.unit_week0]
            codes = self.context.admin_codes[pos]
            for col, h in self._unit_cols:
                j = UNIT_MEAN_HALF_LIVES.index(h)
                X[:, col] = np.log1p(sums[j] / np.maximum(self._admin_cells, 1))[codes]
        return X

    def unit_partials(self, core: np.ndarray) -> np.ndarray:
        """This partition's share of the unit sums of own-cell history, now."""
        assert self.context is not None
        codes = self.context.admin_codes[core]
        out = np.zeros((len(UNIT_MEAN_HALF_LIVES), self._n_admin))
        for j, h in enumerate(UNIT_MEAN_HALF_LIVES):
            if ("events", h, 0) in self.rows:
                out[j] = np.bincount(codes, weights=self.row("events", h, 0)[core],
                                     minlength=self._n_admin)
        return out


def _frame(X: np.ndarray, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(X, columns=names)


class Partition:
    """Core + halo cells of one partition, its feature state and what it streamed.

    Each stage (``count``, ``stream``, ``score``, ``explain``) is run by the driver as a
    dask task that takes the partition and returns it, with the stage's result in ``out``.
    """

    def __init__(self, shared: Shared, *, lo: int, hi: int, index: int) -> None:
        t0 = time.perf_counter()
        g = shared.grid
        self.index, self.lo, self.hi = index, lo, hi
        self.weeks = shared.weeks
        _, nbr, _ = neighbour_pairs(g.cells[lo:hi], k=shared.halo_rings)
        npos, found = g.positions(nbr)
        local = np.union1d(np.arange(lo, hi), npos[found])  # global positions, sorted
        self.core = np.flatnonzero((local >= lo) & (local < hi))  # local positions
        self.is_core = np.zeros(len(local), bool)
        self.is_core[self.core] = True
        bd = g.base_distance_km
        grid = CellGrid(cells=g.cells[local], admin_pcode=g.admin_pcode[local],
                        population=g.population[local], area_km2=g.area_km2[local],
                        base_distance_km=None if bd is None else bd[local])
        ev = shared.events
        in_part = np.zeros(len(g), bool)
        in_part[local] = True
        keep = in_part[ev.pos]
        events = WeeklyEvents(week=ev.week[keep], pos=np.searchsorted(local, ev.pos[keep]),
                              values={k: v[keep] for k, v in ev.values.items()})
        codes = shared.admin_codes[local]
        admin_events = shared.admin_events
        if admin_events is not None and shared.admin_pairs is not None:
            units = np.unique(codes)
            a, b = shared.admin_pairs
            units = np.union1d(units, b[np.isin(a, units)])
            sel = np.isin(admin_events[1], units)
            admin_events = (admin_events[0][sel], admin_events[1][sel], admin_events[2][sel])
        context = Context(admin_codes=codes, restrictions=restriction_index(grid,
                                                                            shared.restrictions),
                          data_start_week=shared.data_start_week, admin_events=admin_events,
                          admin_pairs=shared.admin_pairs)
        self.state = PartitionState(grid, events, channels=shared.channels, context=context,
                                    admin_cells=shared.admin_cells)
        self.names = self.state.feature_names()
        self.admin_names = shared.admin_names
        self.n_local = len(local)
        self.n_halo = len(local) - len(self.core)
        self.X_hist: dict[int, np.ndarray] = {}
        self.out: Any = None
        #: Wall seconds per stage on the worker (the build included), for scaling estimates.
        self.seconds: dict[str, float] = {"build": time.perf_counter() - t0}

    # -- per week ------------------------------------------------------------------------
    def _row_sets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Label vector and the core's active / positive-inactive / rest positions, in
        grid order (as :func:`geo_risk.features.week_rows` splits the whole grid)."""
        s = self.state
        assert s.week is not None
        active = s.active()
        active = active[self.is_core[active]]
        y = label_vector(s.events, s.week, self.n_local)
        mask = self.is_core.copy()
        mask[active] = False
        inactive = np.flatnonzero(mask)
        return y, active, inactive[y[inactive] > 0], inactive[y[inactive] <= 0]

    def _advance_to(self, week: int) -> None:
        s = self.state
        assert s.week is not None
        while s.week < week:
            s.advance()

    # -- stage 1: counts -----------------------------------------------------------------
    def count(self) -> Partition:
        """Stream every week once; per training week the row counts the driver's sampling
        needs, and per feature week this partition's share of the unit sums."""
        s, w = self.state, self.weeks
        s.start(w.start)
        self._advance_to(w.first_needed)
        n_rows = max(0, w.row_last - w.first_needed + 1)
        counts = np.zeros((3, n_rows), np.int64)
        pos_active: list[np.ndarray] = []
        partials = np.zeros((w.t - w.first_needed + 1, len(UNIT_MEAN_HALF_LIVES),
                             self.state._n_admin))
        assert s.week is not None
        while s.week <= w.t:
            wk = s.week
            if wk <= w.row_last:
                y, active, pos_inactive, rest = self._row_sets()
                counts[:, wk - w.first_needed] = (len(active), len(pos_inactive), len(rest))
                pos_active.append(np.flatnonzero(y[active] > 0).astype(np.int32))
            if self.state._n_admin:
                partials[wk - w.first_needed] = s.unit_partials(self.core)
            if wk == w.t:
                break
            s.advance()
        self.out = {"counts": counts, "pos_active": pos_active, "unit_partials": partials}
        return self

    # -- stage 2: training rows, map weeks ----------------------------------------------------
    def restart(self, *, requests: np.ndarray, unit_sums: np.ndarray) -> Partition:
        """Start streaming again; ``requests`` are (week, kind, rank) rows to extract
        (kind 0 active, 1 positive inactive, 2 rest), sorted by week."""
        s, w = self.state, self.weeks
        s.start(w.start)
        s.unit_sums, s.unit_week0 = unit_sums, w.first_needed
        self._advance_to(w.first_needed)
        self.requests = requests
        self.out = None
        return self

    def stream(self, *, last: int) -> Partition:
        """Stream to week ``last`` (the forecast week at most, which is not passed): the
        requested training rows and the map weeks' features."""
        s, w = self.state, self.weeks
        rq = self.requests
        X_rows, y_rows, onset_rows, keys = [], [], [], []
        assert s.week is not None
        while s.week <= last:
            wk = s.week
            lo, hi = np.searchsorted(rq[:, 0], [wk, wk + 1])
            if wk <= w.row_last and hi > lo:
                y, active, pos_inactive, rest = self._row_sets()
                kind, rank = rq[lo:hi, 1], rq[lo:hi, 2]
                pos = np.zeros(len(kind), np.int64)
                for code, where in enumerate((active, pos_inactive, rest)):
                    sel = kind == code
                    pos[sel] = where[rank[sel]]
                X_rows.append(s.features(pos))
                y_rows.append((y[pos] > 0).astype(np.int8))
                onset_rows.append(s.onset(pos))
                keys.append(rq[lo:hi])
            if wk > w.t - w.n_hist:
                self.X_hist[wk] = s.features(self.core)
            if wk == w.t:
                break
            s.advance()
        k = len(self.names)
        self.out = {
            "keys": np.concatenate(keys) if keys else np.zeros((0, 3), np.int64),
            "X": np.concatenate(X_rows) if X_rows else np.zeros((0, k), np.float32),
            "y": np.concatenate(y_rows) if y_rows else np.zeros(0, np.int8),
            "onset": np.concatenate(onset_rows) if onset_rows else np.zeros(0, bool)}
        return self

    # -- stage 3: scores -----------------------------------------------------------------
    def score(self, *, model: Any, parts_dir: str | None) -> Partition:
        """Score the map's weeks with the served model; the core's onsets and facts; write
        this partition's cells to ``parts_dir`` (GeoParquet) when given."""
        w = self.weeks
        risk, low, high = score_weeks(
            model, {wk: _frame(X, self.names) for wk, X in self.X_hist.items()}, week=w.t)
        onset = self.state.onset(self.core)
        facts = facts_for(self.state, self.core, admin_names=self.admin_names)
        self.out = {"risk": risk, "low": low, "high": high, "onset": onset, "facts": facts}
        if parts_dir is not None:
            self._write(parts_dir, risk=risk[w.t], prev=risk[w.t - 1], low=low, high=high,
                        onset=onset)
        return self

    def _write(self, parts_dir: str, *, risk: np.ndarray, prev: np.ndarray, low: np.ndarray,
               high: np.ndarray, onset: np.ndarray) -> None:
        from pathlib import Path

        import h3ronpy
        import pyarrow as pa

        from ..index import cells_to_polygons

        cells = self.state.grid.cells[self.core]
        frame = gpd.GeoDataFrame({
            "cell": np.asarray(h3ronpy.cells_to_string(pa.array(cells)).to_pylist(), object),
            "admin_pcode": self.state.grid.admin_pcode[self.core],
            "risk": risk, "risk_prev": prev, "risk_low": low, "risk_high": high,
            "onset": onset, "partition": np.full(len(cells), self.index, np.int32)},
            geometry=cells_to_polygons(cells).to_numpy(), crs="EPSG:4326")
        frame.to_parquet(Path(parts_dir) / f"part-{self.index:05d}.parquet", index=False)

    def explain(self, *, model: Any, rows: np.ndarray) -> Partition:
        """Feature contributions of the forecast week for core rows ``rows``."""
        X = _frame(self.X_hist[self.weeks.t][rows], self.names)
        if not len(rows):
            self.out = pd.DataFrame(columns=self.names, dtype=float)
            return self
        self.out = model.contributions(X).reset_index(drop=True)
        return self


class BacktestPartition(Partition):
    """A partition streaming a rolling-origin backtest (:mod:`geo_risk.engine.backtest`).

    ``weeks`` here: ``start`` (streaming starts), ``first_needed`` (first week with training
    rows: the first forecast week minus the training weeks), ``t`` (the last forecast week),
    ``n_val`` (the first forecast week) and ``n_hist`` (unused, 0).
    """

    def count(self) -> Partition:
        s, w = self.state, self.weeks
        s.start(w.start)
        n_rows = max(0, w.t - w.first_needed + 1)
        counts = np.zeros((3, n_rows), np.int64)
        pos_active: list[np.ndarray] = []
        partials = np.zeros((n_rows, len(UNIT_MEAN_HALF_LIVES), s._n_admin))
        assert s.week is not None
        while s.week <= w.t:
            wk = s.week
            if wk >= w.first_needed:
                y, active, pos_inactive, rest = self._row_sets()
                counts[:, wk - w.first_needed] = (len(active), len(pos_inactive), len(rest))
                pos_active.append(np.flatnonzero(y[active] > 0).astype(np.int32))
                if s._n_admin:
                    partials[wk - w.first_needed] = s.unit_partials(self.core)
            s.advance()
        self.out = {"counts": counts, "pos_active": pos_active, "unit_partials": partials}
        return self

    def restart(self, *, requests: np.ndarray, unit_sums: np.ndarray) -> Partition:
        s, w = self.state, self.weeks
        s.start(w.start)
        s.unit_sums, s.unit_week0 = unit_sums, w.first_needed
        self.requests = requests
        self.kept: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self.out = None
        return self

    def stream(self, *, last: int, candidates: dict[str, Any] | None = None) -> Partition:
        """Weeks up to ``last``: score forecast weeks with ``candidates``, keep the
        requested training rows."""
        s, w = self.state, self.weeks
        rq = self.requests
        scores: dict[int, tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]] = {}
        assert s.week is not None
        while s.week <= last:
            wk = s.week
            if wk >= w.n_val and candidates:
                frame = _frame(s.features(self.core), self.names)
                y_all = label_vector(s.events, wk, self.n_local)[self.core]
                scores[wk] = ({m: est.predict_proba(frame)[:, 1]
                               for m, est in candidates.items()}, y_all,
                              s.onset(self.core))
            lo, hi = np.searchsorted(rq[:, 0], [wk, wk + 1])
            if wk >= w.first_needed and hi > lo:
                y, active, pos_inactive, rest = self._row_sets()
                kind, rank = rq[lo:hi, 1], rq[lo:hi, 2]
                pos = np.zeros(len(kind), np.int64)
                for code, where in enumerate((active, pos_inactive, rest)):
                    sel = kind == code
                    pos[sel] = where[rank[sel]]
                self.kept[wk] = (rq[lo:hi], s.features(pos), (y[pos] > 0).astype(np.int8),
                                 s.onset(pos))
            s.advance()
        self.out = scores
        return self

    def take(self, *, weeks: tuple[int, int], drop_before: int) -> Partition:
        """The kept rows of weeks in [lo, hi]; forget rows of weeks before ``drop_before``."""
        for wk in [k for k in self.kept if k < drop_before]:
            del self.kept[wk]
        sel = [self.kept[wk] for wk in sorted(self.kept) if weeks[0] <= wk <= weeks[1]]
        k = len(self.names)
        self.out = {
            "keys": np.concatenate([x[0] for x in sel]) if sel else np.zeros((0, 3), np.int64),
            "X": np.concatenate([x[1] for x in sel]) if sel else np.zeros((0, k), np.float32),
            "y": np.concatenate([x[2] for x in sel]) if sel else np.zeros(0, np.int8),
            "onset": np.concatenate([x[3] for x in sel]) if sel else np.zeros(0, bool)}
        return self
