"""Unit-level forecast: P(>= 1 incident in the admin unit next week) and the expected count.

Summing or compounding cell probabilities over a unit (``1 - prod(1 - p)``) treats cells as
independent; events in nearby cells come together, so that aggregate is over-confident for
busy units and under-confident for quiet ones. This module forecasts each unit directly from
unit-week rows: the unit's decayed incident counts at several half-lives (every incident of
the unit, those located only to the unit included), its neighbouring units' decayed counts,
the share of recent weeks with an incident, the weeks since the last one and its population.

A logistic regression gives the probability, a Poisson GLM the expected number of incidents;
both are calibrated on out-of-fold predictions over contiguous time blocks of the training
weeks (Platt scaling of the probability, one scale factor for the count). Features of week
``t`` only use incidents dated before the Monday of ``t``; a forecast for ``t`` is fitted on
labels of weeks before it (``tests/test_unit_forecast.py`` proves both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import LogisticRegression, PoissonRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from .features import ADMIN_HALF_LIVES, week_start
from .runtime import heavy_call

#: Half-lives (weeks) of the unit's own decayed counts; neighbours use ADMIN_HALF_LIVES.
UNIT_HALF_LIVES = (1.0, *ADMIN_HALF_LIVES, 52.0)
#: Unit-weeks the models train on (at most), and the weeks of history before them that
#: warm the decayed counts up.
UNIT_TRAINING_WEEKS = 260
UNIT_WARMUP_WEEKS = 104
#: Windows of the "share of recent weeks with an incident" features (the first is the
#: fallback forecast when there is too little history to fit).
SHARE_WEEKS = (52, 13)
#: Half-life (weeks) of the training rows' weight: recent unit-weeks count more, so the
#: forecast follows an escalation (0 = equal weights).
RECENCY_HALF_LIFE = 104.0
#: Contiguous time blocks for the out-of-fold calibration.
CALIBRATION_BLOCKS = 5
_MIN_TRAIN_ROWS = 40
#: Column of the recent event-week share in the panel's features.
SHARE_FEATURE = len(UNIT_HALF_LIVES) + len(ADMIN_HALF_LIVES)


@dataclass
class UnitPanel:
    """Unit-week features and counts for weeks ``first_week .. first_week + len - 1``.

    ``X[i]`` (units x features) only uses incidents of weeks before ``first_week + i``;
    ``counts[i]`` are the incidents of that week (the label).
    """

    first_week: int
    data_first_week: int
    counts: np.ndarray  # weeks x units
    X: np.ndarray  # weeks x units x features
    feature_names: list[str]

    @property
    def last_week(self) -> int:
        return self.first_week + len(self.counts) - 1

    def rows(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Features and counts of weeks ``lo..hi`` (clipped to the panel), stacked."""
        a, b = max(lo, self.first_week) - self.first_week, min(hi, self.last_week) - \
            self.first_week + 1
        if b <= a:
            return np.zeros((0, self.X.shape[2])), np.zeros(0)
        return self.X[a:b].reshape(-1, self.X.shape[2]), self.counts[a:b].reshape(-1)

    def week(self, week: int) -> np.ndarray:
        """Features of every unit for ``week``."""
        return self.X[week - self.first_week]


def _decayed(counts: np.ndarray, factor: float) -> np.ndarray:
    """``y[i] = counts[i] + factor * y[i - 1]`` down the weeks (axis 0), one unit per column.

    Hand-written, not ``scipy.signal.lfilter([1], [1, -factor], counts, axis=0)``: the same
    arithmetic in the same order (equal to the bit, tested), as fast on a few hundred weeks,
    and importing scipy.signal cost 0.25-0.38 s of every weekly run. One step per week, each
    over all units at once.
    """
    out = np.empty(counts.shape, dtype=np.float64)
    prev = np.zeros(counts.shape[1:], dtype=np.float64)
    for i in range(len(counts)):
        prev = counts[i] + factor * prev
        out[i] = prev
    return out


