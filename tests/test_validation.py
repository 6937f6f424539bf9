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
from geo_risk.outputs import write_outputs
from geo_risk.pipeline import load_inputs, run_week
from geo_risk.validation import Validation, Validator, summarise

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


def test_scorer_trained_beside_the_validation_equals_one_trained_after_it(
        mini_scenario: Path) -> None:
    # The built-in models train the served scorer while the candidates are scored on the
    # validation weeks; a caller's factory runs one fit after the other. Same week, same
    # scores, band and check either way.
    from functools import partial

    from geo_risk.forecast import forecast

    cfg = load_config(mini_scenario)
    inputs = load_inputs(cfg, now=pd.Timestamp("2025-01-01"))
    week = pd.Timestamp("2024-03-04")  # a week the model wins its check
    beside = run_week(cfg, week=week, inputs=inputs)
    after = run_week(cfg, week=week, inputs=inputs,
                     forecaster=partial(forecast, model_factory=fit_model))
    assert beside.model["model"] == "model"
    for column in ("risk", "risk_low", "risk_high", "risk_prev", "drivers"):
        np.testing.assert_array_equal(beside.grid[column].to_numpy(),
                                      after.grid[column].to_numpy())
    assert beside.model["validation"] == after.model["validation"]
    assert beside.model["blend_weight"] == after.model["blend_weight"]


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


def test_choice_prefers_higher_average_precision_and_respects_a_configured_baseline() -> None:
    area = np.ones(200)
    y = np.zeros(200)
    y[:5] = 1

    class Fixed:
        def __init__(self, p: np.ndarray) -> None:
            self.p = p

        def predict_proba(self, X: Any) -> np.ndarray:
            return np.column_stack([1 - self.p, self.p])

    good = np.linspace(0.5, 0.0, 200)  # events first
    bad = good[::-1].copy()
    v = Validator({"model": Fixed(bad), "conflictology": Fixed(good),
                   "persistence": Fixed(bad)}, area=area)
    v.update(None, y, week_label="2024-01-01")
    assert v.choose("model").chosen == "conflictology"
    assert v.choose("persistence").chosen == "persistence"
    assert "Chosen in the configuration" in v.choose("persistence").summary


def test_summary_without_weeks_says_it_could_not_be_checked() -> None:
    text = summarise(Validation(requested="model", chosen="model", weeks=0, first_week=None,
                                last_week=None))
    assert "could not be checked" in text
