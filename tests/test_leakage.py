"""Leakage is impossible: changing what happens on or after a forecast week changes nothing
that was forecast for it, in the weekly run and in the backtest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from geo_risk.backtest import run_backtest
from geo_risk.config import load_config
from geo_risk.pipeline import Inputs, load_inputs, run_week

WEEK = pd.Timestamp("2024-04-01")  # a Monday inside the mini scenario's 80 weeks


def _rewrite_future(inputs: Inputs, *, from_day: pd.Timestamp, seed: int) -> Inputs:
    """Every incident on or after ``from_day`` moved to another cell, and new ones added."""
    inc = inputs.incidents.copy()
    future = inc["date"] >= from_day
    assert future.sum() > 10, "the fixture must have events after the cut"
    rng = np.random.default_rng(seed)
    inc.loc[future, "cell"] = rng.permutation(inc.loc[future, "cell"].to_numpy())
    inc.loc[future, "admin_pcode"] = rng.permutation(inc.loc[future, "admin_pcode"].to_numpy())
    extra = inc.loc[future].sample(frac=1.0, random_state=seed, replace=True).copy()
    extra["event_id"] = "extra-" + extra["event_id"].astype(str)
    return replace(inputs, incidents=pd.concat([inc, extra], ignore_index=True))


def test_weekly_forecast_is_identical_when_the_forecast_week_and_later_change(
        mini_scenario: Path) -> None:
    cfg = load_config(mini_scenario)
    inputs = load_inputs(cfg, now=pd.Timestamp("2025-01-01"))
    changed = _rewrite_future(inputs, from_day=WEEK, seed=3)
    a = run_week(cfg, week=WEEK, inputs=inputs)
    b = run_week(cfg, week=WEEK, inputs=changed)
    for col in ("risk", "risk_prev", "risk_low", "risk_high"):
        np.testing.assert_array_equal(a.grid[col].to_numpy(), b.grid[col].to_numpy())
    assert a.model["validation"] == b.model["validation"]
    # ... while changing the past does change the forecast (the test can fail)
    past = _rewrite_future(inputs, from_day=WEEK - pd.Timedelta(weeks=3), seed=3)
    c = run_week(cfg, week=WEEK, inputs=past)
    assert not np.array_equal(a.grid["risk"].to_numpy(), c.grid["risk"].to_numpy())


def test_backtest_is_identical_when_events_after_its_last_week_change(
        mini_scenario: Path) -> None:
    cfg = load_config(mini_scenario)
    inputs = load_inputs(cfg, now=pd.Timestamp("2025-01-01"))
    start, end = "2024-03-04", "2024-04-08"
    cut = pd.Timestamp(end) + pd.Timedelta(days=7)
    models = ("model", "conflictology", "historical_average")
    a = run_backtest(cfg, start=start, end=end, inputs=inputs, refit_every=3, models=models)
    b = run_backtest(cfg, start=start, end=end, models=models, refit_every=3,
                     inputs=_rewrite_future(inputs, from_day=cut, seed=5))
    for m in models:
        for key in ("average_precision", "brier", "hr_at_1pct", "positives"):
            assert a["models"][m][key] == b["models"][m][key], (m, key)
