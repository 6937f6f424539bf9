"""Scorers: turn cell-week features into the probability of at least one incident next week.

Any scikit-learn classifier with ``fit(X, y, sample_weight)`` and ``predict_proba`` can stand
in for :class:`DecayedHistoryScorer` (the pipeline only uses that interface), so the full model
of a later release replaces it without touching the rest of the pipeline.
"""

from __future__ import annotations

from typing import Protocol, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


class Scorer(Protocol):
    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
            ) -> Self: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


class DecayedHistoryScorer(ClassifierMixin, BaseEstimator):
    """Logistic regression on decayed, neighbour-smoothed incident history.

    The features (log of decayed counts for the cell and its rings at several half-lives,
    weeks since the last event, population density) come from
    :func:`geo_risk.features.build_training_set`. Sample weights let a small random sample of
    cells with no history stand for all of them, so probabilities stay calibrated to the real
    base rate instead of the sampled one.

    Parameters
    ----------
    C
        Inverse regularisation strength.

    Attributes
    ----------
    classes_ : ndarray
        ``[0, 1]``.
    coef_ : ndarray of shape (n_features,)
        Coefficients on standardised features.
    intercept_ : float
    n_features_in_ : int
    base_rate_ : float
        Weighted share of positive cell-weeks seen in training.
    """

    def __init__(self, *, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
            ) -> DecayedHistoryScorer:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(int)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.base_rate_ = float(np.average(y, weights=w)) if len(y) else 0.0
        self._scaler = StandardScaler().fit(X, sample_weight=w)
        if len(np.unique(y)) < 2:
            # Nothing to separate (e.g. no incident at all in the window): constant rate.
            self._model = None
            self.coef_ = np.zeros(X.shape[1])
            self.intercept_ = float(np.log((self.base_rate_ + 1e-9) / (1 - self.base_rate_
                                                                         + 1e-9)))
            return self
        self._model = LogisticRegression(C=self.C, max_iter=500).fit(
            self._scaler.transform(X), y, sample_weight=w)
        self.coef_ = self._model.coef_[0]
        self.intercept_ = float(self._model.intercept_[0])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self._model is None:
            p = np.full(len(X), self.base_rate_)
        else:
            p = self._model.predict_proba(self._scaler.transform(X))[:, 1]
        return np.column_stack([1 - p, p])
