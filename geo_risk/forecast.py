"""Forecast one week: stream features up to it, train on the past, score every cell.

Used by the weekly run (:func:`geo_risk.pipeline.run_week`). The backtest
(:mod:`geo_risk.backtest`) streams the same features in one pass over many weeks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    thin_negatives,
    week_of,
    week_rows,
    week_start,
)
from .model import make_model
from .runtime import heavy_call
from .unit_forecast import UnitForecast, forecast_units, unit_population
from .validation import CANDIDATES, Validation, check_newest_block, summarise

if TYPE_CHECKING:
    from .state import PartStore

#: Cells that get drivers in words: those at or above this probability, at most this many.
DRIVER_MIN_RISK = 0.02
DRIVER_MAX_CELLS = 2000
#: How many weeks before the first training week the streamed history starts (bounds the
#: cost of a run; at the longest default half-life, 2 years, older events weigh < 25%).
WARMUP_WEEKS = 260
#: The streamed history starts at a multiple of this many weeks (see :class:`Plan`): a saved
#: state serves week after week and is rebuilt once a year when the start moves.
START_ANCHOR_WEEKS = 52


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


def _training(parts: Mapping[int, TrainingSet], *, lo: int, hi: int, config: ModelConfig,
              names: list[str]) -> TrainingSet:
    """Rows of weeks [lo, hi] from the streamed parts, thinned to ``max_rows`` (with a seed
    of its own, so the same window gives the same rows in every run)."""
    sel = [parts[w] for w in sorted(parts) if lo <= w <= hi and len(parts[w].week)]
    if not sel:
        return TrainingSet.empty(names)
    rng = np.random.default_rng([config.seed, lo % 2**32, hi % 2**32])
    return thin_negatives(TrainingSet.concat(sel), max_rows=config.max_rows, rng=rng)


def week_part(state: HistoryState, config: ModelConfig) -> TrainingSet:
    """Training rows of the state's current week, drawn with a seed of that week and thinned
    to the week's share of ``max_rows`` at once (memory flat in the training weeks; the same
    rows whichever run, from scratch or from a saved state, draws them)."""
    assert state.week is not None
    rng = np.random.default_rng([config.seed, int(state.week) % 2**32])
    per_week = max(1, config.inactive_sample // config.training_weeks)
    part = week_rows(state, rng, inactive_per_week=per_week)
    return thin_negatives(part, max_rows=max(1, config.max_rows // config.training_weeks),
                          rng=rng)


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


def fit_models(names: Sequence[str], ts: TrainingSet, config: ModelConfig,
               model_factory: Callable[[str, TrainingSet, ModelConfig], Any] | None = None
               ) -> dict[str, Any]:
    """Each model of ``names`` fitted on ``ts``, in that order.

    With the built-in factory the conflictology baseline is taken from the forecast model,
    which fits that very baseline on the same rows inside itself (same columns, labels and
    weights: the same coefficients to the bit, tested), instead of fitting it a second time.
    """
    factory = model_factory if model_factory is not None else fit_model
    fitted: dict[str, Any] = {}
    if "model" in names:
        fitted["model"] = factory("model", ts, config)
        inner = getattr(fitted["model"], "conflictology_", None)
        if model_factory is None and inner is not None and "conflictology" in names:
            fitted["conflictology"] = inner
    for m in names:
        if m not in fitted:
            fitted[m] = factory(m, ts, config)
    return {m: fitted[m] for m in names}


def serve_checked(model: Any, train: TrainingSet, config: ModelConfig,
                  factory: Callable[[str, TrainingSet, ModelConfig], Any]
                  ) -> tuple[Any, Validation | None]:
    """The scorer to serve and its check (:func:`geo_risk.validation.check_newest_block`;
    None when ``validation_weeks`` is 0): ``model``, the scorer asked for trained on
    ``train``, or the candidate that beat it, then fitted on ``train``.

    A baseline asked for by name is served as asked: it is checked against the other
    baselines only (cheap), not against the model it was chosen to avoid.
    """
    if not config.validation_weeks:
        return model, None
    names = CANDIDATES if config.kind == "model" else tuple(
        c for c in CANDIDATES if c != "model")
    validation = check_newest_block(model, train, requested=config.kind, names=names,
                                    fit=lambda name, rows: factory(name, rows, config),
                                    min_weeks=config.validation_weeks)
    if validation.chosen != config.kind:
        model = factory(validation.chosen, train, config)
    return model, validation


@dataclass(frozen=True)
class Plan:
    """Which weeks one forecast streams, trains on and scores (all week numbers).

    The scorer is retrained in weeks that are multiples of ``retrain_every_weeks`` (``train``;
    the forecast week itself when it is 1) and serves until the next such week; it is trained
    on rows of weeks up to ``train - history`` so the map's history weeks are out of sample,
    and checked on the newest block of those weeks (``validation`` > 0: at least that many
    weeks in the block; :mod:`geo_risk.validation`). The streamed history starts at
    ``start``, rounded down to a multiple of :data:`START_ANCHOR_WEEKS` so that it is the
    same week after week; ``snapshot`` is the week whose state is saved for the next run
    (the first of the map's history weeks).
    """

    week: int
    train: int
    history: int
    validation: int
    first_train: int
    start: int
    snapshot: int

    @classmethod
    def of(cls, config: ModelConfig, *, week: int, first_data: int | None) -> Plan:
        every = max(1, config.retrain_every_weeks)
        train = week - week % every
        n_hist = max(2, config.history_weeks)
        first_train = train - config.training_weeks
        first_data = first_train if first_data is None else first_data
        start = (max(first_data, first_train - WARMUP_WEEKS) if first_data < first_train
                 else first_train)
        start -= start % START_ANCHOR_WEEKS
        # The first of the map's history weeks: the next run (any later week) streams on
        # from there, and a retraining week's rows up to ``train - history`` are all saved
        # or streamed again.
        snapshot = max(start, week - n_hist + 1)
        return cls(week=week, train=train, history=n_hist,
                   validation=config.validation_weeks, first_train=first_train,
                   start=start, snapshot=snapshot)


@dataclass
class _Stream:
    """What one pass over the weeks produced."""

    parts: PartStore
    X_weeks: dict[int, pd.DataFrame]
    snapshot: Any  # geo_risk.state.Snapshot of the plan's snapshot week


def _stream(state: HistoryState, plan: Plan, config: ModelConfig, *,
            parts: PartStore, progress: bool,
            scored: Collection[int] = ()
            ) -> _Stream:
    """Advance ``state`` to the forecast week: training rows of the weeks before the map's
    history weeks, and the full feature matrix of each history week but those already
    ``scored``."""
    from .state import Snapshot

    grid, t = state.grid, plan.week
    all_pos = np.arange(len(grid))
    names = state.feature_names()
    X_weeks: dict[int, pd.DataFrame] = {}
    snapshot = None
    assert state.week is not None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=t - state.week + 1, desc="weeks", unit="wk", leave=False)
    while True:
        w = state.week
        assert w is not None
        if w == plan.snapshot:
            snapshot = Snapshot.of(state)
        if w >= plan.first_train:
            if w > t - plan.history:
                if w not in scored:
                    X_weeks[w] = _frame(state.features(all_pos), names)
            elif w not in parts:
                parts[w] = week_part(state, config)
        if bar is not None:
            bar.update(1)
        if w >= t:
            break
        state.advance()
    if bar is not None:
        bar.close()
    return _Stream(parts=parts, X_weeks=X_weeks, snapshot=snapshot)


@heavy_call
def forecast(grid: CellGrid, *, incidents: pd.DataFrame, consultations: pd.DataFrame | None,
             restrictions: gpd.GeoDataFrame | None, bases: pd.DataFrame | None,
             week: pd.Timestamp, config: ModelConfig, admin_names: pd.Series,
             min_count: int = 5, progress: bool = False,
             model_factory: Callable[[str, TrainingSet, ModelConfig], Any] | None = None,
             state_dir: Path | None = None) -> Forecast:
    """Probability of >= 1 incident per cell in ``week`` and in the week before.

    One pass over the weeks. In a retraining week (see :class:`Plan`) the scorer asked for is
    trained on the weeks before the map's history weeks, every candidate is checked on the
    newest block of those weeks by a version trained on the weeks before it
    (:mod:`geo_risk.validation`), and the winner (or the configured baseline) scores the
    history weeks, the previous week and ``week``, so none of these scores has seen its own
    week's outcome and "change vs last week" is honest. With ``state_dir``
    (:mod:`geo_risk.state`) a run starts from the state the last run saved when it is exactly
    what this one would compute, reuses its scorer until the next retraining week, and saves
    its own state; the scores are the same either way.
    """
    from . import state as st

    state = prepare(grid, incidents=incidents, consultations=consultations,
                    restrictions=restrictions, bases=bases, week_limit=week, config=config)
    grid = state.grid
    data_weeks = state.events.week
    plan = Plan.of(config, week=week_of(week), first_data=int(data_weeks.min())
                   if len(data_weeks) else None)
    key = st.state_key(grid, config) if state_dir is not None else {}

    rows_before = st.DataFingerprint(incidents=incidents, consultations=consultations,
                                     restrictions=restrictions)

    def fingerprint(before: int) -> str:
        return rows_before(week_start(before))

    saved, why = st.load_state(state_dir) if state_dir is not None else (None, "not used")
    if saved is not None:
        why = st.check(saved, key=key, start_week=plan.start, week=plan.week,
                       fingerprint=fingerprint) or ""
    if not why and saved is not None and not saved.snapshot.restore(state):
        why = "the saved arrays do not fit the grid"
    parts = st.PartStore()
    reuse: Any = None
    if not why and saved is not None:
        m = saved.model
        if m is not None and m.trained_week == plan.train and \
                m.validation_weeks == plan.validation:
            reuse = m
        if saved.snapshot.week > plan.week - plan.history + 1:
            why, reuse = "the saved state is too late for this week's history weeks", None
        else:
            parts = saved.parts.kept(lambda w: w >= plan.first_train)
            why = "" if reuse is not None else _read_all(parts)
            if why:
                parts = st.PartStore()
    if why:
        state.start(plan.start)
    # History weeks the last run scored with this very scorer: their scores are kept.
    cached = {w: p for w, p in saved.scores.items()
              if plan.week - plan.history < w < plan.week and w <= saved.data_week
              and len(p) == len(grid)} if reuse is not None and saved is not None else {}
    resumed_at = state.week
    s = _stream(state, plan, config, parts=parts, progress=progress, scored=cached.keys())
    if reuse is not None:
        model, meta = reuse.estimator, dict(reuse.meta)
        units = _units(state, plan, model=reuse.units)
    else:
        model, meta, units = _train(state, s, plan, config, model_factory,
                                    units=lambda: _units(state, plan))
    fresh, low, high = score_weeks(model, s.X_weeks, week=plan.week)
    scores = {w: cached[w] if w in cached else fresh[w] for w in sorted({*cached, *fresh})}
    info_state: dict[str, Any] = {
        "used": not why, "reason": why or "saved state matched the inputs",
        "model_reused": reuse is not None,
        "unit_model_reused": reuse is not None and reuse.units is not None,
        "weeks_streamed": int(plan.week - (resumed_at or plan.week) + 1),
        "history_weeks_kept": len(cached),
        "retrained_week": str(week_start(plan.train).date()), "saved": False}
    if state_dir is not None and s.snapshot is not None and (
            saved is None or plan.week >= saved.data_week):  # never over a later week's
        _save(state_dir, plan, s, key=key, fingerprint=fingerprint(plan.week), model=model,
              meta=meta, info_state=info_state, units=units, scores=scores,
              model_files=reuse.files if reuse is not None else None)
    return _score(state, s, model, meta, config=config, admin_names=admin_names,
                  min_count=min_count, week=week, info_state=info_state, units=units,
                  scored=(scores, low, high))


def _read_all(parts: PartStore) -> str:
    """Read every saved week for a retraining week; why the state cannot serve ("" if it
    can)."""
    from .state import UNREADABLE

    try:
        parts.load_all()
    except UNREADABLE as e:
        return f"the saved state could not be read ({type(e).__name__}: {e}); rebuilt"
    return ""


def _save(state_dir: Path, plan: Plan, s: _Stream, *, key: dict[str, str], fingerprint: str,
          model: Any, meta: dict[str, Any], info_state: dict[str, Any],
          units: UnitForecast | None, scores: dict[int, np.ndarray],
          model_files: Path | None = None) -> None:
    """Save the state for the next run; say in ``info_state`` whether it was saved.
    ``model_files``: the state folder the reused scorer was read from (its files are linked)."""
    from . import state as st

    try:
        saved_model = st.SavedModel(trained_week=plan.train, validation_weeks=plan.validation,
                                    estimator=model, meta=meta,
                                    units=units.model if units is not None else None,
                                    files=model_files)
        snap = s.snapshot.week
        parts = s.parts.kept(lambda w: w < snap)
        st.save_state(state_dir, st.ForecastState(
            key=key, start_week=plan.start, data_week=plan.week, fingerprint=fingerprint,
            snapshot=s.snapshot, parts=parts, model=saved_model, scores=scores))
        info_state["saved"] = True
    except TypeError:  # a scorer from a custom model_factory that cannot be saved
        info_state["reason"] += "; not saved (the scorer cannot be stored)"
    except OSError as e:  # a read-only or full disk must not stop the weekly run
        info_state["reason"] += f"; not saved ({e})"


def _train(state: HistoryState, s: _Stream, plan: Plan, config: ModelConfig,
           model_factory: Callable[[str, TrainingSet, ModelConfig], Any] | None, *,
           units: Callable[[], UnitForecast | None]
           ) -> tuple[Any, dict[str, Any], UnitForecast | None]:
    """Train the scorer asked for, check it against the other candidates on the newest
    training weeks (:func:`geo_risk.validation.check_newest_block`) and serve the winner;
    what to report about it; the ``units`` forecast (it does not depend on the scorer).

    With the built-in models the unit forecast runs here while LightGBM trains the scorer in
    threads without the GIL.
    """
    factory = model_factory if model_factory is not None else fit_model
    train = _training(s.parts, lo=plan.first_train, hi=plan.train - plan.history,
                      config=config, names=state.feature_names())
    if model_factory is None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            served = pool.submit(factory, config.kind, train, config)
            unit_forecast = units()
            model = served.result()
    else:  # a caller's factory: nothing beside it
        model = factory(config.kind, train, config)
        unit_forecast = units()
    model, validation = serve_checked(model, train, config, factory)
    chosen = validation.chosen if validation is not None else config.kind
    meta = {
        "model": chosen,
        "validation": (validation.as_dict() if validation is not None else
                       {"summary": summarise(Validation(requested=config.kind, chosen=chosen,
                                                        weeks=0, first_week=None,
                                                        last_week=None))}),
        "training_weeks": [str(week_start(plan.first_train).date()),
                           str(week_start(plan.train - plan.history).date())],
        "training_rows": int(len(train.y)),
        "training_positive_rows": int(train.y.sum()),
        "base_rate": float(np.average(train.y, weights=train.weight)) if len(train.y) else 0.0,
    }
    return model, meta, unit_forecast


def score_weeks(model: Any, X_weeks: Mapping[int, pd.DataFrame], *, week: int
                ) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray]:
    """P(event) of every row of each week's features (in the order given), and the band of
    ``week``'s (the score itself for a scorer without one); each week predicted once."""
    scores: dict[int, np.ndarray] = {}
    band: tuple[np.ndarray, np.ndarray] | None = None
    for w, X in X_weeks.items():
        if w == week and hasattr(model, "predict_with_interval"):
            scores[w], low, high = model.predict_with_interval(X)
            band = (low, high)
        else:
            scores[w] = model.predict_proba(X)[:, 1]
    if band is None:
        band = (scores[week].copy(), scores[week].copy())
    return scores, *band


def _score(state: HistoryState, s: _Stream, model: Any, meta: dict[str, Any], *,
           config: ModelConfig, admin_names: pd.Series, min_count: int, week: pd.Timestamp,
           info_state: dict[str, Any], units: UnitForecast | None,
           scored: tuple[dict[int, np.ndarray], np.ndarray, np.ndarray]) -> Forecast:
    """The forecast of the week from the ``scored`` weeks (score per history week, band of
    the forecast week), with drivers."""
    grid = state.grid
    t = week_of(week)
    all_pos = np.arange(len(grid))
    X_now = s.X_weeks[t]
    scores, low, high = scored
    risk, risk_prev = scores[t], scores[t - 1]
    history = pd.concat([pd.DataFrame({"cell": grid.cells, "week": week_start(w).date(),
                                       "risk": p}) for w, p in scores.items()],
                        ignore_index=True) if config.history_weeks > 1 else None
    onset = state.onset(all_pos)

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
        "model": meta["model"],
        "requested": config.kind,
        "validation": meta["validation"],
        "estimator": type(model).__name__,
        "features": state.feature_names(),
        "training_weeks": meta["training_weeks"],
        "training_rows": meta["training_rows"],
        "training_positive_rows": meta["training_positive_rows"],
        "base_rate": meta["base_rate"],
        "onset_weight": getattr(model, "onset_weight_", None),
        "blend_weight": getattr(model, "blend_", None),
        "unit_model": units.info if units is not None else None,
        "state": info_state,
    }
    return Forecast(week=week, risk=risk, risk_prev=risk_prev, risk_low=low, risk_high=high,
                    onset=onset, drivers=drivers, facts=facts, events=state.events, grid=grid,
                    info=info, history=history, units=units)


def _units(state: HistoryState, plan: Plan, *, model: Any = None) -> UnitForecast | None:
    """The unit-level forecast from the state's unit history (incidents before the week),
    its model that of the plan's retraining week (``model`` when it is saved already)."""
    ctx = state.context
    if ctx is None or ctx.admin_events is None or not len(state.grid):
        return None
    _, pcodes, population = unit_population(state.grid.admin_pcode, state.grid.population)
    return forecast_units(admin_events=ctx.admin_events, admin_pairs=ctx.admin_pairs,
                          pcodes=pcodes, population=population, week=plan.week,
                          train_week=plan.train, model=model)
