"""Tests of what both maps draw besides the grid: admin-level engagement, the under-engaged
reason, bases open or closed with their reach and labels, and the briefing layout of map.png."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.collections import PathCollection
from matplotlib.patches import Ellipse
from matplotlib.text import Text
from test_map import WEEK, data_of, make_inputs

from geo_risk.render import assets, render_map
from geo_risk.render.layers import bases_in_week, top_rising_units, unit_layers
from geo_risk.render.static import draw_map_figure

MATRIX = pd.DataFrame({
    "admin_pcode": ["SS0101", "SS0102"],
    "level": ["critical", "low"],
    "engagement_status": ["engaged", "suppressed"],
    "engagements": [12, 3],  # 3 must never reach a page: the unit is suppressed
    "priority_rank": [1, 2],
    "change_score": [1.4, 0.1],
    "level_change": ["same", "same"],
    "change_reason": ["4 incidents vs usual 0.5", "steady"],
})
BASES = pd.DataFrame({
    "base_name": ["Open Base", "Shut Base"],
    "lon": [30.12, 30.38],
    "lat": [5.25, 5.25],
    "open_date": ["2020-01-01", "2019-01-01"],
    "close_date": [None, "2024-03-01"],
    "liaison_staff": [2, 3],
    "reach_km": [10.0, 10.0],
})


def _units() -> gpd.GeoDataFrame:
    return unit_layers(boundaries=make_inputs()["boundaries"].drop(columns="level"),
                       matrix=MATRIX)


def test_engagement_theme_colours_units_as_the_matrix_has_them() -> None:
    inputs = make_inputs()
    # Cell-level statuses are all "not engaged" (cells are below the suppression threshold).
    inputs["grid"]["engagement_status"] = "not engaged"
    matrix_before = MATRIX.copy()
    data = data_of(render_map(**{**inputs, "boundaries": _units()}))
    b = data["boundaries"]
    shown = {pc: b["engagement"]["values"][code]
             for pc, code in zip(b["pcode"], b["engagement"]["codes"], strict=True)}
    assert shown == dict(zip(MATRIX["admin_pcode"], MATRIX["engagement_status"], strict=True))
    assert b["engagements"] == [12, -1]  # the suppressed unit's count never reaches the page
    assert b["rank"] == [1, 2] and b["topChange"] == [True, False]
    pd.testing.assert_frame_equal(MATRIX, matrix_before)
    # The page switches the engagement theme to the units when they carry a status.
    js = assets.own_js()
    assert "unitEngagement" in js and "Engagement coverage per admin unit" in js


def test_under_engaged_tooltip_shows_the_reason_not_a_bare_yes() -> None:
    inputs = make_inputs()
    grid = inputs["grid"]
    reason = "among the riskiest 5% of cells this week and low engagement: fewer than 5 engagements"
    hot = grid["risk"].to_numpy() > 0.1
    grid["under_engaged"] = hot
    grid["under_engaged_reason"] = np.where(hot, reason, "")
    data = data_of(render_map(**inputs))
    cols, tables = data["grid"]["cols"], data["grid"]["tables"]
    assert tables["ureason"] == [reason]
    under = np.asarray(cols["under"])
    ureason = np.asarray(cols["ureason"])
    assert (ureason[under == 1] == 0).all() and (ureason[under != 1] == -1).all()
    js = assets.own_js()
    assert "yes: high risk" not in js and "G.tables.ureason" in js


def test_bases_in_week_marks_closed_and_drops_future_bases() -> None:
    bases = BASES.assign(base_name=["Open Base", "Shut Base"])
    extra = pd.DataFrame({"base_name": ["Later"], "lon": [30.2], "lat": [5.2],
                          "open_date": ["2024-06-01"], "close_date": [None],
                          "liaison_staff": [1]})
    both = pd.concat([bases.drop(columns="reach_km"), extra], ignore_index=True)
    out = bases_in_week(bases=both, week=WEEK, reach_km=25)
    assert out["base_name"].tolist() == ["Open Base", "Shut Base"]
    assert out["open"].tolist() == [True, False]
    assert out["closed_on"].tolist()[1] == "2024-03-01"
    assert out["reach_km"].iloc[0] == 25 and np.isnan(out["reach_km"].iloc[1])
    assert "open" not in both.columns


def test_top_rising_units_follow_the_brief_rule() -> None:
    m = pd.DataFrame({"admin_pcode": ["A", "B", "C", "D"],
                      "change_score": [0.2, 2.0, 0.6, np.nan],
                      "level_change": ["up", "same", "same", "down"]})
    assert top_rising_units(matrix=m) == ["B", "C", "A"]
    assert top_rising_units(matrix=m, n=1) == ["B"]


def _figure(bases: pd.DataFrame = BASES, **kw: object):  # type: ignore[no-untyped-def]
    inputs = make_inputs()
    return draw_map_figure(grid=inputs["grid"], title="Sector North", week=WEEK,
                           synthetic=True, boundaries=_units(), bases=bases, **kw)


def _visible_texts(fig) -> list[Text]:  # type: ignore[no-untyped-def]
    return [t for ax in fig.axes for t in ax.texts if t.get_visible()] + [
        t for t in fig.texts if t.get_visible()]


def test_closed_base_is_not_drawn_open_in_the_png() -> None:
    fig = _figure()
    ax = fig.axes[0]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    blue = [tuple(map(tuple, np.round(c.get_offsets(), 3))) for c in points
            if len(c.get_offsets()) and np.allclose(c.get_facecolor()[0][:3],
                                                    (0x1D / 255, 0x3B / 255, 0x8F / 255))]
    assert blue == [((30.12, 5.25),)]  # only the open base is a filled blue dot
    texts = [t.get_text() for t in ax.texts]
    assert "Shut Base (closed 2024-03-01)" in texts and "Shut Base" not in texts
    # Only the open base has a reach circle, of 10 km (0.18 degrees of latitude across).
    circles = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(circles) == 1 and np.isclose(circles[0].height, 20 / 111.32)
    assert np.allclose(circles[0].center, (30.12, 5.25))


def test_png_briefing_layout_has_title_week_legend_and_priority_numbers() -> None:
    fig = _figure()
    texts = [t.get_text() for t in _visible_texts(fig)]
    assert "Sector North" in texts and "SYNTHETIC DATA" in texts
    assert any("Forecast week 2024-05-06 to 2024-05-12" in t for t in texts)
    assert "1  Westville" in texts and "2  Eastfield" in texts  # priority numbers
    legends = [leg for ax in fig.axes for leg in ([ax.get_legend()] + [
        a for a in ax.artists if a.__class__.__name__ == "Legend"]) if leg is not None]
    titles = [leg.get_title().get_text() for leg in legends]
    entries = [t.get_text() for leg in legends for t in leg.get_texts()]
    assert any(t.startswith("Admin risk level") for t in titles) and "Other layers" in titles
    assert {"critical", "high", "medium", "low"} <= set(entries)
    assert "Top change: risk rising most" in entries
    assert {"Mission base, open", "Base closed before this week", "Base reach"} <= set(entries)
    assert any(t.endswith(" km") for t in [t.get_text() for t in fig.axes[0].texts])  # scale bar
    # The matrix levels are an inset with its own title; the main map shows the risk.
    assert any(ax.get_title(loc="left").startswith("Admin risk level") for ax in fig.axes)
    assert any(t.startswith(("Probability", "Expected incidents")) for t in titles)


def test_base_labels_never_hide_a_unit_name_in_the_png() -> None:
    units = _units()
    pts = shapely.get_coordinates(shapely.point_on_surface(units.geometry.values))
    # Bases right where the names sit: each label must move to a free side or hide.
    bases = pd.DataFrame({"base_name": ["A very long base name", "Another long base name"],
                          "lon": pts[:, 0] - 0.02, "lat": pts[:, 1]})
    fig = _figure(bases)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    ax = fig.axes[0]
    names = [t for t in ax.texts if t.get_text().endswith(("Westville", "Eastfield"))]
    base_labels = [t for t in ax.texts if "base name" in t.get_text() and t.get_visible()]
    assert len(names) == 2 and all(t.get_visible() for t in names)
    for b in base_labels:
        for n in names:
            assert not b.get_window_extent(renderer).overlaps(n.get_window_extent(renderer))


def test_png_without_levels_keeps_the_probability_layout() -> None:
    inputs = make_inputs()
    fig = draw_map_figure(grid=inputs["grid"], title="T", week=dt.date(2024, 5, 6),
                          synthetic=False, boundaries=inputs["boundaries"].drop(columns="level"))
    legend = fig.axes[1].artists[0]
    assert legend.get_title().get_text().startswith("Probability of")
