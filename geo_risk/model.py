"""The forecasting model and the baselines it must beat, all with one interface.

Every estimator here is a scikit-learn classifier: ``fit(X, y, sample_weight=...)`` returns
``self``, ``predict_proba(X)`` returns ``[1 - p, p]``, learned attributes end in ``_``. ``X`` is
a DataFrame whose columns are the names from :meth:`geo_risk.features.HistoryState.
feature_names`; each estimator picks the columns it needs by name, so the same feature matrix
feeds them all in a backtest.

- :class:`PersistenceBaseline`: last week's state (event / no event), as two learned rates.
- :class:`HistoricalAverageBaseline`: the cell's long-run share of weeks with an event.
- :class:`ConflictologyBaseline`: logistic regression on decayed history with neighbours.
- :class:`RiskModel`: shallow, regularised gradient-boosted trees (LightGBM) on all features,
  seed-averaged, blended in log-odds with the conflictology baseline, calibrated (Platt
  scaling) on out-of-fold predictions from time blocks, and blended with the historical
  average on onset cells (no event in the last 52 weeks), where history-driven models are
  weakest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaincinv  # = beta.ppf; scipy.stats costs ~0.7 s of import
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .features import ONSET_WEEKS
from .runtime import heavy_call, n_threads, run_threads

_P_MIN = 1e-6
_LOG_ONSET = float(np.log1p(ONSET_WEEKS))
#: Rows per block below which a booster predicts in one call (threads cost more than they save).
_PREDICT_BLOCK_ROWS = 10_000
_LOG_LAST_WEEK = float(np.log1p(1))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _P_MIN, 1 - _P_MIN)
    return np.log(p / (1 - p))


def _frame(X: Any) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError("X must be a DataFrame with the feature names as columns.")
    return X


def _weights(y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    return np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)


def _proba(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _P_MIN, 1 - _P_MIN)
    return np.column_stack([1 - p, p])


class PersistenceBaseline(ClassifierMixin, BaseEstimator):
    """P(event) learned separately for cells with and without an event last week.

    Attributes
    ----------
    rate_after_event_ : float
    rate_after_quiet_ : float
    """

    def fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None
            ) -> PersistenceBaseline:
        X = _frame(X)
        y = np.asarray(y)
        w = _weights(y, sample_weight)
        last = X["log_weeks_since_last"].to_numpy() <= _LOG_LAST_WEEK + 1e-6
        self.classes_ = np.array([0, 1])
        self.rate_after_event_ = float(np.average(y[last], weights=w[last])) if last.any() else 0.5
        self.rate_after_quiet_ = (float(np.average(y[~last], weights=w[~last]))
                                  if (~last).any() else 0.0)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        last = _frame(X)["log_weeks_since_last"].to_numpy() <= _LOG_LAST_WEEK + 1e-6
        return _proba(np.where(last, self.rate_after_event_, self.rate_after_quiet_))


class HistoricalAverageBaseline(ClassifierMixin, BaseEstimator):
    """The cell's share of weeks with an event over all its history, shrunk towards the
    overall base rate by ``prior_weight`` (a share of the estimate taken from the base rate,
    so cells with no history get a small non-zero probability).

    Attributes
    ----------
    base_rate_ : float
    """

    def __init__(self, *, prior_weight: float = 0.02) -> None:
        self.prior_weight = prior_weight

    def fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None
            ) -> HistoricalAverageBaseline:
        _frame(X)
        y = np.asarray(y)
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(np.average(y, weights=_weights(y, sample_weight))) if len(y) \
            else 0.0
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        rate = _frame(X)["hist_event_week_rate"].to_numpy(float)
        return _proba((1 - self.prior_weight) * rate + self.prior_weight * self.base_rate_)


class ConflictologyBaseline(ClassifierMixin, BaseEstimator):
    """Logistic regression on log decayed incident counts of the cell and its neighbours
    ("conflictology": violence follows violence, in time and space).

    Attributes
    ----------
    columns_ : list of str
        Feature columns used.
    pipeline_ : sklearn Pipeline
    """

    def __init__(self, *, C: float = 1.0) -> None:
        self.C = C

    def _columns(self, X: pd.DataFrame) -> list[str]:
        return [c for c in X.columns if c.startswith("events_") and not c.endswith("_104w")]

    @heavy_call
    def fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None
            ) -> ConflictologyBaseline:
        X = _frame(X)
        y = np.asarray(y).astype(int)
        w = _weights(y, sample_weight)
        self.classes_ = np.array([0, 1])
        self.columns_ = self._columns(X)
        self.base_rate_ = float(np.average(y, weights=w)) if len(y) else 0.0
        if len(np.unique(y)) < 2:
            self.pipeline_ = None
            return self
        self.pipeline_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C,
                                                                            max_iter=500))
        self.pipeline_.fit(X[self.columns_].to_numpy(np.float64), y,
                           logisticregression__sample_weight=w)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        X = _frame(X)
        if self.pipeline_ is None:
            return _proba(np.full(len(X), self.base_rate_))
        return _proba(self.pipeline_.predict_proba(X[self.columns_].to_numpy(np.float64))[:, 1])


def time_blocks(week: np.ndarray | None, *, n_folds: int = 3,
                calibration_share: float = 0.2) -> list[np.ndarray]:
    """Boolean masks of contiguous blocks of weeks over rows (row week numbers), oldest first.

    ``n_folds`` blocks of about equal numbers of weeks when there are at least ``4 * n_folds``
    weeks; else one block of the newest ``calibration_share`` of the weeks (at least 2,
    leaving at least 4 before it); else none. :class:`RiskModel` holds out each block in turn
    for its out-of-fold predictions; the weekly run's check scores every candidate on the
    newest (:func:`geo_risk.validation.check_newest_block`).
    """
    if week is None:
        return []
    weeks = np.unique(week)
    if n_folds >= 2 and len(weeks) >= 4 * n_folds:
        edges = weeks[np.linspace(0, len(weeks), n_folds + 1).astype(int)[1:-1]]
        block = np.searchsorted(edges, week, side="right")
        return [block == k for k in range(n_folds)]
    n_cal = int(round(len(weeks) * calibration_share))
    if n_cal >= 2 and len(weeks) - n_cal >= 4:
        return [week >= weeks[-n_cal]]
    return []


class RiskModel(ClassifierMixin, BaseEstimator):
    """Shallow, regularised LightGBM blended with the conflictology baseline, calibrated on
    out-of-fold predictions, with the historical average on onset cells.

    Why this shape (measured on real ACLED exports, see ``benchmarks/README.md``): at base
    rates of a few per 10,000 cell-weeks, deep trees memorise a handful of busy cells and get
    worse with longer training windows; shallow trees with large leaves and strong L2 do not.
    Trees and the logistic "conflictology" baseline make different errors, so a log-odds
    blend of the two ranks better than either. Calibration and blend weights are judged on
    out-of-fold predictions from contiguous time blocks, so the final trees can be fitted on
    every training week, the newest included.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, reg_lambda, colsample_bytree,
    subsample, max_bin
        LightGBM parameters. No class reweighting: it ruins ranking at tiny base rates; the
        sample weights only stand in for unsampled quiet cells. 100 trees at 0.1 ranked
        within noise of 200-250 trees at 0.05 in half the fitting time. 255 bins per feature:
        63 were faster and as good on the synthetic world and Burkina Faso, but on Ethiopia
        one training sample of three fell below the logistic baseline with 63 bins (AP 0.96x)
        and not with 255 (1.06x) (``benchmarks/README.md``, bench_forecast.py).
    n_seeds
        Boosters trained with different seeds on all training weeks and averaged.
    n_folds
        Contiguous time blocks of training weeks for the out-of-fold predictions that fit the
        calibration, the blend and the onset weight (one booster per block). ``0`` or ``1``
        falls back to holding out the newest ``calibration_share`` of weeks.
    calibration_share
        Used only when ``n_folds < 2`` or no weeks are given.
    blend
        Weight of the trees in the log-odds blend with conflictology; ``None`` chooses it
        from (0, 0.25, 0.5, 0.75, 1) on the out-of-fold predictions.
    blend_metric
        How the blend weight is chosen out of fold: "log_loss" or "average_precision".
    onset_blend
        Blend with the historical average on onset cells, weight chosen out of fold.
    n_jobs
        Boosters (and out-of-fold conflictology fits) trained at once, in threads; ``-1``
        (default) is one per core. Each booster runs on one LightGBM thread with its own
        seed, so the fitted model is the same for any ``n_jobs``. Parallel boosters rather
        than LightGBM's own threads: small trees on ~10^5 rows gain little from OpenMP
        threads, which also spin badly when the cores are shared (``benchmarks/README.md``).

    Attributes
    ----------
    boosters_ : list of lightgbm.LGBMClassifier
    conflictology_ : ConflictologyBaseline
    blend_ : float
        Weight of the trees in the blend.
    calibrator_ : LogisticRegression or None
        Platt scaling of the blended log-odds, fitted out of fold.
    onset_weight_ : float
        Weight of the model (vs the historical average) on onset cells.
    feature_names_in_ : ndarray of str
    bands_ : DataFrame
        Calibration blocks with their out-of-fold counts, for the uncertainty band.
    newest_block_ : tuple of (ndarray, ndarray) or None
        Positions of the training rows in the newest block of weeks and their out-of-fold
        P(event) (trees trained on the older blocks only, blended and calibrated as
        ``predict_proba``); None without such a block. Not saved with the model.
    """

    def __init__(self, *, n_estimators: int = 100, learning_rate: float = 0.1,
                 num_leaves: int = 6, min_child_samples: int = 300, reg_lambda: float = 8.0,
                 colsample_bytree: float = 0.8, subsample: float = 0.8, n_seeds: int = 2,
                 n_folds: int = 3, calibration_share: float = 0.2,
                 blend: float | None = None, blend_metric: str = "log_loss",
                 onset_blend: bool = True, max_bin: int = 255,
                 random_state: int = 0, n_jobs: int = -1) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.subsample = subsample
        self.n_seeds = n_seeds
        self.n_folds = n_folds
        self.calibration_share = calibration_share
        self.blend = blend
        self.blend_metric = blend_metric
        self.onset_blend = onset_blend
        self.max_bin = max_bin
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _dataset(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray) -> Any:
        """One binned LightGBM dataset for every booster of a fit.

        Binning the features costs about as much as 40 trees; the out-of-fold boosters train
        on ``subset``s of this dataset and so reuse its bins instead of binning again (the
        scikit-learn wrapper, ``LGBMClassifier``, bins anew on every ``fit``).
        """
        import lightgbm as lgb

        return lgb.Dataset(X.to_numpy(np.float32), label=y, weight=w,
                           feature_name=[str(c) for c in X.columns],
                           params={"max_bin": self.max_bin, "verbose": -1,
                                   "feature_pre_filter": False,
                                   # binning runs per feature in OpenMP threads; the
                                   # bins do not depend on their number
                                   "num_threads": self._threads(X.shape[1])},
                           free_raw_data=False).construct()

    def _booster(self, ds: Any, rows: np.ndarray | None, seed: int) -> Any:
        """A booster trained on ``ds`` (all rows, or the positions ``rows``)."""
        import lightgbm as lgb

        data = ds if rows is None else ds.subset(rows).construct()
        y = data.get_label()
        # Leaves need enough weight to stand for a rate, not a few memorised cells.
        min_child = max(5, min(self.min_child_samples, int(y.sum()) * 3, len(y) // 20))
        params = {"objective": "binary", "learning_rate": self.learning_rate,
                  "num_leaves": self.num_leaves, "min_child_samples": min_child,
                  "colsample_bytree": self.colsample_bytree, "subsample": self.subsample,
                  "subsample_freq": 1, "reg_lambda": self.reg_lambda, "seed": seed,
                  "max_bin": self.max_bin, "num_threads": 1, "verbose": -1}
        return lgb.train(params, data, num_boost_round=self.n_estimators)

    def _threads(self, tasks: int) -> int:
        return n_threads(self.n_jobs, tasks)

    def _run(self, calls: list[Callable[[], Any]]) -> list[Any]:
        """Results of ``calls`` in order, ``n_jobs`` at a time (see :mod:`geo_risk.runtime`)."""
        return run_threads(calls, n_jobs=self.n_jobs)

    @staticmethod
    def _matrix(X: pd.DataFrame) -> np.ndarray:
        return X.to_numpy(np.float32)

    def _each(self, X: pd.DataFrame) -> list[np.ndarray]:
        """Each booster's probabilities, predicted side by side in threads: one task per
        booster, or per block of rows when there are fewer boosters than threads (each row
        is predicted on its own, so the blocks give the very same values)."""
        m = self._matrix(X)
        n_boosters = len(self.boosters_)
        blocks = max(1, self._threads(len(m) // _PREDICT_BLOCK_ROWS) // max(1, n_boosters))
        edges = np.linspace(0, len(m), blocks + 1).astype(int)

        def predictor(b: Any, lo: int, hi: int) -> Callable[[], np.ndarray]:
            return lambda: np.asarray(b.predict(m[lo:hi], num_threads=1))
        parts = self._run([predictor(b, lo, hi) for b in self.boosters_
                           for lo, hi in zip(edges[:-1], edges[1:], strict=True)])
        return [np.concatenate(parts[i * blocks:(i + 1) * blocks]) if blocks > 1
                else parts[i] for i in range(n_boosters)]

    @staticmethod
    def _onset(X: pd.DataFrame) -> np.ndarray:
        return X["log_weeks_since_last"].to_numpy() > _LOG_ONSET

    @staticmethod
    def _hist(X: pd.DataFrame, base_rate: float) -> np.ndarray:
        return 0.98 * X["hist_event_week_rate"].to_numpy(float) + 0.02 * base_rate

    def _folds(self, week: np.ndarray | None) -> list[np.ndarray]:
        """Boolean masks of held-out rows: contiguous blocks of weeks, oldest first."""
        return time_blocks(week, n_folds=self.n_folds, calibration_share=self.calibration_share)

    def _oof_calls(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray,
                   week: np.ndarray | None, ds: Any) -> tuple[list[np.ndarray],
                                                            list[Callable[[], Any]]]:
        """Held-out masks and one call per mask giving its (tree, conflictology) log-odds."""
        folds = [f for f in self._folds(week)
                 if 0 < y[~f].sum() and y[f].sum() > 0 and (~f).sum() > 50]
        # Subsets are built here, one after the other; only training runs in threads.
        subsets = [ds.subset(np.flatnonzero(~f)).construct() for f in folds]

        def fold(k: int) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
            f = folds[k]

            def call() -> tuple[np.ndarray, np.ndarray]:
                b = self._booster(subsets[k], None, self.random_state + 101 + k)
                c = ConflictologyBaseline().fit(X[~f], y[~f], sample_weight=w[~f])
                return (_logit(b.predict(self._matrix(X[f]))),
                        _logit(c.predict_proba(X[f])[:, 1]))
            return call
        return folds, [fold(k) for k in range(len(folds))]

    @staticmethod
    def _log_loss(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
        p = np.clip(p, _P_MIN, 1 - _P_MIN)
        return float(-np.average(y * np.log(p) + (1 - y) * np.log(1 - p), weights=w))

    def _platt(self, z: np.ndarray, y: np.ndarray, w: np.ndarray) -> LogisticRegression:
        return LogisticRegression(C=100.0).fit(z[:, None], y, sample_weight=w)

    @heavy_call
    def fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None,
            week: np.ndarray | None = None) -> RiskModel:
        """Fit on cell-week rows; ``week`` (row week numbers) defines the time blocks."""
        X = _frame(X)
        y = np.asarray(y).astype(int)
        w = _weights(y, sample_weight)
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.base_rate_ = float(np.average(y, weights=w)) if len(y) else 0.0
        self.calibrator_ = None
        self.onset_weight_ = 1.0
        self.blend_ = 1.0 if self.blend is None else float(self.blend)
        self.bands_ = pd.DataFrame(columns=["p", "n", "k"])
        self.boosters_ = []
        self.newest_block_: tuple[np.ndarray, np.ndarray] | None = None
        if len(np.unique(y)) < 2:
            self.conflictology_ = ConflictologyBaseline().fit(X, y, sample_weight=w)
            return self
        ds = self._dataset(X, y, w)
        folds, fold_calls = self._oof_calls(X, y, w, week, ds)
        # Each booster trains on a Dataset object of its own: lgb.train sets parameters on
        # the Python Dataset it is given, which threads must not share.
        every = np.arange(len(y))
        own = [ds] + [ds.subset(every).construct() for _ in range(1, self.n_seeds)]
        seed_calls = [(lambda s=s: self._booster(own[s], None, self.random_state + s))
                      for s in range(self.n_seeds)]
        results = self._run([lambda: ConflictologyBaseline().fit(X, y, sample_weight=w),
                             *seed_calls, *fold_calls])
        self.conflictology_ = results[0]
        self.boosters_ = results[1:1 + self.n_seeds]
        if not folds:
            return self
        tree, conf = np.zeros(len(y)), np.zeros(len(y))
        held = np.zeros(len(y), dtype=bool)
        for f, (t_f, c_f) in zip(folds, results[1 + self.n_seeds:], strict=True):
            tree[f], conf[f] = t_f, c_f
            held |= f
        tree, conf = tree[held], conf[held]
        yh, wh = y[held], w[held]
        candidates = [self.blend] if self.blend is not None else [0.0, 0.25, 0.5, 0.75, 1.0]
        best_loss = np.inf
        for a in candidates:
            z = a * tree + (1 - a) * conf
            cal = self._platt(z, yh, wh)
            if self.blend_metric == "average_precision":  # ranking is what the map shows
                loss = -average_precision_score(yh, z, sample_weight=wh)
            else:
                loss = self._log_loss(yh, cal.predict_proba(z[:, None])[:, 1], wh)
            if loss < best_loss - 1e-12:
                best_loss, self.blend_, self.calibrator_ = loss, float(a), cal
        assert self.calibrator_ is not None
        z = self.blend_ * tree + (1 - self.blend_) * conf
        p_cal = self.calibrator_.predict_proba(z[:, None])[:, 1]
        # Log-spaced bins: the few high-risk predictions get bins of their own, so their
        # band reflects how few comparable cases stood behind them.
        edges = np.unique(np.geomspace(max(p_cal.min(), 1e-6), p_cal.max() + 1e-12, 16))
        bins = np.clip(np.searchsorted(edges, p_cal, side="right") - 1, 0, len(edges) - 1)
        self.bands_ = (pd.DataFrame({"p": edges[bins], "n": wh, "k": wh * yh})
                       .groupby("p", as_index=False).sum())
        if self.onset_blend:
            self.onset_weight_ = self._choose_blend(X[held], yh, wh, p_cal)
        newest = folds[-1]
        if week is not None and np.asarray(week)[newest].max() == np.max(week):
            # the newest block's out-of-fold P(event), as predict_proba would give it
            rows = newest[held]
            self.newest_block_ = (np.flatnonzero(newest),
                                  self._onset_blended(X[newest], p_cal[rows]))
        return self

    def _choose_blend(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray, p: np.ndarray
                      ) -> float:
        onset = self._onset(X)
        if not onset.any() or y[onset].sum() == 0:
            return 1.0
        h = self._hist(X[onset], self.base_rate_)
        losses = [self._log_loss(y[onset], a * p[onset] + (1 - a) * h, w[onset])
                  for a in np.linspace(0, 1, 11)]
        return float(np.linspace(0, 1, 11)[int(np.argmin(losses))])

    def _conflictology_logit(self, X: pd.DataFrame) -> np.ndarray | None:
        """The conflictology baseline's log-odds, when the blend uses them."""
        if self.blend_ >= 1.0:
            return None
        return _logit(self.conflictology_.predict_proba(X)[:, 1])

    def _z(self, tree_p: np.ndarray, conf: np.ndarray | None) -> np.ndarray:
        z = self.blend_ * _logit(tree_p)
        if conf is not None:
            z = z + (1 - self.blend_) * conf
        return z

    def _calibrate(self, z: np.ndarray) -> np.ndarray:
        if self.calibrator_ is None:
            return 1 / (1 + np.exp(-z))
        return self.calibrator_.predict_proba(z[:, None])[:, 1]

    def _calibrated(self, X: pd.DataFrame, each: list[np.ndarray], conf: np.ndarray | None
                    ) -> np.ndarray:
        if not each:
            return np.full(len(X), self.base_rate_)
        return self._calibrate(self._z(np.mean(each, axis=0), conf))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        X = _frame(X)
        each = self._each(X)
        return _proba(self._blended(X, each, self._conflictology_logit(X) if each else None))

    def _blended(self, X: pd.DataFrame, each: list[np.ndarray], conf: np.ndarray | None
                 ) -> np.ndarray:
        """P(event) from the boosters' probabilities ``each`` and the conflictology log-odds
        ``conf``: calibrated, onset-blended."""
        return self._onset_blended(X, self._calibrated(X, each, conf))

    def _onset_blended(self, X: pd.DataFrame, p: np.ndarray) -> np.ndarray:
        """``p`` with onset rows blended with the historical average (``onset_weight_``)."""
        onset = self._onset(X)
        if self.onset_weight_ < 1.0 and onset.any():
            p = p.copy()
            p[onset] = (self.onset_weight_ * p[onset]
                        + (1 - self.onset_weight_) * self._hist(X[onset], self.base_rate_))
        return p

    def predict_interval(self, X: pd.DataFrame, *, level: float = 0.9
                         ) -> tuple[np.ndarray, np.ndarray]:
        """A band around each probability.

        Combines (a) the Jeffreys interval of the out-of-fold calibration block the prediction
        falls in (how many cell-weeks stood behind that calibrated value) and (b) the spread
        of the seed-averaged boosters. Wide bands mean "few comparable cases seen".
        """
        _, low, high = self.predict_with_interval(X, level=level)
        return low, high

    def predict_with_interval(self, X: pd.DataFrame, *, level: float = 0.9
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(event) (``predict_proba(X)[:, 1]``) and its band (:meth:`predict_interval`),
        each booster and the baseline predicting once for both."""
        X = _frame(X)
        each = self._each(X)
        conf = self._conflictology_logit(X) if each else None
        p = self._blended(X, each, conf)
        lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
        low, high = p.copy(), p.copy()
        if self.calibrator_ is not None and len(self.bands_):
            b = self.bands_.sort_values("p")
            idx = np.clip(np.searchsorted(b["p"].to_numpy(), p, side="right") - 1, 0,
                          len(b) - 1)
            # the Jeffreys bounds of each calibration block (a handful), then per row
            n, k = b["n"].to_numpy(), b["k"].to_numpy()
            low = np.minimum(low, betaincinv(k + 0.5, n - k + 0.5, lo_q)[idx])
            high = np.maximum(high, betaincinv(k + 0.5, n - k + 0.5, hi_q)[idx])
        if len(each) > 1:
            one = np.array([self._calibrate(self._z(e, conf)) for e in each])
            low, high = np.minimum(low, one.min(axis=0)), np.maximum(high, one.max(axis=0))
        return _proba(p)[:, 1], np.clip(low, 0, 1), np.clip(high, 0, 1)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-row feature contributions to the trees' log-odds (LightGBM's TreeSHAP)."""
        X = _frame(X)
        if not self.boosters_:
            return pd.DataFrame(0.0, index=X.index, columns=X.columns)
        # One booster is enough to explain the ranking; contributions are the slow part.
        contrib = self.boosters_[0].predict(self._matrix(X), pred_contrib=True)
        return pd.DataFrame(contrib[:, :-1], index=X.index, columns=X.columns)


BASELINES: dict[str, type[BaseEstimator]] = {
    "persistence": PersistenceBaseline,
    "historical_average": HistoricalAverageBaseline,
    "conflictology": ConflictologyBaseline,
}
MODELS: dict[str, type[BaseEstimator]] = {"model": RiskModel, **BASELINES}


def make_model(name: str, **params: Any) -> Any:
    """A fresh estimator by name: "model" or a baseline name."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; use one of {sorted(MODELS)}")
    return MODELS[name](**params)
