"""Streamed features equal their direct definition and never look into the future."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from shapely.geometry import box

from geo_risk.features import (
    CellGrid,
    HistoryState,
    WeeklyEvents,
    build_training_set,
    iterate_weeks,
    monday_of,
    week_index,
    week_start,
)
from geo_risk.index import assign_admin, cell_areas_km2, cover_cells, points_to_cells


def _grid(res: int = 7) -> CellGrid:
    admin = gpd.GeoDataFrame({"admin_pcode": ["A"]}, geometry=[box(30.0, 5.0, 30.4, 5.4)],
                             crs="EPSG:4326")
    cover = cover_cells(admin, resolution=res)
    cells = cover["cell"].to_numpy(np.uint64)
    return CellGrid(cells=cells, admin_pcode=cover["admin_pcode"].to_numpy(object),
                    population=np.full(len(cells), 100.0), area_km2=cell_areas_km2(cells))


def _events(grid: CellGrid, n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(grid.cells) // 4, size=n)  # concentrated in part of the grid
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    return pd.DataFrame({"cell": grid.cells[pick], "date": dates})


def test_week_helpers() -> None:
    assert week_start(int(week_index(np.array(["2024-07-03"], dtype="datetime64[D]"))[0])) == \
        pd.Timestamp("2024-07-01")
    assert monday_of("2024-07-07") == pd.Timestamp("2024-07-01")  # Sunday -> its Monday
    assert monday_of("2024-07-08") == pd.Timestamp("2024-07-08")


def test_points_to_cells_matches_h3_and_handles_missing() -> None:
    lat = np.array([5.1, np.nan, 5.3, 95.0])
    lon = np.array([30.1, 30.0, 30.3, 30.0])
    cells = points_to_cells(lat=lat, lon=lon, resolution=7)
    assert cells[0] == h3.str_to_int(h3.latlng_to_cell(5.1, 30.1, 7))
    assert cells[2] == h3.str_to_int(h3.latlng_to_cell(5.3, 30.3, 7))
    assert cells[1] == 0 and cells[3] == 0


def test_assign_admin_snaps_within_tolerance_only() -> None:
    admin = gpd.GeoDataFrame({"admin_pcode": ["A", "B"]},
                             geometry=[box(30, 5, 30.5, 5.5), box(30.5, 5, 31, 5.5)],
                             crs="EPSG:4326")
    # inside A; 1.1 km west of A; 11 km west of A
    pcode, dist = assign_admin(lon=np.array([30.2, 29.99, 29.9]), lat=np.array([5.2, 5.2, 5.2]),
                               admin=admin, tolerance_km=2.0)
    assert pcode.tolist() == ["A", "A", ""]
    assert dist[0] == 0 and 1.0 < dist[1] < 1.2 and np.isnan(dist[2])


def test_streamed_state_equals_direct_decayed_sum() -> None:
    grid = _grid()
    ev = _events(grid)
    weekly = WeeklyEvents.from_events(grid, cells=ev["cell"].to_numpy(), dates=ev["date"],
                                      civilian=np.zeros(len(ev)), fatalities=np.zeros(len(ev)))
    half_lives = (1.0, 4.0)
    state = HistoryState(grid, weekly, half_lives=half_lives)
    first = int(weekly.week.min())
    target = first + 20
    state.start(first)
    for _ in iterate_weeks(state, first=target, last=target - 1):
        pass
    assert state.week == target
    # direct definition: own_h(c, t) = sum over events e in c with week w < t of d^(t-1-w)
    wk = week_index(ev["date"])
    pos, _ = grid.positions(ev["cell"].to_numpy())
    for i, h in enumerate(half_lives):
        d = 0.5 ** (1 / h)
        w = np.where(wk < target, d ** (target - 1 - wk), 0.0)
        own = np.bincount(pos, weights=w, minlength=len(grid))
        np.testing.assert_allclose(state.state[i * 3], own, rtol=1e-9, atol=1e-12)
        # ring 1: sum of own over the six neighbours
        c = grid.cells[np.argmax(own)]
        ring = [h3.str_to_int(x) for x in h3.grid_ring(h3.int_to_str(int(c)), 1)]
        rp, found = grid.positions(np.array(ring, dtype=np.uint64))
        expected = own[rp[found]].sum()
        assert np.isclose(state.state[i * 3 + 1, np.argmax(own)], expected)


def test_features_do_not_use_the_forecast_week_or_later() -> None:
    grid = _grid()
    ev = _events(grid)
    target = int(week_index(ev["date"]).min()) + 15

    def features_at(events: pd.DataFrame) -> np.ndarray:
        weekly = WeeklyEvents.from_events(grid, cells=events["cell"].to_numpy(),
                                          dates=events["date"], civilian=np.zeros(len(events)),
                                          fatalities=np.zeros(len(events)))
        state = HistoryState(grid, weekly, half_lives=(1.0, 4.0, 26.0))
        state.start(target - 30)
        for _ in iterate_weeks(state, first=target, last=target - 1):
            pass
        return state.features(np.arange(len(grid)))

    base = features_at(ev)
    # Add a burst of events in the forecast week and later: features must not change.
    future = pd.DataFrame({"cell": np.repeat(grid.cells[:50], 5),
                           "date": week_start(target) + pd.Timedelta(days=2)})
    later = future.assign(date=week_start(target + 3))
    np.testing.assert_array_equal(base, features_at(pd.concat([ev, future, later])))
    # ...while an event the week before does change them.
    before = future.assign(date=week_start(target - 1))
    assert not np.array_equal(base, features_at(pd.concat([ev, before])))


def test_training_set_weights_stand_for_all_cells() -> None:
    grid = _grid()
    ev = _events(grid)
    weekly = WeeklyEvents.from_events(grid, cells=ev["cell"].to_numpy(), dates=ev["date"],
                                      civilian=np.zeros(len(ev)), fatalities=np.zeros(len(ev)))
    state = HistoryState(grid, weekly, half_lives=(2.0,))
    first = int(weekly.week.min()) + 5
    state.start(first - 5)
    ts = build_training_set(state, first=first, last=first + 9, inactive_sample=500)
    # each week's rows (active + weighted sample) add up to the number of cells
    per_week = pd.Series(ts.weight).groupby(ts.week).sum()
    assert np.allclose(per_week.to_numpy(), len(grid), rtol=0.02)
    # every positive cell-week in the window is in the set
    n_pos = sum(int((weekly.count[weekly.slice(w)] > 0).sum()) for w in range(first, first + 10))
    assert int(ts.y.sum()) == n_pos


def test_long_run_rate_counts_all_history_even_when_streaming_starts_late() -> None:
    """The historical average is a true rate over all weeks since the data began, however
    late the streamed state starts (it used to count only weeks after the start)."""
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(5.0, 30.0 + 0.1 * i, 7))
                      for i in range(3)], dtype=np.uint64)
    cells.sort()
    grid = CellGrid(cells=cells, admin_pcode=np.array(["A"] * 3, dtype=object),
                    population=np.full(3, np.nan), area_km2=np.ones(3))
    # cell 0: an event every other week for weeks 0..99; cell 1: weeks 0..9 only
    weeks = [w for w in range(0, 100, 2)] + list(range(10))
    pos = [0] * 50 + [1] * 10
    dates = [week_start(2800 + w) + pd.Timedelta(days=2) for w in weeks]
    events = WeeklyEvents.from_events(grid, cells=cells[pos], dates=pd.Series(dates),
                                      civilian=np.zeros(60), fatalities=np.zeros(60))
    early, late = (HistoryState(grid, events, half_lives=(4.0,), rings=0) for _ in range(2))
    early.start(2800)
    late.start(2860)
    for s in (early, late):
        while s.week < 2900:
            s.advance()
    np.testing.assert_allclose(early.event_week_rate(np.arange(3)),
                               late.event_week_rate(np.arange(3)))
    np.testing.assert_allclose(late.event_week_rate(np.arange(3)), [0.5, 0.1, 0.0])
    assert late.weeks_since_last(np.array([1]))[0] == 2900 - 2809
