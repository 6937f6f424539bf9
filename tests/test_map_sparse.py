"""Issue 11 on the SPARSE synthetic scenario: both maps show where the risk is at country zoom.

The grid is the scenario's true forecast-week intensity (``truth_cells.parquet``), so the test
needs no model: it checks what the maps do with a real-like sparse distribution (most cells
near zero, a few hot places), not how well a model scores.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from PIL import Image

from geo_risk.render import MapMeta, map_tiers, render_map, write_map
from geo_risk.render.map_tiers import RELATIVE_COLOURS, hot_cells, pick_tier, relative_breaks
from geo_risk.render.static import draw_map_figure, render_png
from geo_risk.render.static_risk import top_units
from geo_risk.synth import generate_scenario
from geo_risk.synth.spec import ScenarioSpec
from tests.test_map import data_of, make_inputs

RES = 7
VIEW_PX = (1400, 900)


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    files = generate_scenario(out_dir=tmp_path_factory.mktemp("sparse"), seed=42,
                              spec=ScenarioSpec.sparse())
    truth = pd.read_parquet(files.truth_cells)
    units = gpd.read_file(files.boundaries, layer="adm2").rename(
        columns={"ADM2_PCODE": "admin_pcode", "ADM2_EN": "admin_name"})
    grid = pd.DataFrame({
        "cell": np.array([int(c, 16) for c in truth["cell"]], dtype=np.uint64),
        "risk": -np.expm1(-truth["expected_forecast_week"].to_numpy()),  # P(>= 1), Poisson
        "admin_pcode": truth["admin_pcode"].to_numpy(),
    })
    grid = grid.merge(units[["admin_pcode", "admin_name"]], on="admin_pcode", how="left")
    week = dt.date.fromisoformat(str(files.forecast_week)[:10])
    return {"grid": grid, "units": units[["admin_pcode", "admin_name", "geometry"]],
            "week": week}


def _meta(week: dt.date) -> MapMeta:
    return MapMeta(title="Veridia (sparse)", week=week, synthetic=True, h3_resolution=RES)


def _country_zoom_km_per_px(bounds: list[list[float]]) -> float:
    """Scale at which the country fills a 1400 x 900 view (Leaflet's fitBounds, whole zoom)."""
    (south, west), (north, east) = bounds
    lat = np.radians((south + north) / 2)
    span_km = max((east - west) * 111.32 * np.cos(lat) / VIEW_PX[0],
                  (north - south) * 111.32 / VIEW_PX[1])
    zoom = np.floor(np.log2(40075.016686 * np.cos(lat) / (256 * span_km)))
    return float(40075.016686 * np.cos(lat) / (256 * 2**zoom))


def _largest_class_share(classes: dict[str, Any], values: list[int], weights: list[int]) -> float:
    cls = np.searchsorted(np.asarray(classes["breaks"]), np.asarray(values), side="right")
    area = np.bincount(cls, weights=np.asarray(weights, dtype=float))
    return float(area.max() / area.sum())


def test_html_at_country_zoom_no_colour_covers_90pct_and_fixed_classes_would(
        sparse: dict[str, Any]) -> None:
    data = data_of(render_map(grid=sparse["grid"], boundaries=sparse["units"],
                              meta=_meta(sparse["week"])))
    d = data["display"]
    tiers = {t["res"]: t for t in d["tiers"]}
    r = pick_tier(tiers=list(tiers), resolution=RES,
                  km_per_px=_country_zoom_km_per_px(data["bounds"]))
    assert r < RES  # country zoom draws parents, not the 5 km2 cells
    tier = tiers[r]
    share = _largest_class_share(tier["classes"], tier["v"], tier["n"])
    assert share < 0.9
    assert len(tier["classes"]["colours"]) >= 3  # at least three classes in use
    # The legend's shares are the classes' shares of the area.
    cls = np.searchsorted(np.asarray(tier["classes"]["breaks"]), tier["v"], side="right")
    area = np.bincount(cls, weights=np.asarray(tier["n"], dtype=float))
    assert tier["classes"]["shares"] == pytest.approx((area / area.sum()).tolist(), abs=1e-3)
    # The same grid with absolute classes, cell by cell, is one colour almost everywhere.
    fixed = data_of(render_map(grid=sparse["grid"], boundaries=sparse["units"],
                               meta=_meta(sparse["week"]), classes="fixed"))
    s = fixed["scales"]["risk"]
    q = np.asarray(fixed["grid"]["cols"]["risk"])
    assert _largest_class_share(s, q.tolist(), fixed["grid"]["cols"]["cells"]) > 0.9


def test_html_marks_the_hottest_cells_at_every_zoom(sparse: dict[str, Any]) -> None:
    data = data_of(render_map(grid=sparse["grid"], boundaries=sparse["units"],
                              meta=_meta(sparse["week"])))
    hot = data["display"]["hot"]
    risk = sparse["grid"]["risk"].to_numpy()
    assert 1 <= len(hot) <= 10
    best = int(np.argmax(risk))
    assert data["grid"]["admins"][hot[0]["admin"]][0] == sparse["grid"]["admin_pcode"][best]
    assert len(hot) == hot_cells(risk=risk).size
    # In every tier, the display cell holding the hottest cell is in one of the two top classes.
    for tier in data["display"]["tiers"]:
        i = int(np.argmax(tier["top"]))
        top_class = len(tier["classes"]["breaks"])
        cls = np.searchsorted(tier["classes"]["breaks"], tier["v"][i], side="right")
        assert cls >= top_class - 1


def _png_class_share(png: bytes) -> tuple[float, int]:
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    rgb = image.astype(np.int64)
    packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    counts = np.array([(packed == int(c[1:], 16)).sum() for c in RELATIVE_COLOURS])
    return float(counts.max() / counts.sum()), int((counts > 2000).sum())


def test_png_at_country_scale_no_colour_covers_90pct_and_top_units_are_labelled(
        sparse: dict[str, Any]) -> None:
    kw = {"grid": sparse["grid"], "title": "Veridia (sparse)", "week": sparse["week"],
          "synthetic": True, "boundaries": sparse["units"], "h3_resolution": RES}
    share, classes_seen = _png_class_share(render_png(**kw))
    assert share < 0.9 and classes_seen >= 3
    fig = draw_map_figure(**kw)
    texts = {t.get_text().split("  ")[-1] for t in fig.axes[0].texts if t.get_visible()}
    names = dict(zip(sparse["units"]["admin_pcode"], sparse["units"]["admin_name"], strict=True))
    top = top_units(grid=sparse["grid"], risk=sparse["grid"]["risk"].to_numpy(), n=3)
    assert {names[p] for p in top} <= texts
    bold = {t.get_text() for t in fig.axes[0].texts if t.get_fontweight() == "bold"}
    assert {names[p] for p in top} <= bold
    # Hot cells are ringed on the map.
    assert any(c.get_offsets().shape[0] >= 1 and np.allclose(c.get_edgecolor()[0][:3], 0.0667,
                                                             atol=0.01)
               for c in fig.axes[0].collections)


def test_png_calls_out_a_small_dense_unit(sparse: dict[str, Any]) -> None:
    grid = sparse["grid"].copy()
    units = sparse["units"].copy()
    # A tiny "capital" carved out of the unit with the hottest cell, holding that hot area.
    best = int(np.argmax(grid["risk"].to_numpy()))
    xy = pa.table(h3v.cells_to_coordinates(grid["cell"].to_numpy()[best:best + 1]))
    lon, lat = xy.column("lng")[0].as_py(), xy.column("lat")[0].as_py()
    capital = shapely.Point(lon, lat).buffer(0.05)
    owner = units.index[units.intersects(capital)][0]
    units.loc[owner, "geometry"] = units.loc[owner, "geometry"].difference(capital)
    units = pd.concat([units, gpd.GeoDataFrame(
        {"admin_pcode": ["CAP01"], "admin_name": ["Capital City"]}, geometry=[capital],
        crs=units.crs)], ignore_index=True)
    near = (grid.index == best)
    grid.loc[near, ["admin_pcode", "admin_name"]] = ["CAP01", "Capital City"]
    grid.loc[near, "risk"] = 0.9
    fig = draw_map_figure(grid=grid, title="T", week=sparse["week"], synthetic=True,
                          boundaries=units, h3_resolution=RES)
    insets = fig.axes[0].child_axes
    assert len(insets) == 1 and insets[0].get_title().startswith("Capital City")


def test_browser_draws_parents_at_country_zoom_and_cells_when_zoomed_in(
        browser: Any, sparse: dict[str, Any], tmp_path: Path) -> None:
    path = write_map(tmp_path / "map.html", grid=sparse["grid"], boundaries=sparse["units"],
                     meta=_meta(sparse["week"]))
    page = browser.new_page(viewport={"width": VIEW_PX[0], "height": VIEW_PX[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("window.geoRisk && window.geoRisk.painted", timeout=20_000)
    try:
        assert page.evaluate("geoRisk.tiers.activeRes()") is not None
        legend = page.evaluate("document.getElementById('geo-risk-legend').innerText")
        assert "Expected incidents per 1,000 km" in legend and "% of the area" in legend
        assert "Hot cell" in legend
        page.evaluate("(() => { const m = geoRisk.map;"
                      " m.setZoom(m.getZoom() + 4, {animate: false});"
                      " return 0; })()")
        page.wait_for_timeout(100)
        assert page.evaluate("geoRisk.tiers.active()") == -1
        assert page.evaluate("geoRisk.stats.polygonsDrawn") > 0
        legend = page.evaluate("document.getElementById('geo-risk-legend').innerText")
        assert "Risk probability" in legend
        assert errors == []
    finally:
        page.close()


def test_data_classes_never_split_ties_and_the_lowest_class_is_palest() -> None:
    values = np.r_[np.full(880, 7), np.arange(100, 220)]  # 88% tied at the bottom
    c = relative_breaks(values=values)
    cls = c.classify(values)
    assert len(set(cls[:880])) == 1 and cls[0] == 0  # the tie is one class, the lowest
    assert c.colours[0] == RELATIVE_COLOURS[0] and c.colours[-1] == RELATIVE_COLOURS[-1]
    assert c.shares[0] == pytest.approx(0.90)  # the tie and the values below the top-10% cut
    assert len(c.colours) == len(c.breaks) + 1 >= 3


def test_a_large_grid_draws_only_its_hottest_cells_one_by_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = make_inputs()
    rng = np.random.default_rng(5)  # every cell its own value: the worst case for grouping
    risk = rng.uniform(0.001, 0.3, len(inputs["grid"]))
    inputs["grid"] = inputs["grid"].assign(risk=risk)
    full = data_of(render_map(**inputs))
    monkeypatch.setattr(map_tiers, "LARGE_GRID_CELLS", 100)
    monkeypatch.setattr(map_tiers, "DETAIL_CELLS", 30)
    data = data_of(render_map(**inputs))
    g = data["grid"]
    assert g["nDetail"] == 30 and full["grid"]["nDetail"] == full["grid"]["nCells"] > 500
    assert sum(g["cols"]["cells"]) == 30 and len(g["cols"]["cells"]) <= 30
    # The 30 drawn cells are the 30 highest probabilities.
    drawn = np.sort(np.asarray(g["cols"]["risk"]))
    assert drawn.min() >= np.sort(np.round(risk * 1e4))[-30] - 100
    assert data["display"]["tiers"] == full["display"]["tiers"]  # parents use every cell
