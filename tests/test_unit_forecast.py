"""Unit-level forecast: calibrated for a busy unit, discriminating matrix bins, leakage-free."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo_risk.analyse import likelihood_scale, matrix_bins
from geo_risk.backtest_report import render_backtest_html
from geo_risk.backtest_units import UnitBacktest, unit_section
from geo_risk.config import MatrixConfig
from geo_risk.unit_forecast import fit_unit_model, forecast_units, unit_panel

K, WEEKS, W0 = 8, 320, 2000  # units in a row, weeks of history, first week number
RATES = np.array([1.2, 0.3, 0.05, 0.03, 0.03, 0.02, 0.02, 0.01])  # incidents per week


def _events(seed: int = 0, *, weeks: int = WEEKS
            ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """(week, unit, incidents) of a busy unit 0 and quiet others; and the dense counts."""
    counts = np.random.default_rng(seed).poisson(RATES, size=(weeks, K))
    wk, code = np.nonzero(counts)
    return ((wk + W0).astype(np.int64), code.astype(np.int64),
            counts[wk, code].astype(float)), counts


PAIRS = (np.r_[np.arange(K - 1), np.arange(1, K)].astype(np.int64),
         np.r_[np.arange(1, K), np.arange(K - 1)].astype(np.int64))
PCODES = pd.Index([f"U{i}" for i in range(K)])


def _forecast(events: tuple[np.ndarray, np.ndarray, np.ndarray], week: int):  # type: ignore[no-untyped-def]
    keep = events[0] < week
    return forecast_units(admin_events=tuple(a[keep] for a in events),  # type: ignore[arg-type]
                          admin_pairs=PAIRS, pcodes=PCODES, population=np.full(K, 5e4),
                          week=week)


def test_busy_unit_probability_is_close_to_its_weekly_event_share() -> None:
    events, counts = _events()
    f = _forecast(events, W0 + WEEKS).table.set_index("admin_pcode")
    share = (counts[-104:] > 0).mean(axis=0)
    assert abs(f.loc["U0", "likelihood"] - share[0]) < 0.1
    assert abs(f.loc["U0", "likelihood"] - (1 - np.exp(-RATES[0]))) < 0.1
    # the cell-independence aggregate this replaces is far off; the quiet units stay low
    assert (f["likelihood"].iloc[2:] < 0.12).all()
    # the expected count follows the rate, and is never below the probability
    assert abs(f.loc["U0", "expected_incidents"] - RATES[0]) < 0.3
    assert (f["expected_incidents"] >= f["likelihood"]).all()


def test_unit_forecast_ignores_everything_from_the_forecast_week_on() -> None:
    events, _ = _events()
    week = W0 + 250
    a = _forecast(events, week).table
    # rewrite the forecast week and after: a different future
    future = events[0] >= week
    changed = (events[0], np.where(future, (events[1] + 3) % K, events[1]),
               np.where(future, events[2] * 5, events[2]))
    b = _forecast(changed, week).table
    pd.testing.assert_frame_equal(a, b)
    # the past does matter (the test can fail)
    past = events[0] >= week - 3
    c = _forecast((events[0], np.where(past, (events[1] + 3) % K, events[1]), events[2]),
                  week).table
    assert not np.allclose(a["likelihood"], c["likelihood"])
    with pytest.raises(ValueError, match="forecast week"):
        forecast_units(admin_events=events, admin_pairs=PAIRS, pcodes=PCODES,
                       population=np.ones(K), week=week)


def test_panel_features_of_a_week_use_only_earlier_weeks() -> None:
    events, _ = _events()
    panel = unit_panel(admin_events=events, admin_pairs=PAIRS, n_units=K,
                       population=np.ones(K), first_week=W0 + 100, last_week=W0 + 200)
    keep = events[0] < W0 + 150
    cut = unit_panel(admin_events=tuple(a[keep] for a in events),  # type: ignore[arg-type]
                     admin_pairs=PAIRS, n_units=K, population=np.ones(K),
                     first_week=W0 + 100, last_week=W0 + 200)
    np.testing.assert_array_equal(panel.week(W0 + 150), cut.week(W0 + 150))
    assert not np.array_equal(panel.week(W0 + 151), cut.week(W0 + 151))


def test_data_bins_put_the_busy_units_above_the_lowest_level() -> None:
    events, _ = _events()
    f = _forecast(events, W0 + WEEKS)
    fixed = matrix_bins(MatrixConfig(bins="fixed", likelihood_bins=(0.9, 0.95, 0.97, 0.99)))
    data = matrix_bins(MatrixConfig(), past_likelihood=f.past_likelihood)
    assert data.source == "data" and fixed.source == "fixed"
    assert list(data.likelihood) == sorted(set(data.likelihood))
    p = f.table["likelihood"].to_numpy()
    s_fixed, _ = likelihood_scale(p, bins=fixed.likelihood)
    s_data, words = likelihood_scale(p, bins=data.likelihood)
    assert len(set(s_fixed)) == 1  # absolute bins too high for this country: no contrast
    assert len(set(s_data)) >= 3 and s_data[0] == s_data.max() > s_data[2:].min()
    # words stay monotone in the probability
    order = np.argsort(p)
    assert np.all(np.diff(s_data[order]) >= 0)
    assert words[0] in ("likely", "almost certain")


def test_unit_backtest_reports_calibration_and_counts() -> None:
    events, counts = _events(seed=4)
    panel = unit_panel(admin_events=events, admin_pairs=PAIRS, n_units=K,
                       population=np.ones(K), first_week=W0 + 200, last_week=W0 + WEEKS - 1)
    codes = np.repeat(np.arange(K), 3)
    bt = UnitBacktest(panel=panel, codes=codes, cell_area=np.ones(len(codes)), pcodes=PCODES)
    for w in range(W0 + 260, W0 + WEEKS):
        bt.update(week=w, cell_prob=np.full(len(codes), 0.05), refit=(w % 8 == 0))
    r = bt.result()
    assert r["unit_model"]["brier"] < r["cell_aggregate"]["brier"]
    assert r["busiest_units"][0]["admin_pcode"] == "U0"
    assert abs(r["busiest_units"][0]["mean_likelihood"]
               - r["busiest_units"][0]["observed_week_share"]) < 0.12
    ev = r["expected_vs_observed"]
    assert ev["incidents_observed"] == counts[260:].sum()
    section = unit_section({**r, "busiest_units": [{"admin_pcode": "<b>x</b>"}]})
    assert section is not None and section["busy"][0][0] == "<b>x</b>"
    html = render_backtest_html(report={"models": {}, "units": {
        **r, "busiest_units": [{"admin_pcode": "<b>x</b>"}]}}, title="t", synthetic=False)
    assert "Busiest units" in html and "&lt;b&gt;x" in html and "<b>x" not in html


def test_too_little_history_falls_back_to_the_recent_event_share() -> None:
    events, counts = _events(weeks=30)
    panel = unit_panel(admin_events=events, admin_pairs=PAIRS, n_units=K,
                       population=np.ones(K), first_week=W0, last_week=W0 + 29)
    model = fit_unit_model(panel, last_label_week=W0 + 9)  # 2 weeks after warm-up
    assert "share" in model.method
    p, mu = model.predict(panel.week(W0 + 13))
    assert np.all((0 <= p) & (p <= 1)) and np.all(mu >= p)


def test_decayed_counts_equal_scipy_lfilter_to_the_bit() -> None:
    from scipy.signal import lfilter

    from geo_risk.unit_forecast import _decayed

    _, counts = _events(3)
    counts = counts.astype(float)
    for half_life in (1.0, 4.0, 52.0):
        factor = 0.5 ** (1.0 / half_life)
        want = lfilter([1.0], [1.0, -factor], counts, axis=0)
        got = _decayed(counts, factor)
        assert got.dtype == np.float64 and got.shape == counts.shape
        assert np.array_equal(got, want)
    # a unit's decayed count after one event: 1, f, f^2, ... (the recursion itself)
    one = np.zeros((5, 2))
    one[1, 0] = 1.0
    assert np.allclose(_decayed(one, 0.5)[:, 0], [0, 1, 0.5, 0.25, 0.125])
    assert not _decayed(one, 0.5)[:, 1].any()
