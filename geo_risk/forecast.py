"""Forecast one week: stream features up to it, train on the past, score every cell.

Used by the weekly run (:func:`geo_risk.pipeline.run_week`). The backtest
(:mod:`geo_risk.backtest`) streams the same features in one pass over many weeks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd

from .config import ModelConfig
from .dataset import base_distance_km, make_context, make_streams
from .drivers import describe
from .features import (
    DEFAULT_CHANNELS,
    CellGrid,
    Channel,
    HistoryState,
    TrainingSet,
    WeeklyEvents,
    iterate_weeks,
    label_vector,
    thin_negatives,
    week_of,
    week_rows,
    week_start,
)
from .model import make_model
from .unit_forecast import UnitForecast, forecast_units, unit_population
from .validation import CANDIDATES, Validation, Validator, summarise

#: Cells that get drivers in words: those at or above this probability, at most this many.
DRIVER_MIN_RISK = 0.02
DRIVER_MAX_CELLS = 2000
#: How many weeks before the first training week the streamed history starts (bounds the
#: cost of a run; at the longest default half-life, 2 years, older events weigh < 25%).
WARMUP_WEEKS = 260


@dataclass
class Forecast:
    """Scores for one week, the week before, and what explains them."""

    week: pd.Timestamp
    risk: np.ndarray
    risk_prev: np.ndarray
    risk_low: np.ndarray
    risk_high: np.ndarray
    onset: np.ndarray
    drivers: np.ndarray  # object, "" where not computed
    facts: pd.DataFrame  # interpretable per-cell values (counts behind the drivers)
    events: WeeklyEvents
    grid: CellGrid
    info: dict[str, Any]
    history: pd.DataFrame | None = None  # cell, week, risk for the map's week selector
    units: UnitForecast | None = None  # unit-level P(>= 1 incident), expected incidents


def channels_for(config: ModelConfig) -> tuple[Channel, ...]:
    """Default channels with the configured half-lives for the main "events" channel."""
    return tuple(replace(c, half_lives=tuple(config.half_lives_weeks)) if c.name == "events"
                 else c for c in DEFAULT_CHANNELS)


def prepare(grid: CellGrid, *, incidents: pd.DataFrame, consultations: pd.DataFrame | None,
            restrictions: gpd.GeoDataFrame | None, bases: pd.DataFrame | None,
            week_limit: pd.Timestamp, config: ModelConfig) -> HistoryState:
    """Streams, context and state for forecasting up to ``week_limit`` (exclusive)."""
    grid = replace(grid, base_distance_km=base_distance_km(grid, bases, week_limit))
    streams = make_streams(grid, incidents=incidents, consultations=consultations,
                           week_limit=week_limit)
    on_grid = incidents.loc[incidents["cell"] > 0, "date"]
    context = make_context(grid, restrictions=restrictions,
                           data_start=on_grid.min() if len(on_grid) else None,
                           incidents=incidents, week_limit=week_limit)
    return HistoryState(grid, streams, channels=channels_for(config), context=context)


def _frame(ts: TrainingSet | np.ndarray, names: list[str]) -> pd.DataFrame:
    X = ts.X if isinstance(ts, TrainingSet) else ts
    return pd.DataFrame(X, columns=names)


def fit_model(name: str, ts: TrainingSet, config: ModelConfig) -> Any:
    params: dict[str, Any] = {}
    if name == "model":
        params = {"n_estimators": config.n_estimators, "n_seeds": config.n_seeds,
                  "random_state": config.seed}
    model = make_model(name, **params)
    kwargs = {"week": ts.week} if name == "model" else {}
    return model.fit(_frame(ts, ts.feature_names), ts.y, sample_weight=ts.weight, **kwargs)


def _training(parts: list[TrainingSet], *, lo: int, hi: int, config: ModelConfig,
              rng: np.random.Generator, names: list[str]) -> TrainingSet:
    """Rows of weeks [lo, hi] from the streamed parts, thinned to ``max_rows``."""
    sel = [p for p in parts if len(p.week) and lo <= int(p.week[0]) <= hi]
    if not sel:
        k = len(names)
        return TrainingSet(X=np.zeros((0, k), np.float32), y=np.zeros(0, np.int8),
                           weight=np.zeros(0), week=np.zeros(0, np.int64),
                           onset=np.zeros(0, bool), feature_names=names)
    return thin_negatives(TrainingSet.concat(sel), max_rows=config.max_rows, rng=rng)


def facts_for(state: HistoryState, pos: np.ndarray, *, admin_names: pd.Series) -> pd.DataFrame:
    """Interpretable values behind the drivers, for grid positions ``pos``."""
    assert state.week is not None
    t, n, ev = state.week, len(state.grid), state.events

    def nearby(weeks: int, column: str) -> np.ndarray:
        wpos, vals = ev.window(weeks, end_week=t, column=column)
        total = np.bincount(wpos, weights=vals, minlength=n)
        if state.neighbours is not None and len(wpos):
            for ring in (1, 2):
                total += state.neighbours.spread(wpos, vals, ring, n)
        return total[pos]

    def own(weeks: int) -> np.ndarray:
        return ev.window_sum(weeks, end_week=t, size=n)[pos]

    ctx = state.context
    codes = ctx.admin_codes if ctx is not None else np.zeros(n, np.int64)
    admin_26 = np.bincount(codes, weights=ev.window_sum(26, end_week=t, size=n))[codes[pos]]
    weeks_in = np.zeros(len(pos))
    if ctx is not None and ctx.restrictions is not None:
        weeks_in = ctx.restrictions.at(t, n)[1][pos]
    g = state.grid
    return pd.DataFrame({
        "incidents_4w": own(4), "incidents_52w": own(52), "nearby_4w": nearby(4, "events"),
        "civilian_12w": nearby(12, "civilian"), "fatalities_12w": nearby(12, "fatalities"),
        "battles_12w": nearby(12, "battles"), "remote_12w": nearby(12, "remote"),
        "alerts_8w": nearby(8, "alerts") if "alerts" in ev.values else 0.0,
        "insecure_12w": nearby(12, "insecure") if "insecure" in ev.values else 0.0,
        "weeks_since_last": state.weeks_since_last(pos).astype(float),
        "event_week_rate": state.event_week_rate(pos),
        "admin_name": admin_names.reindex(g.admin_pcode[pos]).fillna("").to_numpy(),
        "admin_26w": admin_26, "restricted_weeks": weeks_in,
        "population": np.nan_to_num(g.population[pos]),
        "base_km": (g.base_distance_km[pos] if g.base_distance_km is not None
                    else np.full(len(pos), np.nan)),
    })


def _fit_candidates(ts: TrainingSet, config: ModelConfig,
                    model_factory: Callable[[str, TrainingSet, ModelConfig], Any]
                    ) -> dict[str, Any]:
    # A baseline asked for by name is served as asked: check it against the other
    # baselines only (cheap), not against the model it was chosen to avoid.
    names = CANDIDATES if config.kind == "model" else tuple(
        c for c in CANDIDATES if c != "model")
    return {m: model_factory(m, ts, config) for m in names}


def forecast(grid: CellGrid, *, incidents: pd.DataFrame, consultations: pd.DataFrame | None,
             restrictions: gpd.GeoDataFrame | None, bases: pd.DataFrame | None,
             week: pd.Timestamp, config: ModelConfig, admin_names: pd.Series,
             min_count: int = 5, progress: bool = False,
             model_factory: Callable[[str, TrainingSet, ModelConfig], Any] | None = None
             ) -> Forecast:
    """Probability of >= 1 incident per cell in ``week`` and in the week before.

    One pass over the weeks. Every candidate is first trained on the weeks before the last
    ``validation_weeks`` and scored on them (:mod:`geo_risk.validation`); the winner (or the
    configured baseline) is then trained on the weeks before the map's history weeks and
    scores them, the previous week and ``week``, so none of these scores has seen its own
    week's outcome and "change vs last week" is honest.
    """
    model_factory = model_factory if model_factory is not None else fit_model
    state = prepare(grid, incidents=incidents, consultations=consultations,
                    restrictions=restrictions, bases=bases, week_limit=week, config=config)
    grid = state.grid
    t = week_of(week)
    n_hist = max(2, config.history_weeks)
    n_val = config.validation_weeks
    first_train = t - config.training_weeks
    data_weeks = state.events.week
    first_data = int(data_weeks.min()) if len(data_weeks) else first_train
    # validation needs its own training window before it, and some history in it
    if n_val and first_data > t - n_val - 8:
        n_val = 0
    first_needed = min(first_train, t - n_val - config.training_weeks) if n_val else first_train
    state.start(max(first_data, first_needed - WARMUP_WEEKS) if first_data < first_needed
                else first_needed)
    all_pos = np.arange(len(grid))
    names = state.feature_names()
    rng = np.random.default_rng(config.seed)
    per_week = max(1, config.inactive_sample // config.training_weeks)
    parts: list[TrainingSet] = []
    X_weeks: dict[int, pd.DataFrame] = {}
    validator: Validator | None = None
    weeks: Any = iterate_weeks(state, first=max(first_needed, state.week or first_needed),
                               last=t)
    if progress:
        from tqdm import tqdm

        weeks = tqdm(weeks, total=t - first_needed + 1, desc="weeks", unit="wk", leave=False)
    for w in weeks:
        if n_val and w == t - n_val:
            train_val = _training(parts, lo=w - config.training_weeks, hi=w - 1,
                                  config=config, rng=rng, names=names)
            validator = Validator(_fit_candidates(train_val, config, model_factory),
                                  area=grid.area_km2)
        X_all = (_frame(state.features(all_pos), names)
                 if w > t - n_hist or (validator is not None and w < t) else None)
        if validator is not None and w < t:
            validator.update(X_all, label_vector(state.events, w, len(all_pos)),
                             week_label=str(week_start(w).date()))
        if X_all is not None and w > t - n_hist:
            X_weeks[w] = X_all
        elif w >= first_needed:
            parts.append(week_rows(state, rng, inactive_per_week=per_week))
        if w == t:
            break
    validation = validator.choose(config.kind) if validator is not None else None
    chosen = validation.chosen if validation is not None else config.kind
    train = _training(parts, lo=first_train, hi=t - n_hist, config=config, rng=rng,
                      names=names)
    del parts
    X_now, X_prev = X_weeks[t], X_weeks[t - 1]
    model = model_factory(chosen, train, config)
    risk = model.predict_proba(X_now)[:, 1]
    risk_prev = model.predict_proba(X_prev)[:, 1]
    history = pd.concat([pd.DataFrame({"cell": grid.cells, "week": week_start(w).date(),
                                       "risk": model.predict_proba(X)[:, 1]})
                         for w, X in X_weeks.items()], ignore_index=True) \
        if config.history_weeks > 1 else None
    if hasattr(model, "predict_interval"):
        low, high = model.predict_interval(X_now)
    else:
        low, high = risk.copy(), risk.copy()
    onset = state.onset(all_pos)
    units = _units(state, t)

    drivers = np.full(len(grid), "", dtype=object)
    facts = facts_for(state, all_pos, admin_names=admin_names)
    if hasattr(model, "contributions"):
        sel = np.flatnonzero(risk >= DRIVER_MIN_RISK)
        sel = sel[np.argsort(-risk[sel])][:DRIVER_MAX_CELLS]
        if len(sel):
            contrib = model.contributions(X_now.iloc[sel])
            res = int(h3.get_resolution(h3.int_to_str(int(grid.cells[0])))) if len(grid) else 7
            km = 2.5 * h3.average_hexagon_edge_length(res, unit="km")
            drivers[sel] = describe(contrib.reset_index(drop=True),
                                    facts.iloc[sel].reset_index(drop=True), nearby_km=km,
                                    min_count=min_count).to_numpy()
    info = {
        "model": chosen,
        "requested": config.kind,
        "validation": (validation.as_dict() if validation is not None else
                       {"summary": summarise(Validation(requested=config.kind, chosen=chosen,
                                                        weeks=0, first_week=None,
                                                        last_week=None))}),
        "estimator": type(model).__name__,
        "features": names,
        "training_weeks": [str(week_start(first_train).date()),
                           str(week_start(t - n_hist).date())],
        "training_rows": int(len(train.y)),
        "training_positive_rows": int(train.y.sum()),
        "base_rate": float(np.average(train.y, weights=train.weight)) if len(train.y) else 0.0,
        "onset_weight": getattr(model, "onset_weight_", None),
        "blend_weight": getattr(model, "blend_", None),
        "unit_model": units.info if units is not None else None,
    }
    return Forecast(week=week, risk=risk, risk_prev=risk_prev, risk_low=low, risk_high=high,
                    onset=onset, drivers=drivers, facts=facts, events=state.events, grid=grid,
                    info=info, history=history, units=units)


def _units(state: HistoryState, week: int) -> UnitForecast | None:
    """The unit-level forecast from the state's unit history (incidents before ``week``)."""
    ctx = state.context
    if ctx is None or ctx.admin_events is None or not len(state.grid):
        return None
    _, pcodes, population = unit_population(state.grid.admin_pcode, state.grid.population)
    return forecast_units(admin_events=ctx.admin_events, admin_pairs=ctx.admin_pairs,
                          pcodes=pcodes, population=population, week=week)
