"""Save and load the scorers of :mod:`geo_risk.model` in a safe, versioned format.

No pickle: loading a pickle runs whatever code the file names, and a state folder may be
copied between machines. A model is stored as one JSON document (parameters, learned numbers,
calibration) plus LightGBM's own text format for each booster, and rebuilt from those into the
same classes, so a loaded model scores exactly as the one that was saved
(``tests/test_state.py`` checks it to the last bit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, PoissonRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from .model import (
    ConflictologyBaseline,
    HistoricalAverageBaseline,
    PersistenceBaseline,
    RiskModel,
)
from .unit_forecast import UnitModel

#: Bumped whenever the layout below changes; older files are then rebuilt, never misread.
MODEL_FORMAT = 1


def _booster_text(b: Any) -> str:
    """LightGBM's own text format of a booster (``RiskModel.boosters_`` are native
    ``lightgbm.Booster`` objects)."""
    return str(b.model_to_string())


def _booster_from_text(text: str) -> Any:
    from lightgbm import Booster

    return Booster(model_str=text)


def _logreg_to_json(m: LogisticRegression) -> dict[str, Any]:
    return {"coef": m.coef_.tolist(), "intercept": m.intercept_.tolist(),
            "classes": m.classes_.tolist(), "C": m.C}


def _logreg_from_json(d: dict[str, Any]) -> LogisticRegression:
    m = LogisticRegression(C=d["C"])
    m.coef_ = np.asarray(d["coef"], dtype=np.float64)
    m.intercept_ = np.asarray(d["intercept"], dtype=np.float64)
    m.classes_ = np.asarray(d["classes"])
    m.n_features_in_ = m.coef_.shape[1]
    return m


def _scaler_to_json(scaler: StandardScaler) -> dict[str, Any]:
    return {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
            "var": scaler.var_.tolist()}


def _scaler_from_json(p: dict[str, Any]) -> StandardScaler:
    scaler = StandardScaler()
    scaler.mean_ = np.asarray(p["mean"], dtype=np.float64)
    scaler.scale_ = np.asarray(p["scale"], dtype=np.float64)
    scaler.var_ = np.asarray(p["var"], dtype=np.float64)
    scaler.n_features_in_ = len(scaler.mean_)
    scaler.n_samples_seen_ = 0
    return scaler


def _poisson_to_json(m: PoissonRegressor) -> dict[str, Any]:
    return {"coef": m.coef_.tolist(), "intercept": float(m.intercept_), "alpha": m.alpha,
            "max_iter": m.max_iter}


def _poisson_from_json(d: dict[str, Any]) -> PoissonRegressor:
    m = PoissonRegressor(alpha=d["alpha"], max_iter=d["max_iter"])
    m.coef_ = np.asarray(d["coef"], dtype=np.float64)
    m.intercept_ = float(d["intercept"])
    m.n_features_in_ = len(m.coef_)
    # set by fit in scikit-learn (its log link); the state key holds the scikit-learn
    # version, so a state saved by another version is rebuilt, never read with this
    m._base_loss = m._get_loss()
    return m


def _conflictology_to_json(m: ConflictologyBaseline) -> dict[str, Any]:
    out: dict[str, Any] = {"C": m.C, "columns": list(m.columns_), "base_rate": m.base_rate_,
                           "pipeline": None}
    if m.pipeline_ is not None:
        scaler, logreg = m.pipeline_[0], m.pipeline_[-1]
        out["pipeline"] = {**_scaler_to_json(scaler), "logreg": _logreg_to_json(logreg)}
    return out


def _conflictology_from_json(d: dict[str, Any]) -> ConflictologyBaseline:
    m = ConflictologyBaseline(C=d["C"])
    m.classes_ = np.array([0, 1])
    m.columns_ = list(d["columns"])
    m.base_rate_ = float(d["base_rate"])
    m.pipeline_ = None
    if d["pipeline"] is not None:
        p = d["pipeline"]
        m.pipeline_ = make_pipeline(_scaler_from_json(p), _logreg_from_json(p["logreg"]))
    return m


def unit_model_to_json(model: UnitModel) -> dict[str, Any]:
    """A fitted :class:`~geo_risk.unit_forecast.UnitModel` as a JSON-ready document."""
    def pipe(p: Pipeline | None, last: Any) -> dict[str, Any] | None:
        return None if p is None else {"scaler": _scaler_to_json(p[0]), "model": last(p[-1])}

    return {"format": MODEL_FORMAT, "kind": "unit_model", "method": model.method,
            "classifier": pipe(model.classifier, _logreg_to_json),
            "counter": pipe(model.counter, _poisson_to_json),
            "platt": _logreg_to_json(model.platt) if model.platt is not None else None,
            "count_scale": model.count_scale, "info": model.info,
            "oof_probability": np.asarray(model.oof_probability, np.float64).tolist()}


def unit_model_from_json(doc: dict[str, Any]) -> UnitModel:
    """Rebuild the unit model saved by :func:`unit_model_to_json` (it predicts exactly as
    the one saved).

    Raises
    ------
    ValueError
        The document is of another format version or not a unit model.
    """
    if doc.get("format") != MODEL_FORMAT or doc.get("kind") != "unit_model":
        raise ValueError(f"not a unit model of format {MODEL_FORMAT}")

    def pipe(d: dict[str, Any] | None, last: Any) -> Pipeline | None:
        return None if d is None else make_pipeline(_scaler_from_json(d["scaler"]),
                                                    last(d["model"]))

    return UnitModel(method=str(doc["method"]),
                     classifier=pipe(doc["classifier"], _logreg_from_json),
                     counter=pipe(doc["counter"], _poisson_from_json),
                     platt=(_logreg_from_json(doc["platt"]) if doc["platt"] is not None
                            else None),
                     count_scale=float(doc["count_scale"]), info=dict(doc["info"]),
                     oof_probability=np.asarray(doc["oof_probability"], dtype=np.float64))


def model_to_json(model: Any) -> tuple[dict[str, Any], list[str]]:
    """A fitted scorer as a JSON-ready document and the LightGBM model texts it refers to.

    Parameters
    ----------
    model
        A fitted :class:`~geo_risk.model.RiskModel` or baseline.

    Returns
    -------
    tuple of (dict, list of str)
        The document (``format``, ``kind``, parameters, learned values) and one LightGBM model
        text per booster, in order.
    """
    if isinstance(model, PersistenceBaseline):
        return {"format": MODEL_FORMAT, "kind": "persistence",
                "rate_after_event": model.rate_after_event_,
                "rate_after_quiet": model.rate_after_quiet_}, []
    if isinstance(model, HistoricalAverageBaseline):
        return {"format": MODEL_FORMAT, "kind": "historical_average",
                "prior_weight": model.prior_weight, "base_rate": model.base_rate_}, []
    if isinstance(model, ConflictologyBaseline):
        return {"format": MODEL_FORMAT, "kind": "conflictology",
                **_conflictology_to_json(model)}, []
    if isinstance(model, RiskModel):
        doc = {"format": MODEL_FORMAT, "kind": "model", "params": model.get_params(),
               "features": [str(c) for c in model.feature_names_in_],
               "base_rate": model.base_rate_, "blend": model.blend_,
               "onset_weight": model.onset_weight_,
               "calibrator": (_logreg_to_json(model.calibrator_)
                              if model.calibrator_ is not None else None),
               "bands": {c: model.bands_[c].astype(float).tolist() for c in ("p", "n", "k")},
               "conflictology": _conflictology_to_json(model.conflictology_),
               "boosters": len(model.boosters_)}
        return doc, [_booster_text(b) for b in model.boosters_]
    raise TypeError(f"cannot save a {type(model).__name__}")


def model_from_json(doc: dict[str, Any], boosters: list[str]) -> Any:
    """Rebuild the scorer saved by :func:`model_to_json`.

    Parameters
    ----------
    doc
        The JSON document.
    boosters
        The LightGBM model texts, in order.

    Returns
    -------
    object
        A fitted estimator of the saved kind.

    Raises
    ------
    ValueError
        The document is of another format version or names an unknown kind.
    """
    if doc.get("format") != MODEL_FORMAT:
        raise ValueError(f"model format {doc.get('format')!r}, expected {MODEL_FORMAT}")
    kind = doc.get("kind")
    if kind == "persistence":
        p = PersistenceBaseline()
        p.classes_ = np.array([0, 1])
        p.rate_after_event_ = float(doc["rate_after_event"])
        p.rate_after_quiet_ = float(doc["rate_after_quiet"])
        return p
    if kind == "historical_average":
        h = HistoricalAverageBaseline(prior_weight=float(doc["prior_weight"]))
        h.classes_ = np.array([0, 1])
        h.base_rate_ = float(doc["base_rate"])
        return h
    if kind == "conflictology":
        return _conflictology_from_json(doc)
    if kind == "model":
        if len(boosters) != int(doc["boosters"]):
            raise ValueError(f"{doc['boosters']} boosters expected, {len(boosters)} found")
        m = RiskModel(**doc["params"])
        m.classes_ = np.array([0, 1])
        m.feature_names_in_ = np.asarray(doc["features"], dtype=object)
        m.base_rate_ = float(doc["base_rate"])
        m.blend_ = float(doc["blend"])
        m.onset_weight_ = float(doc["onset_weight"])
        m.calibrator_ = (_logreg_from_json(doc["calibrator"])
                         if doc["calibrator"] is not None else None)
        m.bands_ = pd.DataFrame({c: np.asarray(doc["bands"][c], dtype=np.float64)
                                 for c in ("p", "n", "k")})
        m.conflictology_ = _conflictology_from_json(doc["conflictology"])
        m.boosters_ = [_booster_from_text(t) for t in boosters]
        return m
    raise ValueError(f"unknown model kind {kind!r}")
