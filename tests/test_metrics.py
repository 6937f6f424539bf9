"""Streaming forecast metrics: hand-worked cases and agreement with scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss

from geo_risk.metrics import StreamingMetrics, _round_sig, brier_skill, hit_rate_at_area


def _one_week(y: object, p: object) -> dict:
    """Streaming metrics of one week of unit-area cells, kept at full precision."""
    sm = StreamingMetrics(sig_digits=15)
    y_arr = np.asarray(y, dtype=float)
    sm.update(y_true=y_arr, prob=np.asarray(p, dtype=float), area=np.ones(len(y_arr)))
    return sm.result()


def _weeks(seed: int, n_weeks: int, n_cells: int, intercept: float = -6.0):
    """Synthetic weeks with a rare event drawn from the forecast itself (calibrated)."""
    rng = np.random.default_rng(seed)
    for _ in range(n_weeks):
        logit = intercept + 1.5 * rng.normal(size=n_cells)
        p = 1 / (1 + np.exp(-logit))
        y = (rng.random(n_cells) < p).astype(np.int64) * rng.integers(1, 4, n_cells)
        area = rng.uniform(5.0, 6.0, n_cells)
        yield y, p, area


# ---------------------------------------------------------------------------- average precision

def test_streaming_average_precision_by_hand():
    # Ranked: .9 (event) .8 (no) .7 (event) .1 (no); 2 events.
    # Thresholds: .9 -> P=1, R=.5; .8 -> R unchanged; .7 -> P=2/3, R=1.
    # AP = .5 * 1 + .5 * 2/3 = 5/6.
    assert _one_week([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])["average_precision"] == pytest.approx(
        5 / 6)
    # Counts instead of labels: any count > 0 is an event.
    assert _one_week([3, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])["average_precision"] == pytest.approx(
        5 / 6)


def test_streaming_average_precision_ties_form_one_threshold():
    # Scores .5 (event), .5 (no), .2 (event). Threshold .5 flags both tied rows at once:
    # P = 1/2, R = 1/2; threshold .2: P = 2/3, R = 1.  AP = .5*.5 + .5*2/3 = 7/12.
    y, s = [1, 0, 1], [0.5, 0.5, 0.2]
    assert _one_week(y, s)["average_precision"] == pytest.approx(7 / 12)
    assert _one_week(y, s)["average_precision"] == pytest.approx(average_precision_score(y, s))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_average_precision_and_brier_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = 5000
    score = np.round(rng.random(n), 2)  # many ties
    y = (rng.random(n) < 0.05 + 0.3 * score).astype(int)
    r = _one_week(y, score)
    assert r["average_precision"] == pytest.approx(average_precision_score(y, score), abs=1e-12)
    assert r["brier"] == pytest.approx(brier_score_loss(y, score), rel=1e-12)


def test_streaming_average_precision_without_events_is_nan():
    assert math.isnan(_one_week([0, 0], [0.1, 0.2])["average_precision"])


def test_streaming_rejects_nan_scores():
    with pytest.raises(ValueError, match="NaN"):
        _one_week([1, 0], [0.1, np.nan])


# ---------------------------------------------------------------------------- Brier

def test_streaming_brier_by_hand_and_skill():
    # (0.8 - 1)^2 = 0.04, (0.3 - 0)^2 = 0.09 -> mean 0.065.
    assert _one_week([1, 0], [0.8, 0.3])["brier"] == pytest.approx(0.065)
    assert _one_week([2, 0], [0.8, 0.3])["brier"] == pytest.approx(0.065)
    assert brier_skill(brier=0.065, reference=0.13) == pytest.approx(0.5)
    assert brier_skill(brier=0.2, reference=0.1) == pytest.approx(-1.0)
    assert math.isnan(brier_skill(brier=0.1, reference=0.0))
    assert math.isnan(brier_skill(brier=math.nan, reference=0.1))


# ---------------------------------------------------------------------------- hit rate / PAI

# Five cells, total area 10. In flagging order (score desc):
#   cell 0 (score .9, area 1, event), cell 2 (.8, 2, -), cell 3 (.5, 1, event),
#   cell 4 (.2, 5, -), cell 1 (.1, 1, event)  -> cumulative area 1, 3, 4, 9, 10; 3 event cells.
HR_Y = np.array([1, 1, 0, 1, 0])
HR_SCORE = np.array([0.9, 0.1, 0.8, 0.5, 0.2])
HR_AREA = np.array([1.0, 1.0, 2.0, 1.0, 5.0])


@pytest.mark.parametrize(("fraction", "hit_rate", "pai"), [
    (0.10, 1 / 3, (1 / 3) / 0.1),  # target 1.0: cell 0 alone reaches it exactly
    (0.25, 1 / 3, (1 / 3) / 0.3),  # target 2.5: cell 2 crosses it and is included (area 3)
    (0.35, 2 / 3, (2 / 3) / 0.4),  # target 3.5: cells 0, 2, 3 (area 4), 2 hits
    (1.00, 1.0, 1.0),  # everything flagged: PAI = 1
])
def test_hit_rate_and_pai_by_hand(fraction, hit_rate, pai):
    hr, p = hit_rate_at_area(y_true=HR_Y, score=HR_SCORE, area=HR_AREA, fraction=fraction)
    assert hr == pytest.approx(hit_rate)
    assert p == pytest.approx(pai)


def test_hit_rate_ties_broken_by_given_order():
    # Equal scores and areas; flagging half the area takes the cell given first.
    assert hit_rate_at_area(y_true=[0, 1], score=[0.5, 0.5], area=[1, 1], fraction=0.5)[0] == 0
    assert hit_rate_at_area(y_true=[1, 0], score=[0.5, 0.5], area=[1, 1], fraction=0.5)[0] == 1


def test_hit_rate_area_target_tolerates_rounding():
    # Ten cells of area 0.1: 30% of the area is exactly three cells despite float sums.
    y = np.zeros(10)
    y[3] = 1
    score = np.linspace(1, 0, 10)
    hr, pai = hit_rate_at_area(y_true=y, score=score, area=np.full(10, 0.1), fraction=0.3)
    assert hr == 0.0
    hr, pai = hit_rate_at_area(y_true=y, score=score, area=np.full(10, 0.1), fraction=0.4)
    assert hr == 1.0
    assert pai == pytest.approx(2.5)


def test_hit_rate_without_events_is_nan():
    hr, pai = hit_rate_at_area(y_true=[0, 0], score=[0.1, 0.2], area=[1, 1], fraction=0.5)
    assert math.isnan(hr) and math.isnan(pai)
    with pytest.raises(ValueError, match="fraction"):
        hit_rate_at_area(y_true=[1], score=[0.1], area=[1], fraction=0)


# ---------------------------------------------------------------------------- streaming

def test_round_sig_is_monotone_and_deterministic():
    x = np.array([0.099996, 0.1, 0.123449, 0.123451, 1 / 3, 1 / 3, 0.0, 1e-300, 1.0])
    r = _round_sig(x, 4)
    assert r[0] == r[1] == 0.1  # carry into the next decade maps to the same double
    assert r[2] == 0.1234 and r[3] == 0.1235
    assert r[4] == r[5] == 0.3333
    assert r[6] == 0.0 and r[7] == 0.0 and r[8] == 1.0
    rng = np.random.default_rng(5)
    v = np.sort(10 ** rng.uniform(-8, 0, 10_000))
    assert (np.diff(_round_sig(v, 3)) >= 0).all()
    np.testing.assert_array_equal(_round_sig(_round_sig(v, 3), 3), _round_sig(v, 3))


def test_streaming_two_weeks_by_hand():
    sm = StreamingMetrics(fractions=(0.10, 0.35))
    # Week 1: the five cells above. 10% -> 1 hit, share .1; 35% -> 2 hits, share .4; 3 events.
    sm.update(y_true=HR_Y, prob=HR_SCORE, area=HR_AREA)
    # Week 2: four cells of area 1, one event (second cell).
    # 10% -> target .4: first cell (share .25), 0 hits; 35% -> target 1.4: two cells
    # (share .5), 1 hit.
    sm.update(y_true=[0, 1, 0, 0], prob=[0.4, 0.3, 0.2, 0.1], area=[1, 1, 1, 1])
    r = sm.result()
    # Hit rate pooled: hits / event cells.  PAI: hits / sum(events_w * share_w).
    assert r["hr_at_10pct"] == pytest.approx((1 + 0) / (3 + 1))
    assert r["pai_at_10pct"] == pytest.approx(1 / (3 * 0.1 + 1 * 0.25))
    assert r["hr_at_35pct"] == pytest.approx((2 + 1) / 4)
    assert r["pai_at_35pct"] == pytest.approx(3 / (3 * 0.4 + 1 * 0.5))
    # Brier: week 1 squared errors .01+.81+.64+.25+.04 = 1.75; week 2 .16+.49+.04+.01 = .70.
    assert r["brier"] == pytest.approx(2.45 / 9)
    # AP over the 9 pooled cell-weeks, scores desc (E = event):
    # .9E .8 .5E .4 .3E .2 .2 .1E .1  -> precisions at the events' thresholds:
    # 1/1, 2/3, 3/5, 4/9 (the .1 threshold flags both .1 rows) -> mean = AP.
    assert r["average_precision"] == pytest.approx((1 + 2 / 3 + 3 / 5 + 4 / 9) / 4)
    assert (r["weeks"], r["cell_weeks"], r["positives"]) == (2, 9, 4)
    assert r["base_rate"] == pytest.approx(4 / 9)
    rel = r["reliability"]
    assert sum(b["n"] for b in rel) == 9
    assert sum(b["observed_rate"] * b["n"] for b in rel) == pytest.approx(4)
    assert sum(b["mean_predicted"] * b["n"] for b in rel) == pytest.approx(3.5)


def test_streaming_matches_one_shot_on_concatenated_weeks():
    sm = StreamingMetrics()
    exact = StreamingMetrics(sig_digits=15)
    ys, ps = [], []
    for y, p, area in _weeks(seed=6, n_weeks=12, n_cells=20_000):
        sm.update(y_true=y, prob=p, area=area)
        exact.update(y_true=y, prob=p, area=area)
        ys.append(y)
        ps.append(p)
    y, p = np.concatenate(ys), np.concatenate(ps)
    r = sm.result()
    reference_ap = average_precision_score(y > 0, p)
    assert r["positives"] > 300
    assert abs(r["average_precision"] - reference_ap) < 1e-3
    assert exact.result()["average_precision"] == pytest.approx(reference_ap, abs=1e-9)
    assert r["brier"] == pytest.approx(brier_score_loss(y > 0, p), rel=1e-9)
    assert r["cell_weeks"] == len(y)
    assert r["positives"] == int((y > 0).sum())
    assert r["weeks"] == 12


def test_streaming_hit_rate_equals_one_shot_for_one_week():
    y, p, area = next(_weeks(seed=7, n_weeks=1, n_cells=50_000, intercept=-4.0))
    sm = StreamingMetrics()
    sm.update(y_true=y, prob=p, area=area)
    r = sm.result()
    for f, label in [(0.01, "1pct"), (0.05, "5pct"), (0.10, "10pct")]:
        hr, pai = hit_rate_at_area(y_true=y, score=p, area=area, fraction=f)
        assert r[f"hr_at_{label}"] == pytest.approx(hr)
        assert r[f"pai_at_{label}"] == pytest.approx(pai)


def test_streaming_ap_exact_for_heavily_tied_scores():
    # Historical-average-like forecasts k/52 with many ties: rounding keeps ties as ties.
    rng = np.random.default_rng(8)
    sm = StreamingMetrics()
    ys, ps = [], []
    for _ in range(8):
        p = rng.integers(0, 8, 30_000) / 52
        y = (rng.random(30_000) < p).astype(int)
        sm.update(y_true=y, prob=p, area=np.ones(30_000))
        ys.append(y)
        ps.append(p)
    assert sm.result()["average_precision"] == pytest.approx(
        average_precision_score(np.concatenate(ys), np.concatenate(ps)), abs=1e-12)


def test_streaming_memory_does_not_grow_with_weeks():
    sm = StreamingMetrics(sig_digits=3)
    sizes = []
    for i, (y, p, area) in enumerate(_weeks(seed=9, n_weeks=20, n_cells=20_000)):
        sm.update(y_true=y, prob=p, area=area)
        if i in (4, 19):
            sizes.append(sm.stored_values)
    # At most 900 distinct 3-digit values per decade, per class; probabilities span < 9 decades.
    assert sizes[1] <= 2 * 900 * 9
    assert sizes[1] < 1.3 * sizes[0]


def test_streaming_mask_counts_only_masked_cells():
    # The big unmasked cell (area 10) would swallow the whole 34% target without the mask.
    y = np.array([0, 1, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.1])
    area = np.array([10.0, 1.0, 1.0, 1.0])
    mask = np.array([False, True, True, True])
    masked = StreamingMetrics(fractions=(0.34,))
    masked.update(y_true=y, prob=p, area=area, mask=mask)
    r = masked.result()
    # Masked area 3, target 1.02 -> cells 1 and 2 (share 2/3): 1 of 2 events.
    assert r["hr_at_34pct"] == pytest.approx(0.5)
    assert r["pai_at_34pct"] == pytest.approx(0.5 / (2 / 3))
    assert (r["cell_weeks"], r["positives"]) == (3, 2)
    filtered = StreamingMetrics(fractions=(0.34,))
    filtered.update(y_true=y[mask], prob=p[mask], area=area[mask])
    assert r == filtered.result()
    unmasked = StreamingMetrics(fractions=(0.34,))
    unmasked.update(y_true=y, prob=p, area=area)
    assert unmasked.result()["hr_at_34pct"] == 0.0


def test_streaming_mask_equals_filtering_over_many_weeks():
    rng = np.random.default_rng(10)
    a, b = StreamingMetrics(), StreamingMetrics()
    for y, p, area in _weeks(seed=11, n_weeks=5, n_cells=10_000, intercept=-4.0):
        mask = rng.random(len(y)) < 0.3
        a.update(y_true=y, prob=p, area=area, mask=mask)
        b.update(y_true=y[mask], prob=p[mask], area=area[mask])
    assert a.result() == b.result()


def test_streaming_reliability_on_calibrated_probabilities():
    rng = np.random.default_rng(12)
    sm = StreamingMetrics()
    for _ in range(10):
        p = 10 ** rng.uniform(-4, -0.5, 50_000)
        y = (rng.random(50_000) < p).astype(int)
        sm.update(y_true=y, prob=p, area=np.ones(50_000))
    rel = sm.result()["reliability"]
    assert sum(b["n"] for b in rel) == 500_000
    checked = 0
    for b in rel:
        expected_events = b["mean_predicted"] * b["n"]
        if expected_events >= 50:
            se = math.sqrt(b["mean_predicted"] * (1 - b["mean_predicted"]) / b["n"])
            assert abs(b["observed_rate"] - b["mean_predicted"]) < 4 * se
            checked += 1
    assert checked >= 6


def test_streaming_empty_and_eventless():
    r = StreamingMetrics().result()
    assert r["weeks"] == 0 and r["cell_weeks"] == 0
    assert math.isnan(r["average_precision"]) and math.isnan(r["brier"])
    assert r["reliability"] == []
    sm = StreamingMetrics()
    sm.update(y_true=[0, 0], prob=[0.1, 0.2], area=[1, 1])
    sm.update(y_true=[1, 0], prob=[0.1, 0.2], area=[1, 1], mask=np.array([False, False]))
    r = sm.result()
    assert r["weeks"] == 2 and r["positives"] == 0
    assert math.isnan(r["average_precision"]) and math.isnan(r["hr_at_1pct"])
    assert r["brier"] == pytest.approx((0.01 + 0.04) / 2)


def test_streaming_rejects_bad_input():
    sm = StreamingMetrics()
    with pytest.raises(ValueError, match="length"):
        sm.update(y_true=[1, 0], prob=[0.1], area=[1, 1])
    with pytest.raises(ValueError, match="boolean"):
        sm.update(y_true=[1, 0], prob=[0.1, 0.2], area=[1, 1], mask=[1, 0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sm.update(y_true=[1], prob=[-0.1], area=[1])
    with pytest.raises(ValueError):
        StreamingMetrics(fractions=(0.0,))


def test_streaming_reliability_matches_sklearn_calibration_curve():
    # Four forecast values that fall in four different bins of both binnings.
    rng = np.random.default_rng(13)
    sm = StreamingMetrics()
    ys, ps = [], []
    for _ in range(6):
        p = rng.choice([0.0123, 0.0456, 0.234, 0.789], size=20_000)
        y = (rng.random(len(p)) < p).astype(int)
        sm.update(y_true=y, prob=p, area=np.ones(len(p)))
        ys.append(y)
        ps.append(p)
    observed, predicted = calibration_curve(np.concatenate(ys), np.concatenate(ps), n_bins=100)
    rel = sm.result()["reliability"]
    assert len(rel) == 4
    np.testing.assert_allclose([b["observed_rate"] for b in rel], observed, rtol=1e-12)
    np.testing.assert_allclose([b["mean_predicted"] for b in rel], predicted, rtol=1e-12)
