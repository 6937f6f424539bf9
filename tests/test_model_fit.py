"""RiskModel fitting: the shared LightGBM dataset and its bins (see benchmarks/bench_decade.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo_risk.model import RiskModel


def _rows(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "events_1w_r0": rng.gamma(0.5, 1.0, n), "events_26w_r1": rng.gamma(1.0, 1.0, n),
        "log_weeks_since_last": rng.uniform(0, 6, n), "hist_event_week_rate": rng.beta(1, 20, n),
    }).astype(np.float32)
    logit = -4.0 + 1.5 * X["events_1w_r0"].to_numpy() + X["events_26w_r1"].to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    week = np.repeat(np.arange(30), n // 30 + 1)[:n]
    return X, y, week


def _thresholds(model: RiskModel) -> dict[str, int]:
    """Distinct split thresholds per feature over every tree of every booster."""
    trees = pd.concat([b.trees_to_dataframe() for b in model.boosters_])
    splits = trees.dropna(subset=["split_feature"])
    return splits.groupby("split_feature")["threshold"].nunique().to_dict()


@pytest.mark.parametrize("max_bin", [7, 255])
def test_boosters_split_continuous_features_on_at_most_max_bin_bins(max_bin: int) -> None:
    X, y, week = _rows()
    m = RiskModel(n_estimators=40, n_seeds=2, max_bin=max_bin, min_child_samples=20).fit(
        X, y, week=week)
    counts = _thresholds(m)
    assert counts and max(counts.values()) <= max_bin - 1
    if max_bin == 255:  # the bound above is not trivially met
        assert max(counts.values()) > 6


def test_fit_on_a_shared_dataset_keeps_out_of_fold_calibration_and_the_caller_frame() -> None:
    X, y, week = _rows(seed=1)
    before = X.copy()
    m = RiskModel(n_estimators=40, n_seeds=1, min_child_samples=20).fit(X, y, week=week)
    pd.testing.assert_frame_equal(X, before)
    assert m.calibrator_ is not None and len(m.bands_) > 0  # out-of-fold blocks were fitted
    p = m.predict_proba(X)[:, 1]
    # The trees rank the rows that carry the signal above the others.
    top = p >= np.quantile(p, 0.9)
    assert y[top].mean() > 2 * y[~top].mean()
    low, high = m.predict_interval(X.iloc[:50])
    assert np.all(low <= p[:50] + 1e-12) and np.all(high >= p[:50] - 1e-12)
    contrib = m.contributions(X.iloc[:10])
    assert list(contrib.columns) == list(X.columns) and contrib.shape == (10, 4)


def test_boosters_trained_in_parallel_threads_give_the_single_thread_model() -> None:
    X, y, week = _rows(seed=2)
    one = RiskModel(n_estimators=40, n_seeds=2, min_child_samples=20, n_jobs=1).fit(
        X, y, week=week)
    many = RiskModel(n_estimators=40, n_seeds=2, min_child_samples=20, n_jobs=4).fit(
        X, y, week=week)
    assert len(many.boosters_) == 2 and many.calibrator_ is not None
    # Each booster keeps its own seed and one LightGBM thread: the same trees, whatever runs
    # beside it, so the same probabilities to the last bit.
    np.testing.assert_array_equal(one.predict_proba(X), many.predict_proba(X))
    assert (one.blend_, one.onset_weight_) == (many.blend_, many.onset_weight_)
    # and the seeds differ (two distinct boosters were trained, not one twice)
    m = X.to_numpy(np.float32)
    assert not np.array_equal(many.boosters_[0].predict(m), many.boosters_[1].predict(m))


def test_score_weeks_predicts_each_week_once_with_the_same_scores_and_band() -> None:
    from geo_risk.forecast import score_weeks

    X, y, week = _rows(seed=3)
    m = RiskModel(n_estimators=40, n_seeds=2, min_child_samples=20, blend=0.5).fit(
        X, y, week=week)
    weeks = {10: X.iloc[:300], 11: X.iloc[300:600], 12: X.iloc[600:900]}
    calls: list[int] = []
    each = m._each

    def counted(frame: pd.DataFrame) -> list[np.ndarray]:
        calls.append(len(frame))
        return each(frame)

    m._each = counted  # type: ignore[method-assign]
    scores, low, high = score_weeks(m, weeks, week=12)
    assert calls == [300, 300, 300]  # the band of week 12 did not predict it again
    m._each = each  # type: ignore[method-assign]
    assert list(scores) == [10, 11, 12]
    for w, frame in weeks.items():
        np.testing.assert_array_equal(scores[w], m.predict_proba(frame)[:, 1])
    band = m.predict_interval(weeks[12])
    np.testing.assert_array_equal(low, band[0])
    np.testing.assert_array_equal(high, band[1])
    assert np.all(low <= scores[12] + 1e-12) and np.all(high >= scores[12] - 1e-12)
    assert np.any(high > low)


def test_the_conflictology_baseline_taken_from_the_model_is_the_one_fitted_alone() -> None:
    from geo_risk.config import ModelConfig
    from geo_risk.features import TrainingSet
    from geo_risk.forecast import fit_model, fit_models

    X, y, week = _rows(6000, seed=3)
    ts = TrainingSet(X=X.to_numpy(np.float32), y=y.astype(np.int8),
                     weight=np.random.default_rng(1).uniform(1, 5, len(y)), week=week,
                     onset=np.zeros(len(y), bool), feature_names=list(X.columns))
    config = ModelConfig(n_estimators=10)
    both = fit_models(["model", "persistence", "conflictology"], ts, config)
    assert list(both) == ["model", "persistence", "conflictology"]
    assert both["conflictology"] is both["model"].conflictology_  # not fitted twice
    alone = fit_model("conflictology", ts, config)
    shared, own = both["conflictology"].pipeline_, alone.pipeline_
    assert np.array_equal(shared[-1].coef_, own[-1].coef_)
    assert np.array_equal(shared[-1].intercept_, own[-1].intercept_)
    assert np.array_equal(shared[0].mean_, own[0].mean_)
    assert np.array_equal(both["conflictology"].predict_proba(X), alone.predict_proba(X))
    # a caller's own factory fits every model itself
    calls: list[str] = []

    def factory(name: str, t: TrainingSet, c: ModelConfig):  # type: ignore[no-untyped-def]
        calls.append(name)
        return fit_model(name, t, c)

    fit_models(["model", "conflictology"], ts, config, factory)
    assert calls == ["model", "conflictology"]


def test_one_booster_predicting_in_row_blocks_gives_the_single_call_values() -> None:
    from geo_risk.model import _PREDICT_BLOCK_ROWS

    X, y, week = _rows(n=3 * _PREDICT_BLOCK_ROWS, seed=4)
    m = RiskModel(n_estimators=30, n_seeds=1, min_child_samples=20, n_jobs=2).fit(
        X, y, week=week)
    whole = RiskModel(n_jobs=1)
    whole.__dict__.update({k: v for k, v in vars(m).items() if k.endswith("_")})
    # two threads split the rows of the single booster; one thread predicts them at once
    np.testing.assert_array_equal(m.predict_proba(X), whole.predict_proba(X))
    (a,), (b,) = m._each(X), whole._each(X)
    assert len(a) == len(X) and np.array_equal(a, b)


def test_band_holds_the_jeffreys_interval_of_each_rows_calibration_block() -> None:
    from scipy.special import betaincinv

    X, y, week = _rows(seed=5)
    m = RiskModel(n_estimators=30, n_seeds=1, min_child_samples=20).fit(X, y, week=week)
    p, low, high = m.predict_with_interval(X, level=0.9)
    b = m.bands_.sort_values("p")
    block = np.clip(np.searchsorted(b["p"].to_numpy(), p, side="right") - 1, 0, len(b) - 1)
    n, k = b["n"].to_numpy()[block], b["k"].to_numpy()[block]
    assert len(b) > 2  # several blocks, so the lookup per row matters
    # one seed: the band is the block's interval widened to hold the probability itself
    want_low = np.minimum(p, betaincinv(k + 0.5, n - k + 0.5, 0.05))
    want_high = np.maximum(p, betaincinv(k + 0.5, n - k + 0.5, 0.95))
    np.testing.assert_allclose(low, want_low, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(high, want_high, rtol=1e-12, atol=1e-15)
    assert (high - low > 1e-3).mean() > 0.5  # the blocks' bounds, not the point itself