def unit_panel(*, admin_events: tuple[np.ndarray, np.ndarray, np.ndarray],
               admin_pairs: tuple[np.ndarray, np.ndarray] | None, n_units: int,
               population: np.ndarray, first_week: int, last_week: int) -> UnitPanel:
    """Build the unit-week panel from the unit-level incident counts.

    Parameters
    ----------
    admin_events : tuple of numpy.ndarray
        (week, unit code, incidents) sorted by week, as
        :func:`geo_risk.dataset.admin_weekly_counts` returns (all incidents with a unit,
        cell-less ones included).
    admin_pairs : tuple of numpy.ndarray or None
        (unit code, neighbouring unit code) pairs, both ways
        (:func:`geo_risk.dataset.admin_neighbours`).
    n_units : int
        Number of unit codes.
    population : numpy.ndarray
        People per unit code (NaN = unknown).
    first_week, last_week : int
        Week numbers the panel covers (features of each use only earlier weeks).

    Returns
    -------
    UnitPanel
    """
    wk, code, count = admin_events
    data_first = int(wk.min()) if len(wk) else first_week
    start = min(first_week, max(data_first, first_week - UNIT_WARMUP_WEEKS))
    n_weeks = last_week - start + 1
    keep = (wk >= start) & (wk <= last_week)
    flat = np.bincount((wk[keep] - start) * n_units + code[keep], weights=count[keep],
                       minlength=n_weeks * n_units)
    counts = flat.reshape(n_weeks, n_units)
    # state after week i (decayed); shifted by one so row i only sees weeks before i
    own = [_decayed(counts, 0.5 ** (1.0 / h)) for h in UNIT_HALF_LIVES]
    adj = sparse.csr_matrix((np.ones(len(admin_pairs[0])), admin_pairs),
                            shape=(n_units, n_units)) if admin_pairs is not None and len(
        admin_pairs[0]) else sparse.csr_matrix((n_units, n_units))
    nbr = [np.asarray(adj @ own[UNIT_HALF_LIVES.index(h)].T).T for h in ADMIN_HALF_LIVES]
    any_event = (counts > 0).astype(float)
    csum = np.vstack([np.zeros((1, n_units)), np.cumsum(any_event, axis=0)])
    idx = np.arange(n_weeks)
    shares = [(csum[idx] - csum[np.maximum(idx - n, 0)]) / np.minimum(np.maximum(idx, 1),
                                                                       n)[:, None]
              for n in SHARE_WEEKS]
    last = np.maximum.accumulate(np.where(counts > 0, idx[:, None], -10**6), axis=0)
    since = np.minimum(idx[:, None] - np.vstack([np.full((1, n_units), -10**6), last[:-1]]),
                       520)
    pop = np.log1p(np.nan_to_num(np.asarray(population, float)) / 1000.0)

    def shifted(a: np.ndarray) -> np.ndarray:
        return np.vstack([np.zeros((1, n_units)), a[:-1]])

    cols = [np.log1p(shifted(s)) for s in own] + [np.log1p(shifted(s)) for s in nbr]
    cols += [*shares, np.log1p(since.astype(float)), np.broadcast_to(pop, (n_weeks, n_units))]
    names = ([f"unit_{h:g}w" for h in UNIT_HALF_LIVES]
             + [f"neighbours_{h:g}w" for h in ADMIN_HALF_LIVES]
             + [f"event_week_share_{n}w" for n in SHARE_WEEKS]
             + ["log_weeks_since_last", "log_population_k"])
    return UnitPanel(first_week=start, data_first_week=data_first, counts=counts,
                     X=np.stack(cols, axis=2), feature_names=names)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class UnitModel:
    """Calibrated unit-week models: probability of >= 1 incident and expected incidents."""

    method: str = "logistic+poisson"
    classifier: Pipeline | None = None
    counter: Pipeline | None = None
    platt: LogisticRegression | None = None
    count_scale: float = 1.0
    info: dict[str, Any] = field(default_factory=dict)
    #: Out-of-fold probabilities of the training unit-weeks (for data-driven matrix bins).
    oof_probability: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probability of >= 1 incident, expected incidents) per row of ``X``."""
        if self.classifier is None or self.counter is None:
            p = np.clip(X[:, SHARE_FEATURE].astype(float), 0.0, 1.0)
            return p, -np.log1p(-np.clip(p, 0, 1 - 1e-6))
        logit = self.classifier.decision_function(X)
        p = (self.platt.predict_proba(logit[:, None])[:, 1] if self.platt is not None
             else 1 / (1 + np.exp(-logit)))
        mu = self.counter.predict(X) * self.count_scale
        # E[N] >= P(N >= 1) for any count: keep the two forecasts consistent
        return p, np.maximum(mu, p)


def _models() -> tuple[Pipeline, Pipeline]:
    return (make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)),
            make_pipeline(StandardScaler(), PoissonRegressor(alpha=1e-3, max_iter=2000)))


def _fit(clf: Pipeline, cnt: Pipeline, X: np.ndarray, counts: np.ndarray,
         weight: np.ndarray) -> None:
    clf.fit(X, (counts > 0).astype(int), logisticregression__sample_weight=weight)
    cnt.fit(X, counts, poissonregressor__sample_weight=weight)


@heavy_call
def fit_unit_model(panel: UnitPanel, *, last_label_week: int,
                   training_weeks: int = UNIT_TRAINING_WEEKS) -> UnitModel:
    """Fit on unit-weeks up to ``last_label_week`` (labels of later weeks are never seen).

    Training weeks start after the warm-up of the decayed counts (or at the first data week)
    and span at most ``training_weeks``. The probability is Platt-scaled and the count
    rescaled on out-of-fold predictions over :data:`CALIBRATION_BLOCKS` contiguous blocks.
    With too few rows or a single class the forecast is the unit's share of recent weeks
    with an incident.
    """
    warm = panel.data_first_week + 8 if panel.first_week <= panel.data_first_week else \
        panel.first_week + UNIT_WARMUP_WEEKS // 2
    lo = max(warm, last_label_week - training_weeks + 1)
    X, counts = panel.rows(lo, last_label_week)
    y = (counts > 0).astype(int)
    n_units = panel.counts.shape[1]
    info: dict[str, Any] = {"training_weeks": [int(lo), int(last_label_week)],
                            "training_rows": int(len(y)), "positive_rows": int(y.sum())}
    if len(y) < _MIN_TRAIN_ROWS or y.min() == y.max():
        return UnitModel(method="recent event-week share (too little history to fit)",
                         info=info)
    n_weeks = len(y) // n_units
    block = np.repeat(np.arange(n_weeks) * CALIBRATION_BLOCKS // max(n_weeks, 1), n_units)
    age = np.repeat(np.arange(n_weeks)[::-1], n_units).astype(float)
    weight = 0.5 ** (age / RECENCY_HALF_LIFE) if RECENCY_HALF_LIFE else np.ones(len(y))
    oof_logit = np.full(len(y), np.nan)
    oof_mu = np.full(len(y), np.nan)
    for b in range(CALIBRATION_BLOCKS):
        test = block == b
        train = ~test
        if not test.any() or y[train].min() == y[train].max():
            continue
        clf, cnt = _models()
        _fit(clf, cnt, X[train], counts[train], weight[train])
        oof_logit[test] = clf.decision_function(X[test])
        oof_mu[test] = cnt.predict(X[test])
    clf, cnt = _models()
    _fit(clf, cnt, X, counts, weight)
    ok = np.isfinite(oof_logit)
    platt, scale = None, 1.0
    oof_p = 1 / (1 + np.exp(-np.nan_to_num(oof_logit)))
    if ok.sum() >= _MIN_TRAIN_ROWS and 0 < y[ok].sum() < ok.sum():
        platt = LogisticRegression(C=1e4).fit(oof_logit[ok, None], y[ok],
                                              sample_weight=weight[ok])
        oof_p = platt.predict_proba(np.nan_to_num(oof_logit)[:, None])[:, 1]
        scale = float(np.clip((weight[ok] * counts[ok]).sum()
                              / max((weight[ok] * oof_mu[ok]).sum(), 1e-9), 0.5, 2.0))
        info["oof_brier_uncalibrated"] = float(np.mean(
            (1 / (1 + np.exp(-oof_logit[ok])) - y[ok]) ** 2))
        info["oof_brier"] = float(np.mean((oof_p[ok] - y[ok]) ** 2))
        info["oof_base_rate"] = float(y[ok].mean())
    info["count_scale"] = round(scale, 4)
    return UnitModel(classifier=clf, counter=cnt, platt=platt, count_scale=scale, info=info,
                     oof_probability=oof_p[ok] if ok.any() else oof_p)


def unit_codes(admin_pcode: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Integer code per grid cell and the unit P-codes in code order (as the features use)."""
    codes, uniques = pd.factorize(pd.Series(admin_pcode, dtype=object))
    return codes.astype(np.int64), pd.Index(uniques)


