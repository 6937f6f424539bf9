"""The weekly run never serves a model that lost on the recent weeks, and says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geo_risk.config import ModelConfig, load_config
from geo_risk.features import TrainingSet
from geo_risk.forecast import fit_model
from geo_risk.model import RiskModel, time_blocks
from geo_risk.outputs import write_outputs
from geo_risk.pipeline import load_inputs, run_week
from geo_risk.validation import Validation, check_newest_block, summarise

WEEK = pd.Timestamp("2024-06-03")


class _Shuffled:
    """A 'model' that ranks cells at random: it must lose to every history-based baseline."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        rng = np.random.default_rng(len(X))
        p = rng.uniform(0.0, 0.01, len(X))
        return np.column_stack([1 - p, p])


def _factory_with_bad_model(name: str, ts: TrainingSet, config: ModelConfig) -> Any:
    return _Shuffled() if name == "model" else fit_model(name, ts, config)


def test_a_model_that_lost_on_recent_weeks_is_not_served(
        mini_scenario: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(mini_scenario)
    inputs = load_inputs(cfg, now=pd.Timestamp("2025-01-01"))
    monkeypatch.setattr("geo_risk.forecast.fit_model", _factory_with_bad_model)
    res = run_week(cfg, week=WEEK, inputs=inputs)
    v = res.model["validation"]
    assert v["requested"] == "model"
    assert v["chosen"] != "model" and res.model["model"] == v["chosen"]
    assert v["weeks"] == cfg.model.validation_weeks
    m = v["metrics"]
    assert m[v["chosen"]]["average_precision"] > m["model"]["average_precision"]
    assert "was not used" in v["summary"]


def test_scorer_trained_beside_the_unit_forecast_equals_one_trained_after_it(
        mini_scenario: Path) -> None:
    # The built-in models train the scorer in threads while the unit forecast runs; a
    # caller's factory runs one after the other. Same week, same scores, band and check.
    from functools import partial

    from geo_risk.forecast import forecast

    cfg = load_config(mini_scenario)
    inputs = load_inputs(cfg, now=pd.Timestamp("2025-01-01"))
    week = pd.Timestamp("2024-03-04")
    beside = run_week(cfg, week=week, inputs=inputs)
    after = run_week(cfg, week=week, inputs=inputs,
                     forecaster=partial(forecast, model_factory=fit_model))
    for column in ("risk", "risk_low", "risk_high", "risk_prev", "drivers"):
        np.testing.assert_array_equal(beside.grid[column].to_numpy(),
                                      after.grid[column].to_numpy())
    assert beside.model["validation"] == after.model["validation"]
    assert beside.model["model"] == after.model["model"]
    pd.testing.assert_frame_equal(beside.matrix, after.matrix)


def test_the_validated_model_is_served_and_reported_in_plain_words(
        mini_scenario: Path, tmp_path: Path) -> None:
    cfg = load_config(mini_scenario)
    res = run_week(cfg, week=WEEK, inputs=load_inputs(cfg, now=pd.Timestamp("2025-01-01")))
    v = res.model["validation"]
    paths = write_outputs(res, cfg, tmp_path / "out")
    run = json.loads(paths["run"].read_text(encoding="utf-8"))
    assert run["model"]["validation"]["chosen"] == v["chosen"]
    brief = paths["brief"].read_text(encoding="utf-8")
    assert 'id="grb-model-check"' in brief and "top 1% of cells" in brief
    assert "top 1% of cells" in paths["map"].read_text(encoding="utf-8")
    assert set(v["metrics"]) == {"model", "conflictology", "historical_average", "persistence"}
    best = max(v["metrics"], key=lambda k: v["metrics"][k]["average_precision"])
    assert v["metrics"][v["chosen"]]["average_precision"] == \
        v["metrics"][best]["average_precision"]
    assert "top 1% of cells" in v["summary"] and v["first_week"] < str(WEEK.date())


def _rows(*, bump: bool = False, n_weeks: int = 30, per_week: int = 200, seed: int = 0
          ) -> TrainingSet:
    """Cell-week rows whose events follow ``signal``: rising with it, or (``bump``) only
    near its middle, which trees find and a logistic baseline cannot."""
    rng = np.random.default_rng(seed)
    n = n_weeks * per_week
    signal = rng.random(n)
    rate = (0.15 * np.exp(-(((signal - 0.5) / 0.07) ** 2)) if bump else 0.08 * signal ** 4)
    y = (rng.random(n) < 0.002 + rate).astype(np.int8)
    X = np.column_stack([signal, rng.random(n), rng.uniform(0, 6, n)]).astype(np.float32)
    return TrainingSet(X=X, y=y, weight=np.ones(n), week=np.repeat(np.arange(n_weeks), per_week),
                       onset=np.zeros(n, bool),
                       feature_names=["events_own_1w", "hist_event_week_rate",
                                      "log_weeks_since_last"])


class _ByColumn:
    """Scores rows by one column (or its reverse): a candidate that ranks well or badly."""

    classes_ = np.array([0, 1])

    def __init__(self, column: int, reverse: bool = False) -> None:
        self.column, self.reverse = column, reverse

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = X.to_numpy()[:, self.column].astype(float)
        p = 0.5 * (1 - p if self.reverse else p)
        return np.column_stack([1 - p, p])


def test_check_fits_every_candidate_on_the_weeks_before_the_newest_block_and_serves_the_best(
        ) -> None:
    ts = _rows()
    block = time_blocks(ts.week)[-1]
    seen: dict[str, np.ndarray] = {}

    def fit(name: str, rows: TrainingSet) -> Any:
        seen[name] = rows.week
        return _ByColumn(0, reverse=name != "conflictology")  # only conflictology ranks well

    names = ["model", "conflictology", "historical_average", "persistence"]
    v = check_newest_block(object(), ts, requested="model", names=names, fit=fit)
    assert set(seen) == set(names)  # a scorer without its own out-of-fold block is refitted
    for weeks in seen.values():  # ... on the older weeks only: no candidate saw the block
        assert weeks.max() < ts.week[block].min() and len(weeks) == (~block).sum()
    assert v.weeks == len(np.unique(ts.week[block])) and v.chosen == "conflictology"
    assert v.metrics["conflictology"]["positives"] == ts.y[block].sum() > 0
    assert "was not used" in v.summary
    asked = check_newest_block(object(), ts, requested="persistence",
                               names=["conflictology", "persistence"], fit=fit)
    assert asked.chosen == "persistence" and "Chosen in the configuration" in asked.summary
    # too few weeks in the block: no check, the scorer asked for serves
    none = check_newest_block(object(), ts, requested="model", names=names, fit=fit,
                              min_weeks=100)
    assert none.weeks == 0 and none.chosen == "model" and "could not be checked" in none.summary


def test_model_is_checked_on_its_own_out_of_fold_block_without_a_second_fit() -> None:
    ts = _rows(bump=True, seed=1)
    X = pd.DataFrame(ts.X, columns=ts.feature_names)
    model = RiskModel(n_estimators=30, min_child_samples=20).fit(X, ts.y, week=ts.week)
    assert model.newest_block_ is not None
    rows, p = model.newest_block_
    np.testing.assert_array_equal(rows, np.flatnonzero(time_blocks(ts.week)[-1]))
    # out of fold: not the in-sample probabilities of the trees trained on every week
    assert not np.allclose(p, model.predict_proba(X.iloc[rows])[:, 1])
    fitted: list[str] = []

    def fit(name: str, part: TrainingSet) -> Any:
        fitted.append(name)
        return fit_model(name, part, ModelConfig())

    v = check_newest_block(model, ts, requested="model",
                           names=["model", "conflictology", "historical_average"], fit=fit)
    assert fitted == ["conflictology", "historical_average"]
    assert v.chosen == "model"  # the trees find the signal the baselines cannot see
    assert v.metrics["model"]["average_precision"] > \
        v.metrics["historical_average"]["average_precision"]


def test_summary_without_weeks_says_it_could_not_be_checked() -> None:
    text = summarise(Validation(requested="model", chosen="model", weeks=0, first_week=None,
                                last_week=None))
    assert "could not be checked" in text
