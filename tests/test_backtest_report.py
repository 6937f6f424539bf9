"""Backtest HTML report: content, escaping, offline-only, synthetic banner."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from geo_risk.backtest_report import render_backtest_html
from geo_risk.metrics import StreamingMetrics, brier_skill

EVIL = "<script>alert('x')</script>"
MODELS = ["model", "persistence", "historical_average", "conflictology"]


def _result(seed: int, sharpness: float, onset: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    sm = StreamingMetrics()
    for _ in range(3):
        truth = rng.normal(size=5000)
        signal = sharpness * truth + rng.normal(size=5000)
        p = 1 / (1 + np.exp(-(-5.0 + signal)))
        y = (rng.random(5000) < 1 / (1 + np.exp(-(-5.0 + 1.5 * truth)))).astype(int)
        mask = rng.random(5000) < 0.5 if onset else None
        sm.update(y_true=y, prob=p, area=np.ones(5000), mask=mask)
    return sm.result()


def _report(names: list[str] = MODELS, chosen: str = "model", notes: list[str] | None = None,
            synthetic: bool = True) -> dict:
    models = {}
    for i, name in enumerate(names):
        block = _result(i, sharpness=1.5 - 0.3 * i)
        block["onset"] = _result(i + 10, sharpness=1.0 - 0.2 * i, onset=True)
        models[name] = block
    ref = models.get("historical_average", next(iter(models.values())))
    for block in models.values():
        block["brier_skill"] = brier_skill(brier=block["brier"], reference=ref["brier"])
        block["onset"]["brier_skill"] = brier_skill(brier=block["onset"]["brier"],
                                                    reference=ref["onset"]["brier"])
    return {"title": "Backtest", "synthetic": synthetic, "start": "2023-01-02",
            "end": "2023-01-16", "weeks": 3, "h3_resolution": 6, "chosen": chosen,
            "models": models, "notes": notes or ["Trained on 104 weeks."], "wall_time_s": 12.5}


@pytest.fixture(scope="module")
def report() -> dict:
    return _report()


def test_contains_every_model_and_metric(report):
    html = render_backtest_html(report=report, title="Backtest: Testland", synthetic=True)
    assert html.startswith("<!DOCTYPE html>")
    for name in MODELS:
        assert f'<span class="name">{name}</span>' in html
        assert f"<figcaption>{name}</figcaption>" in html
    for heading in ["AP", "Brier", "Brier skill vs historical average", "Hit rate @1% area",
                    "Hit rate @5% area", "Hit rate @10% area", "PAI @1% area",
                    "PAI @10% area"]:
        assert f">{heading}</th>" in html
    assert "Onset cells" in html and "52 weeks" in html
    for topic in ["Reporting bias", "geo_precision", "time_precision", "base rate"]:
        assert topic in html
    ap = report["models"]["model"]["average_precision"]
    assert f"{ap:.3g}" in html
    hr = report["models"]["model"]["onset"]["hr_at_10pct"]
    assert f"{100 * hr:.1f}%" in html
    # Two tables (all cells, onset) with one row per model each.
    assert html.count("<tbody>") >= 2
    assert len(re.findall(r'<tr( class="chosen")?><th scope="row">', html)) == 2 * len(MODELS)


def test_chosen_model_highlighted_and_listed_first(report):
    rep = dict(report, chosen="conflictology")
    html = render_backtest_html(report=rep, title="t", synthetic=False)
    chosen_rows = re.findall(r'<tr class="chosen"><th scope="row"><span class="name">([^<]*)<',
                             html)
    assert chosen_rows == ["conflictology", "conflictology"]
    first_row = re.search(r'<th scope="row"><span class="name">([^<]*)<', html)
    assert first_row is not None and first_row.group(1) == "conflictology"
    assert '<figure class="chosen"><figcaption>conflictology</figcaption>' in html


def test_escapes_strings_from_report():
    rep = _report(names=["model", EVIL, "historical_average"], chosen=EVIL,
                  notes=[f"note {EVIL}", "a & b"])
    rep["start"] = EVIL
    html = render_backtest_html(report=rep, title=f"Title {EVIL}", synthetic=False)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "note &lt;script&gt;" in html
    assert "a &amp; b" in html


def test_no_network_resources(report):
    html = render_backtest_html(report=report, title="t", synthetic=True)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"https?://", html)
    for forbidden in ["<script", "<link", "<img", "<iframe", "@import", "url(", "@font-face"]:
        assert forbidden not in html.lower()


def test_synthetic_banner(report):
    with_banner = render_backtest_html(report=report, title="t", synthetic=True)
    assert "SYNTHETIC DATA" in with_banner
    assert with_banner.index("SYNTHETIC DATA") < with_banner.index("<h1>")
    real = dict(report, synthetic=False)
    assert "SYNTHETIC DATA" not in render_backtest_html(report=real, title="t", synthetic=False)
    # The report's own flag also triggers it: synthetic results are never shown as real.
    assert "SYNTHETIC DATA" in render_backtest_html(report=report, title="t", synthetic=False)


def test_reliability_plots_are_valid_svg_with_one_marker_per_bin(report):
    html = render_backtest_html(report=report, title="t", synthetic=False)
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == len(MODELS)
    for name, svg in zip(MODELS, svgs, strict=True):
        root = ET.fromstring(svg)  # well-formed XML
        bins = report["models"][name]["reliability"]
        circles = root.findall(".//circle")
        zeros = root.findall(".//path")
        assert len(circles) == sum(b["observed_rate"] > 0 for b in bins)
        assert len(circles) + len(zeros) == len(bins)


def test_missing_and_nan_values_render_as_na():
    rep = _report(names=["model", "historical_average"])
    rep["models"]["model"]["onset"]["average_precision"] = math.nan
    rep["models"]["model"]["onset"]["hr_at_1pct"] = None
    del rep["models"]["model"]["brier_skill"]  # recomputed against historical_average
    rep["models"]["model"]["reliability"] = []
    del rep["wall_time_s"]
    html = render_backtest_html(report=rep, title="t", synthetic=False)
    assert "n/a" in html and not re.search(r"\bnan\b", html, re.I)
    expected = brier_skill(brier=rep["models"]["model"]["brier"],
                           reference=rep["models"]["historical_average"]["brier"])
    assert f"{expected:+.3f}" in html
    assert "No reliability data." in html
    # A nearly empty report still renders.
    assert "<h1>x</h1>" in render_backtest_html(report={}, title="x", synthetic=False)


@pytest.mark.parametrize("bins", [
    [{"mean_predicted": 2e-7, "observed_rate": 0.0, "n": 10**6},
     {"mean_predicted": 3e-3, "observed_rate": 4e-3, "n": 5000},
     {"mean_predicted": 0.6, "observed_rate": 0.5, "n": 10}],
    [{"mean_predicted": 1.0, "observed_rate": 1.0, "n": 3}],
])
def test_reliability_plot_axes_cover_the_data(bins):
    rep = {"chosen": "model", "models": {"model": {"reliability": bins}}}
    html = render_backtest_html(report=rep, title="t", synthetic=False)
    svg = ET.fromstring(re.findall(r"<svg.*?</svg>", html, re.S)[0])
    ticks = [t.text for t in svg.findall(".//text") if t.get("class") == "tick"]
    assert "100%" in ticks
    assert len(svg.findall(".//circle")) + len(svg.findall(".//path")) == len(bins)
    for c in svg.findall(".//circle"):
        assert 0 <= float(c.get("cx")) <= 300 and 0 <= float(c.get("cy")) <= 300