def unit_population(admin_pcode: np.ndarray, population: np.ndarray
                    ) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Cell unit codes, the unit P-codes in code order and each unit's population."""
    codes, pcodes = unit_codes(admin_pcode)
    return codes, pcodes, np.bincount(codes, weights=np.nan_to_num(population),
                                      minlength=len(pcodes))


@dataclass
class UnitForecast:
    """Per unit: this week's and last week's forecasts, with what the model was."""

    table: pd.DataFrame  # admin_pcode, likelihood, expected_incidents, *_prev
    past_likelihood: np.ndarray  # out-of-fold probabilities of past unit-weeks
    info: dict[str, Any]
    model: UnitModel | None = None  # the fitted model (kept in the state folder)


def forecast_units(*, admin_events: tuple[np.ndarray, np.ndarray, np.ndarray],
                   admin_pairs: tuple[np.ndarray, np.ndarray] | None, pcodes: pd.Index,
                   population: np.ndarray, week: int, train_week: int | None = None,
                   model: UnitModel | None = None) -> UnitForecast:
    """Unit forecasts for ``week`` and the week before, fitted on labels before both.

    Parameters
    ----------
    admin_events, admin_pairs
        Unit-level incident counts and unit adjacency (see :func:`unit_panel`); only
        incidents before ``week`` may be in ``admin_events``.
    pcodes : pandas.Index
        P-code of each unit code.
    population : numpy.ndarray
        People per unit code.
    week : int
        The forecast week number.
    train_week : int, optional
        The retraining week the model belongs to (default ``week``): it is fitted on labels
        up to ``train_week - 2`` and its panel starts at a week set by ``train_week`` alone,
        so every week served by one retraining gets the very model that week trained, as the
        cell scorer does (``[model] retrain_every_weeks``) and as the backtest scores it.
    model : UnitModel, optional
        That model, when already fitted (from the state folder); else fitted here.

    Returns
    -------
    UnitForecast
    """
    wk = admin_events[0]
    if len(wk) and int(wk.max()) >= week:
        raise ValueError("admin_events holds incidents of the forecast week or later")
    train = week if train_week is None else train_week
    if train > week:
        raise ValueError("the retraining week cannot be after the forecast week")
    panel = unit_panel(admin_events=admin_events, admin_pairs=admin_pairs,
                       n_units=len(pcodes), population=population,
                       first_week=train - UNIT_TRAINING_WEEKS - 1, last_week=week)
    # the previous week's score must not have seen its own outcome either
    model = model if model is not None else fit_unit_model(panel, last_label_week=train - 2)
    p, mu = model.predict(panel.week(week))
    p_prev, mu_prev = model.predict(panel.week(week - 1))
    table = pd.DataFrame({"admin_pcode": pcodes.to_numpy(), "likelihood": p,
                          "expected_incidents": mu, "likelihood_prev": p_prev,
                          "expected_incidents_prev": mu_prev})
    info = {"method": model.method, "features": panel.feature_names, **model.info}
    info["training_weeks"] = [str(week_start(w).date()) for w in info["training_weeks"]]
    return UnitForecast(table=table, past_likelihood=model.oof_probability, info=info,
                        model=model)
