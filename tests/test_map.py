"""Tests of the offline risk map page (no browser): contents, safety, validation, encoding."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from conftest import SHARED_DATA, require_files

from geo_risk.errors import GeoRiskError, ValidationError
from geo_risk.render import MapMeta, assets, render_map, write_map
from geo_risk.render.map import format_probability, quantise_probability

RES = 7
WEEK = dt.date(2024, 5, 6)


def make_inputs(n_active: int = 5) -> dict:
    """Two admin units side by side (about 600 res-7 cells), base rate plus a few hot cells."""
    west = shapely.box(30.0, 5.0, 30.25, 5.5)
    east = shapely.box(30.25, 5.0, 30.5, 5.5)
    boundaries = gpd.GeoDataFrame(
        {
            "admin_pcode": ["SS0101", "SS0102"],
            "admin_name": ["Westville", "Eastfield"],
            "level": ["high", "low"],
        },
        geometry=[west, east],
        crs=4326,
    )
    lists = pa.array(h3v.wkb_to_cells(shapely.to_wkb(boundaries.geometry.values), RES))
    cells = np.asarray(lists.flatten()).astype(np.uint64)
    owner = np.repeat(np.arange(2), np.diff(np.asarray(lists.offsets)))
    risk = np.full(cells.size, 0.004)
    hot = np.arange(n_active) * 37 % cells.size
    risk[hot] = 0.1 + 0.1 * np.arange(n_active)
    grid = pd.DataFrame(
        {
            "cell": cells,
            "risk": risk,
            "admin_pcode": boundaries["admin_pcode"].to_numpy()[owner],
            "admin_name": boundaries["admin_name"].to_numpy()[owner],
        }
    )
    meta = MapMeta(
        title="Test map", week=WEEK, synthetic=True, h3_resolution=RES, sources=("unit test",)
    )
    return {"grid": grid, "boundaries": boundaries, "meta": meta}


def data_of(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="geo-risk-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


def varints(b64: str) -> np.ndarray:
    raw = base64.b64decode(b64)
    out, v, shift = [], 0, 0
    for byte in raw:
        v |= (byte & 127) << shift
        if byte & 128:
            shift += 7
        else:
            out.append(v)
            v, shift = 0, 0
    return np.array(out, dtype=np.int64)


def decode_shapes(sh: dict, scale: int) -> list[shapely.Geometry]:
    """Python twin of decodeShapes in map.js: one MultiPolygon per item."""
    p, c = varints(sh["p"]), varints(sh["c"])
    r, nv = (np.repeat(*varints(sh[k]).reshape(-1, 2).T) for k in ("r", "v"))
    d = np.where(c % 2 == 1, -(c + 1) // 2, c // 2).reshape(-1, 2)
    items, pi, ri, ci = [], 0, 0, 0
    first = np.zeros(2, dtype=np.int64)
    prev_len, prev_steps = -1, np.zeros((0, 2), dtype=np.int64)
    for i in range(sh["n"]):
        polys = []
        for _ in range(p[i]):
            rings = []
            for _ in range(r[pi]):
                n = nv[ri]
                first = first + d[ci]
                steps = d[ci + 1 : ci + n].copy()
                if n == prev_len and n <= 12:
                    steps += prev_steps
                ring = first + np.vstack(
                    [np.zeros((1, 2), dtype=np.int64), np.cumsum(steps, axis=0)]
                )
                rings.append(ring / scale)
                prev_len, prev_steps = n, steps
                ci += n
                ri += 1
            pi += 1
            polys.append(shapely.Polygon(rings[0], rings[1:]))
        items.append(shapely.MultiPolygon(polys))
    return items


def test_page_is_self_contained_and_offline() -> None:
    page = render_map(**make_inputs())
    # No external script, stylesheet, image or frame; every <script> is inline.
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page, re.I)
    assert "cdn.jsdelivr" not in page and "bootstrapcdn" not in page and "code.jquery" not in page
    # Stylesheets reference only data: URIs (Leaflet's images are inlined).
    for block in re.findall(r"<style>(.*?)</style>", page, re.S):
        for target in re.findall(r"url\(\s*['\"]?([^'\")]*)", block):
            assert target.startswith("data:"), target
    assert "Leaflet 1.9.4" in page
    assert "L.tileLayer(data.basemap.url" in page  # the code exists ...
    assert data_of(page)["basemap"] is None  # ... but no basemap unless asked


def test_same_inputs_give_the_same_page() -> None:
    inputs = make_inputs(n_active=8)
    inputs["grid"]["under_engaged"] = inputs["grid"]["risk"] > 0.01
    assert render_map(**inputs) == render_map(**inputs)


def test_map_page_is_rendered_without_folium() -> None:
    code = ("import sys\nfrom geo_risk.render import render_map\n"
            "print('folium' in sys.modules, 'branca' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["False", "False"]
    page = render_map(**make_inputs())
    assert "folium" not in page and page.count('id="map_geo_risk"') == 1


def test_every_cell_keeps_its_value_in_the_dissolved_groups() -> None:
    inputs = make_inputs(n_active=5)
    page = render_map(**inputs)
    data = data_of(page)
    g = data["grid"]
    shapes = decode_shapes(g["shapes"], data["scale"])
    grid = inputs["grid"]
    # Base-rate cells of each unit collapse into one area; each hot cell is its own group.
    assert g["shapes"]["n"] == 2 + 5
    assert sum(g["cols"]["cells"]) == len(grid)
    coords = pa.table(h3v.cells_to_coordinates(grid["cell"].to_numpy()))
    centres = shapely.points(coords.column("lng").to_numpy(), coords.column("lat").to_numpy())
    expected = quantise_probability(grid["risk"].to_numpy())
    owner = np.full(len(grid), -1)
    for gi, shape in enumerate(shapes):
        inside = shapely.contains(shape, centres)
        assert (owner[inside] == -1).all(), "groups overlap"
        owner[inside] = gi
    assert (owner >= 0).all(), "a cell centre lies outside every group"
    got = np.asarray(g["cols"]["risk"])[owner]
    assert (got == expected).all()
    names = [g["admins"][a][1] for a in np.asarray(g["cols"]["admin"])[owner]]
    assert names == grid["admin_name"].tolist()
    # Area of the outlines equals the area of the cells.
    cell_area = shapely.area(
        shapely.from_wkb(
            pa.array(h3v.cells_to_wkb_polygons(grid["cell"].to_numpy())).to_numpy(
                zero_copy_only=False
            )
        )
    ).sum()
    assert sum(shapely.area(s) for s in shapes) == pytest.approx(cell_area, rel=1e-3)


def test_text_from_data_is_escaped_in_the_page() -> None:
    payloads = [
        "<script>window.__xss=1</script>",
        '<img src=x onerror="window.__xss=1">',
        '"><svg onload="window.__xss=1">',
        "</script><script>window.__xss=1</script>",
        "`",
        "${window.__xss=1}",
        "{{ 7*7 }}{% raw %}",
        "line\u2028sep\u2029end",
    ]
    text = " ".join(payloads)
    inputs = make_inputs()
    inputs["grid"]["admin_name"] = text
    inputs["grid"]["drivers"] = text
    inputs["boundaries"]["admin_name"] = text
    inputs["meta"] = MapMeta(
        title=text,
        week=WEEK,
        synthetic=True,
        h3_resolution=RES,
        sources=(text,),
        notes=(text,),
        freshness=((text, "2024-05-01", True),),
    )
    bases = pd.DataFrame({"base_name": [text], "lon": [30.1], "lat": [5.2], "liaison_staff": [2]})
    page = render_map(**inputs, bases=bases)
    for needle in ("<script>window", "<img src=x", "<svg onload", "</script><script>"):
        assert needle not in page, needle
    for script in re.findall(r"<script[^>]*>(.*?)</script>", page, re.S):
        assert "\u2028" not in script and "\u2029" not in script
    assert "{{ 7*7 }}" in page  # never evaluated as a template
    assert "49" not in re.findall(r"<title>(.*?)</title>", page, re.S)[0]
    data = data_of(page)
    assert data["meta"]["title"] == text
    assert data["bases"][0]["name"] == text
    assert data["grid"]["tables"]["drivers"] == [text]


def test_only_aggregated_columns_reach_the_page() -> None:
    inputs = make_inputs()
    inputs["grid"]["participant_names"] = "SECRET PERSON"
    inputs["grid"]["phone"] = "+211 555 0199"
    inputs["grid"]["population"] = 1234.5678
    page = render_map(**inputs)
    assert "SECRET PERSON" not in page
    assert "555 0199" not in page
    assert "1234.5678" not in page


def test_suppressed_engagement_never_shows_a_count() -> None:
    inputs = make_inputs()
    grid = inputs["grid"]
    grid["engagement_status"] = np.where(np.arange(len(grid)) % 2 == 0, "suppressed", "engaged")
    grid["engagements_12w"] = np.where(grid["engagement_status"] == "suppressed", 3.0, 9.0)
    data = data_of(render_map(**inputs))
    cols = data["grid"]["cols"]
    statuses = data["grid"]["tables"]["status"]
    for status, eng in zip(cols["status"], cols["eng"], strict=True):
        if statuses[status] == "suppressed":
            assert eng == -1
        else:
            assert eng == 9


def test_optional_columns_all_present_are_encoded() -> None:
    inputs = make_inputs()
    grid = inputs["grid"]
    hot = grid["risk"] > 0.01
    grid["risk_low"] = grid["risk"] / 2
    grid["risk_high"] = np.minimum(grid["risk"] * 2, 1)
    grid["risk_prev"] = np.where(hot, np.nan, grid["risk"])
    grid["risk_band"] = np.where(hot, "high", "low")
    grid["trend"] = np.where(hot, "rising", "stable")
    grid["drivers"] = np.where(hot, "recent violence; displacement", None)
    grid["incidents_4w"] = np.where(hot, 2, 0)
    grid["incidents_52w"] = np.where(hot, 9, 0)
    grid["restricted"] = hot
    grid["under_engaged"] = hot
    grid["engagements_12w"] = np.nan
    data = data_of(render_map(**inputs))
    cols = data["grid"]["cols"]
    for key in (
        "low",
        "high",
        "prev",
        "band",
        "trend",
        "drivers",
        "inc4",
        "inc52",
        "restricted",
        "under",
        "eng",
        "status",
    ):
        assert key in cols, key
    assert data["grid"]["tables"]["status"] == ["suppressed"]  # derived from NaN counts
    assert data["under"]["nCells"] == 5
    assert data["restrictedCells"]["nCells"] == 5
    assert -1 in cols["prev"]  # NaN last week survives as "missing"
    assert data["colours"]["trend"][data["grid"]["tables"]["trend"].index("rising")] == "#d3362b"


def test_history_feeds_the_week_selector() -> None:
    inputs = make_inputs()
    grid = inputs["grid"]
    history = pd.concat(
        [
            pd.DataFrame(
                {
                    "cell": grid["cell"],
                    "week": pd.Timestamp(WEEK) - pd.Timedelta(days=7 * k),
                    "risk": 0.01 * k,
                }
            )
            for k in (1, 2)
        ]
        + [
            pd.DataFrame({"cell": grid["cell"], "week": pd.Timestamp(WEEK), "risk": 0.9})
        ]  # current: ignored
    )
    data = data_of(render_map(**inputs, history=history))
    weeks = data["grid"]["weeks"]
    assert [w["date"] for w in weeks] == ["2024-04-22", "2024-04-29", "2024-05-06"]
    assert [w["prev"] for w in weeks] == [-1, 0, 1]
    assert set(data["grid"]["hist"][0]) == {200} and set(data["grid"]["hist"][1]) == {100}


def test_restrictions_only_in_force_and_bases() -> None:
    inputs = make_inputs()
    restrictions = gpd.GeoDataFrame(
        {
            "restriction_id": ["open", "ended", "future"],
            "cause": ["armed_group", "terrain_weather", "government_denial"],
            "severity": [3, 1, 2],
            "start_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-06-01"]),
            "end_date": pd.to_datetime([None, "2024-02-01", None]),
        },
        geometry=[shapely.Point(30.1, 5.2).buffer(0.05)] * 3,
        crs=4326,
    )
    bases = pd.DataFrame(
        {
            "base_name": ["Alpha", "Closed", "Future", "Default"],
            "lon": [30.2, 30.3, 30.4, 30.1],
            "lat": [5.3, 5.1, 5.2, -0.5],
            "liaison_staff": [3, 2, 1, 1],
            "reach_km": [20, 20, 20, None],
            "open_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2024-06-01", None]),
            "close_date": pd.to_datetime([None, "2024-05-05", None, "2024-05-06"]),
        }
    )
    data = data_of(render_map(**inputs, restrictions=restrictions, bases=bases,
                              base_reach_km=25))
    assert data["restrictions"]["id"] == ["open"]
    assert data["restrictions"]["end"] == [None]
    # Closed the day before the week (2024-05-06): greyed with its date, no reach; a base
    # opening after the week is not drawn; closing on the week's Monday is still open.
    assert data["bases"] == [
        {"name": "Alpha", "lat": 5.3, "lon": 30.2, "staff": 3, "reachKm": 20.0, "open": True,
         "closed": None},
        {"name": "Closed", "lat": 5.1, "lon": 30.3, "staff": 2, "reachKm": None,
         "open": False, "closed": "2024-05-05"},
        {"name": "Default", "lat": -0.5, "lon": 30.1, "staff": 1, "reachKm": 25.0,
         "open": True, "closed": None},
    ]


def test_boundaries_reprojected_with_a_warning() -> None:
    inputs = make_inputs()
    inputs["boundaries"] = inputs["boundaries"].to_crs(3857)
    with pytest.warns(UserWarning, match="reprojecting"):
        data = data_of(render_map(**inputs))
    west = decode_shapes(data["boundaries"]["shapes"], data["scale"])[0]
    assert west.bounds == pytest.approx((30.0, 5.0, 30.25, 5.5), abs=2e-4)
    assert data["boundaries"]["name"] == ["Westville", "Eastfield"]
    assert data["boundaries"]["level"]["values"] == ["high", "low"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda i: i["grid"].drop(columns="risk"), "risk"),
        (lambda i: i["grid"].assign(risk=1.5), "between 0 and 1"),
        (lambda i: i["grid"].assign(risk=np.nan), "not missing"),
        (lambda i: pd.concat([i["grid"], i["grid"].head(1)]), "duplicate"),
        (lambda i: i["grid"].assign(cell=np.uint64(5)), "invalid H3"),
        (lambda i: i["grid"].iloc[:0], "no rows"),
    ],
)
def test_bad_grid_raises_clear_errors(change, match) -> None:  # type: ignore[no-untyped-def]
    inputs = make_inputs()
    inputs["grid"] = change(inputs)
    with pytest.raises(ValidationError, match=match):
        render_map(**inputs)


def test_other_bad_inputs_raise_georisk_errors() -> None:
    inputs = make_inputs()
    with pytest.raises(ValidationError, match="resolution 8"):
        render_map(
            **{**inputs, "meta": MapMeta(title="t", week=WEEK, synthetic=False, h3_resolution=8)}
        )
    with pytest.raises(ValidationError, match="no CRS"):
        render_map(
            **{**inputs, "boundaries": inputs["boundaries"].set_crs(None, allow_override=True)}
        )
    with pytest.raises(ValidationError, match="admin_name"):
        render_map(**{**inputs, "boundaries": inputs["boundaries"].drop(columns="admin_name")})
    bad_restr = gpd.GeoDataFrame(
        {"cause": ["x"], "severity": [7]}, geometry=[shapely.box(30, 5, 30.1, 5.1)], crs=4326
    )
    with pytest.raises(ValidationError, match="severity"):
        render_map(**inputs, restrictions=bad_restr)
    with pytest.raises(ValidationError, match="lon"):
        render_map(**inputs, bases=pd.DataFrame({"base_name": ["a"], "lon": [500.0], "lat": [1.0]}))
    with pytest.raises(GeoRiskError, match="basemap_url"):
        render_map(**inputs, basemap_url="javascript:alert(1)")


def test_caller_frames_are_not_mutated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inputs = make_inputs()
    inputs["grid"]["engagement_status"] = "suppressed"
    inputs["grid"]["engagements_12w"] = 4.0
    before = inputs["grid"].copy()
    before_b = inputs["boundaries"].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = write_map(tmp_path / "sub" / "map.html", **inputs)
    pd.testing.assert_frame_equal(inputs["grid"], before)
    pd.testing.assert_frame_equal(inputs["boundaries"], before_b)
    assert out.exists() and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_basemap_only_when_asked_and_attribution_escaped() -> None:
    page = render_map(
        **make_inputs(),
        basemap_url="https://tiles.example.org/{z}/{x}/{y}.png",
        basemap_attribution="<b>Tiles</b> & co",
    )
    basemap = data_of(page)["basemap"]
    assert basemap["url"] == "https://tiles.example.org/{z}/{x}/{y}.png"
    assert basemap["attribution"] == "&lt;b&gt;Tiles&lt;/b&gt; &amp; co"


def test_probability_quantisation_and_format() -> None:
    q = quantise_probability([0.0, 0.00004, 0.0042, 0.0123, 0.0996, 0.234, 1.0, np.nan])
    assert q.tolist() == [0, 0, 42, 120, 1000, 2300, 10000, -1]
    assert [format_probability(int(v)) for v in q] == [
        "<0.01%",
        "<0.01%",
        "0.42%",
        "1.2%",
        "10%",
        "23%",
        "100%",
        "n/a",
    ]


def test_assets_inline_safely() -> None:
    css = assets.leaflet_css()
    assert "images/" not in css and "#default#VML" not in css
    assert css.count("data:image/png;base64,") == 3
    js = assets.leaflet_js()
    assert "</script" not in js.lower()
    assert not re.search(r"\.innerHTML\s*=|insertAdjacentHTML|document\.write", assets.own_js())


REAL_SSD = SHARED_DATA / "boundaries" / "ssd_admbnda_adm2_imwg_nbs_20180817.shp"


@pytest.mark.realdata
def test_real_cod_ab_boundaries_simplify_and_label() -> None:
    require_files(REAL_SSD)
    raw = gpd.read_file(REAL_SSD)
    b = raw.rename(columns={"ADM2_PCODE": "admin_pcode", "ADM2_EN": "admin_name"})
    lists = pa.array(h3v.wkb_to_cells(shapely.to_wkb(b.geometry.values), 5))
    cells = np.asarray(lists.flatten()).astype(np.uint64)
    owner = np.repeat(np.arange(len(b)), np.diff(np.asarray(lists.offsets)))
    cells, first = np.unique(cells, return_index=True)
    grid = pd.DataFrame(
        {
            "cell": cells,
            "risk": 0.004,
            "admin_pcode": b["admin_pcode"].to_numpy()[owner[first]],
            "admin_name": b["admin_name"].to_numpy()[owner[first]],
        }
    )
    meta = MapMeta(title="South Sudan", week=WEEK, synthetic=False, h3_resolution=5)
    page = render_map(grid=grid, boundaries=b, meta=meta)
    data = data_of(page)
    bd = data["boundaries"]
    assert len(bd["name"]) == len(raw) == 79
    shapes = decode_shapes(bd["shapes"], data["scale"])
    # Simplified outlines stay within the tolerance of the originals.
    for shape, original in zip(shapes, raw.geometry, strict=True):
        assert shapely.hausdorff_distance(shape, original) < 0.01
    # Labels sit on their unit (on the surface, not the centroid of a multipart unit).
    labels = shapely.points([lng for _, lng in bd["label"]], [lat for lat, _ in bd["label"]])
    assert shapely.contains(raw.geometry.values, labels).mean() > 0.95
    assert len(page) < 1_500_000


def test_dissolve_groups_same_polygons_as_one_conversion_per_group() -> None:
    from geo_risk.render.map_encode import _dissolve_groups, _wkb_array_to_shapely

    cells = np.sort(np.asarray(pa.array(h3v.wkb_to_cells(
        [shapely.to_wkb(shapely.box(30.0, 5.0, 30.4, 5.3))], RES)).flatten()).astype(np.uint64))
    rng = np.random.default_rng(3)
    counts = np.diff(np.r_[0, np.sort(rng.choice(np.arange(1, cells.size), 40, False)),
                           cells.size])
    counts = np.r_[counts, 1, 1]  # single cells too
    cells = np.r_[cells, cells[:2]]
    # The former per-group conversion, for reference.
    ends = np.cumsum(counts)
    parts, owners = [], []
    for gi, (s, e) in enumerate(zip(ends - counts, ends, strict=True)):
        polys = _wkb_array_to_shapely(h3v.cells_to_wkb_polygons(cells[s:e],
                                                                link_cells=bool(e - s > 1)))
        parts.append(polys)
        owners.append(np.full(len(polys), gi))
    want = shapely.normalize(np.concatenate(parts))
    owner = np.concatenate(owners)
    b = shapely.bounds(want)
    order = np.lexsort((b[:, 0], b[:, 1], owner))
    polygons, got_owner = _dissolve_groups(cells, counts)
    np.testing.assert_array_equal(got_owner, owner[order])
    assert shapely.equals_exact(polygons, want[order], tolerance=0).all()
